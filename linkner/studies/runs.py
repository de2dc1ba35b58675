"""Producing the results the studies read: the smoke profile's tiny end-to-end run, and the full re-run.

Both execute run-list entries (:class:`~linkner.studies.runlist.SystemRun`,
:class:`~linkner.studies.runlist.LinkRun`) with the same functions: the full profile the committed list
itself (:mod:`linkner.studies.runlist`), the smoke profile entries built from its tiny :class:`Sizes`. So
the path CI exercises (smoke) is the path that produced the committed results (full), only smaller:

* :func:`ensure_local`: train (or reuse) each local model, evaluate it on its test sets with uncertainty,
  and write metrics, risk–coverage curves and OOD AUROC → ``<root>/local/{train}-{model}/`` (predictions
  → :func:`pred_dir`, {test set}.test.jsonl and dev.jsonl);
* :func:`ensure_links`: link those predictions to an LLM → ``<root>/link/{train}-{model}/{run}/``.

Everything already present is reused (files are the checkpoints of this pipeline), so notebooks that
share the smoke run pay for it once. The full profile never calls these unless its ``RERUN`` flag is set.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from linkner.studies.layout import EVALSETS, local_dir
from linkner.studies.runlist import COMMANDS, LINKS, SYSTEMS, LinkRun, SystemRun

Say = Callable[[str], None]


@dataclass(frozen=True)
class Sizes:
    """How big the smoke profile's runs are (``None``: the whole split); :func:`smoke_runs` turns them into
    run-list entries. The full profile does not read sizes: it executes :mod:`linkner.studies.runlist`."""

    train_sentences: int | None = None
    dev_sentences: int | None = None  # training-time dev (early stopping)
    test_sentences: int | None = None
    link_dev_sentences: int | None = None  # dev predictions τ is tuned on
    epochs: int = 6
    batch_size: int = 32
    lr: float = 1e-4
    head_lr: float = 3e-4
    mc_samples: int = 10
    systems: tuple[tuple[str, str], ...] = (("conll03", "spanner"), ("conll03", "ener"), ("wnut17", "spanner"), ("wnut17", "ener"))
    llm: str = "qwen2.5-coder-1.5b"
    llm_threads: int | None = None
    llm_n_ctx: int = 2048  # context window of every link run …
    llm_n_ctx_long: int = 4096  # … except retrieved demonstrations with 5+ shots per type (prompts reach ~2,200 tokens)
    max_calls: int | None = None  # per link run (smoke: a handful of LLM calls)
    tune_max_calls: int | None = 200  # dev LLM calls for tuning τ, and again for the candidate gate (LinkConfig's default)
    max_routed: float | None = None
    icl_max_routed: float | None = None  # in-context sweep: a fixed routed set across shots, as a fraction …
    icl_max_calls: int | None = 100  # … or the N most uncertain test entities
    shots: tuple[int, ...] = (0, 1, 3, 5)
    demo_sentences: int | None = None  # demonstration pool (None: the train split)
    seed: int = 123123


SMOKE = Sizes(train_sentences=150, dev_sentences=30, test_sentences=30, link_dev_sentences=30, epochs=1, batch_size=8,
              lr=3e-4, head_lr=3e-3, mc_samples=3, systems=(("conll03", "spanner"), ("conll03", "ener")), llm="smollm2-135m", llm_threads=1,
              max_calls=3, tune_max_calls=20, icl_max_calls=3, shots=(0, 1), demo_sentences=150)
FULL = Sizes()  # a marker: the full profile executes the run list (runlist.py), whose entries carry their own settings


def smoke_train_set() -> str:
    """The smoke profile's training set: ``conll03`` where every CoNLL set its systems are trained and
    evaluated on is found, else ``wnut17``, which ships in ``data/``, so that the notebooks run on a
    fresh clone. With ``LINKNER_STRICT_DATA=1`` (CI, where the data is provided) a missing CoNLL set is an
    error instead, so the CoNLL smoke run cannot silently turn into the WNUT-17 one."""
    from linkner.data.registry import STRICT_DATA_ENV, available, how_to_get, spec, strict_data
    from linkner.errors import DataError

    needed = {"conll03": None, **{ev: ("test",) for ev in EVALSETS["conll03"]}}
    missing = [name for name, splits in needed.items() if not available(name, splits)]
    if not missing:
        return "conll03"
    if strict_data():
        name = missing[0]
        split = next(sp for sp in (needed[name] or spec(name).splits) if not available(name, (sp,)))
        raise DataError(f"smoke profile: {', '.join(missing)} not found and {STRICT_DATA_ENV} is set; {how_to_get(name, split)}")
    return "wnut17"


def smoke_profile() -> Sizes:
    """:data:`SMOKE` (CoNLL systems) where CoNLL-2003 is here, else the same sizes on WNUT-17 systems."""
    train = smoke_train_set()
    return SMOKE if train == "conll03" else replace(SMOKE, systems=((train, "spanner"), (train, "ener")))


def profile_paths(profile: str) -> tuple[Path, Path, Sizes]:
    """(results root, figures dir, sizes) of a notebook profile."""
    if profile == "smoke":
        return Path("results/smoke"), Path("figures/smoke"), smoke_profile()
    if profile == "full":
        return Path("results"), Path("figures"), FULL
    raise ValueError(f"PROFILE must be 'smoke' or 'full', not {profile!r}")


def _subset_file(root: Path, data: str, split: str, n: int | None, seed: int) -> str:
    """A dataset name (whole split) or a seeded subset written as JSONL under ``<root>/data``."""
    from linkner.data.registry import load_split, subset
    from linkner.data.writers import write_jsonl

    if n is None:
        return data
    path = root / "data" / f"{data}-{split}-{n}.jsonl"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(subset(load_split(data, split), n, seed), path)
    return str(path)


def smoke_runs(sizes: Sizes) -> tuple[list[SystemRun], list[LinkRun], list[LinkRun]]:
    """The smoke profile's systems, main (τ tuned on dev) link runs and in-context sweep, as run-list entries."""
    systems = [SystemRun(t, m, epochs=sizes.epochs, threads=None, mc_samples=sizes.mc_samples, link_dev=sizes.link_dev_sentences,
                         lr=sizes.lr, head_lr=sizes.head_lr, batch_size=sizes.batch_size, seed=sizes.seed,
                         train_sentences=sizes.train_sentences, dev_sentences=sizes.dev_sentences,
                         test_sentences=sizes.test_sentences) for t, m in sizes.systems]
    common = dict(llm=sizes.llm, llm_threads=sizes.llm_threads, n_ctx=sizes.llm_n_ctx)
    t = sizes.systems[0][0]
    shifted = [("ener", "conll03-oov", "honest")] if t == "conll03" else []
    main = [LinkRun(t, m, ev, p, max_calls=sizes.max_calls, max_routed=sizes.max_routed,
                    tune_max_calls=sizes.tune_max_calls, **common)
            for m, ev, p in [("ener", t, "honest"), ("ener", t, "paper"), *shifted, ("spanner", t, "honest")]]
    # the ablation (notebook 05): the first honest run with letter keys, without candidates, with the paper's rule
    main += [replace(main[0], variant="-letters", option_keys="letters"), replace(main[0], variant="-nocand", candidates="none"),
             replace(main[0], variant="-replace", decision="replace")]
    sweep = [LinkRun(t, "ener", t, variant="-icl0", threshold="0", max_calls=sizes.icl_max_calls, **common)]
    sweep += [LinkRun(t, "ener", t, variant=f"-icl{k}-{'retrieved' if r else 'random'}", threshold="0", shots=k, retrieve=r,
                      max_calls=sizes.icl_max_calls, demo_sentences=sizes.demo_sentences,
                      **{**common, "n_ctx": sizes.llm_n_ctx_long if (r and k >= 5) else sizes.llm_n_ctx})
              for k in sizes.shots if k for r in (False, True)]
    return systems, main, sweep


def profile_runs(sizes: Sizes) -> tuple[list[SystemRun], list[LinkRun], list[LinkRun]]:
    """The full profile is the committed run list (:mod:`linkner.studies.runlist`); the smoke one is built
    from its sizes. Either way the same functions below execute it."""
    if sizes is FULL:
        return list(SYSTEMS), [r for r in LINKS if not r.sweep], [r for r in LINKS if r.sweep]
    return smoke_runs(sizes)


def checkpoint_dir(root: Path, run: SystemRun, runs_dir: str | Path = "runs") -> Path:
    """Smoke checkpoints live under ``<root>/models``; full ones in ``runs/{train}-{model}-minilm``."""
    return root / "models" / run.name if run.smoke else Path(runs_dir) / f"{run.name}-minilm"


def pred_dir(root: Path, system: str, smoke: bool, runs_dir: str | Path = "runs") -> Path:
    """Predictions (large, not committed) of a system (its :attr:`SystemRun.name`): ``<root>/preds/…`` for
    smoke, ``runs/preds/…`` for full (``{test set}.test.jsonl``, ``dev.jsonl``)."""
    return (root / "preds" if smoke else Path(runs_dir) / "preds") / system


def train_system(root: Path, run: SystemRun, say: Say = print, runs_dir: str | Path = "runs") -> Path:
    """Train unless the checkpoint already holds a finished run (its ``train_metrics.json``)."""
    ckpt = checkpoint_dir(root, run, runs_dir)
    if (ckpt / "train_metrics.json").is_file():
        return ckpt
    from linkner.models.config import ModelConfig, RunConfig, TrainConfig
    from linkner.models.train import train as train_model

    say(f"training {run.name} → {ckpt}")
    threads = {} if run.threads is None else {"threads": run.threads}
    cfg = RunConfig(model=ModelConfig(encoder="minilm", loss=run.model),
                    train=TrainConfig(data=run.train, epochs=run.epochs, patience=run.patience, batch_size=run.batch_size,
                                      lr=run.lr, head_lr=run.head_lr, max_train_sentences=run.train_sentences,
                                      max_dev_sentences=run.dev_sentences, seed=run.seed, out=str(ckpt), progress=False,
                                      **threads))
    train_model(cfg)
    return ckpt


def evaluate_system(root: Path, ckpt: Path, run: SystemRun, say: Say = print, runs_dir: str | Path = "runs") -> Path:
    """Write ``train.json``, ``{evalset}.json``, ``risk_coverage.json``, ``ood_auroc.json`` (and the predictions)."""
    from linkner.data.registry import load_split, subset
    from linkner.data.writers import write_jsonl
    from linkner.evaluation import evaluate_checkpoint
    from linkner.models.predict import LocalModel
    from linkner.studies.ood import write_extras

    out = local_dir(root, run.train, run.model, run.tag)
    preds_out = pred_dir(root, run.name, run.smoke, runs_dir)
    out.mkdir(parents=True, exist_ok=True)
    preds_out.mkdir(parents=True, exist_ok=True)
    # always the checkpoint's own record: a retrained system must not keep its predecessor's train.json
    shutil.copyfile(ckpt / "train_metrics.json", out / "train.json")
    lm = None
    fresh = False
    for ev in EVALSETS[run.train]:
        if (out / f"{ev}.json").is_file() and (preds_out / f"{ev}.test.jsonl").is_file():
            continue
        fresh = True
        lm = lm or LocalModel(ckpt)
        say(f"evaluating {run.name} on {ev} (MC dropout T={run.mc_samples})")
        data = _subset_file(root, ev, "test", run.test_sentences, run.seed)
        metrics, preds = evaluate_checkpoint(lm, data, "test", out=out / f"{ev}.json", mc_samples=run.mc_samples,
                                             mc_seed=run.mc_seed)
        if data != ev:  # a subset file: record which named set it came from
            metrics["data"] = ev
            metrics["subset"] = {"file": data, "sentences": run.test_sentences, "seed": run.seed}
            (out / f"{ev}.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        write_jsonl(preds, preds_out / f"{ev}.test.jsonl")
    if not (preds_out / "dev.jsonl").is_file():
        lm = lm or LocalModel(ckpt)
        gold = subset(load_split(run.train, "dev"), run.link_dev, run.seed)
        write_jsonl(lm.predict_sentences(gold, mc_samples=run.mc_samples, has_gold=True, mc_seed=run.mc_seed),
                    preds_out / "dev.jsonl")
    if fresh or not (out / "risk_coverage.json").is_file():
        write_extras(preds_out, out, run.train, say)
    return out


def ensure_local(root: str | Path, sizes: Sizes = SMOKE, runs_dir: str | Path = "runs", say: Say = print) -> None:
    """Train (where needed) and evaluate every system of the profile; reuse whatever exists."""
    root = Path(root)
    for run in profile_runs(sizes)[0]:
        evaluate_system(root, train_system(root, run, say, runs_dir), run, say, runs_dir)


def link_one(root: Path, run: LinkRun, system: SystemRun, say: Say = print, runs_dir: str | Path = "runs") -> Path:
    """Run one link run unless its ``metrics.json`` exists; return the run folder."""
    from linkner.link.pipeline import run_link

    src = pred_dir(root, run.system, system.smoke, runs_dir)
    out = root / "link" / run.system / run.folder
    if (out / "metrics.json").is_file():
        return out
    demos = _subset_file(root, run.train, "train", run.demo_sentences, system.seed) if run.shots else None
    cfg = run.link_config(str(src / "dev.jsonl"), str(root / (run.cache or "llm-answers.jsonl")), demos)
    say(f"linking {out.relative_to(root)} ({run.llm})")
    run_link(src / f"{run.evalset}.test.jsonl", cfg, out)
    return out


def ensure_links(root: str | Path, sizes: Sizes = SMOKE, which: str = "main", say: Say = print,
                 runs_dir: str | Path = "runs") -> list[Path]:
    """Run the profile's ``main`` (τ tuned on dev) or ``in_context`` link runs whose inputs exist; reuse finished ones."""
    root = Path(root)
    systems, main, sweep = profile_runs(sizes)
    by_name = {s.name: s for s in systems}
    done = []
    for run in main if which == "main" else sweep:
        system = by_name[run.system]
        src = pred_dir(root, run.system, system.smoke, runs_dir)
        if not (src / f"{run.evalset}.test.jsonl").is_file() or not (src / "dev.jsonl").is_file():
            say(f"skipped {run.name}: no predictions in {src}")
            continue
        done.append(link_one(root, run, system, say, runs_dir))
    return done


def smoke_sizes(**changes) -> Sizes:
    """The smoke sizes with some fields changed (tests, experiments)."""
    return replace(SMOKE, **changes)


# ----------------------------------------------------------------------- the runner's command line
def select(patterns: list[str]) -> tuple[list[SystemRun], list[LinkRun]]:
    """The systems and link runs whose names match any glob (``wnut17-ener``, ``conll03-ener/*-paper-*``)."""
    def hit(name: str) -> bool:
        return any(fnmatch.fnmatch(name, p) for p in patterns)

    return [s for s in SYSTEMS if hit(s.name)], [r for r in LINKS if hit(r.name) or hit(r.system)]


def recompute_studies(root: str | Path = "results") -> None:
    """Every study JSON under ``<root>/studies`` from ``<root>/local`` and ``<root>/link``."""
    from linkner.studies import linking, local, paper

    for fn in (local.run_local_models, local.run_uncertainty, linking.run_threshold, linking.run_linking,
               linking.run_ablation, linking.run_in_context, linking.run_cost, paper.run_paper_vs_ours):
        fn(root)


def main(argv: list[str]) -> int:
    """``list`` | ``run NAME|GLOB …`` | ``studies``."""
    if not argv or argv[0] not in ("list", "run", "studies"):
        print("usage: python -m linkner.studies.runs list | run NAME|GLOB ... | studies", file=sys.stderr)
        return 2
    if argv[0] == "list":
        for s in SYSTEMS:
            print(f"system {s.name:<18} epochs {s.epochs:>2}  {s.produced_by or 'today'}  {s.note}")
        for r in LINKS:
            print(f"link   {r.name:<58} {r.decision:<7} {r.produced_by or 'today'}  {r.note}")
        for c in COMMANDS:
            print(f"files  {', '.join(c.paths)}: {c.command}")
        return 0
    if argv[0] == "studies":
        recompute_studies()
        return 0
    systems, links = select(argv[1:])
    if not systems and not links:
        print(f"error: no run matches {' '.join(argv[1:])} (see: python -m linkner.studies.runs list)", file=sys.stderr)
        return 2
    root = Path("results")
    for s in systems:
        evaluate_system(root, train_system(root, s), s)
    by_name = {s.name: s for s in SYSTEMS}
    for r in links:
        link_one(root, r, by_name[r.system])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
