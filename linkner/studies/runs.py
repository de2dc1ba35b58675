"""Producing the results the studies read: the smoke profile's tiny end-to-end run, and the full re-run.

Both use the same functions with different :class:`Sizes`, so the path CI exercises (smoke) is the path
that produced the committed results (full), only smaller:

* :func:`ensure_local`: train (or reuse) each local model, evaluate it on its test sets with uncertainty,
  and write metrics, risk–coverage curves and OOD AUROC → ``<root>/local/{train}-{model}/`` (predictions
  → :func:`pred_dir`, laid out as ``scripts/real_runs.sh`` does);
* :func:`ensure_links`: link those predictions to an LLM → ``<root>/link/{train}-{model}/{run}/``.

Everything already present is reused (files are the checkpoints of this pipeline), so notebooks that
share the smoke run pay for it once. The full profile never calls these unless its ``RERUN`` flag is set.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from linkner.studies.layout import EVALSETS, local_dir, system_name

Say = Callable[[str], None]


@dataclass(frozen=True)
class Sizes:
    """How big a profile's runs are (``None``: the whole split)."""

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
FULL = Sizes()


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
    from linkner.data.writers import write_jsonl
    from linkner.train import load_split, subset

    if n is None:
        return data
    path = root / "data" / f"{data}-{split}-{n}.jsonl"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(subset(load_split(data, split), n, seed), path)
    return str(path)


def checkpoint_dir(root: Path, train: str, model: str, sizes: Sizes, runs_dir: str | Path = "runs") -> Path:
    """Smoke checkpoints live under ``<root>/models``; full ones are the lead's ``runs/{train}-{model}-minilm``."""
    if sizes.train_sentences is not None:
        return root / "models" / system_name(train, model)
    return Path(runs_dir) / f"{system_name(train, model)}-minilm"


def train_system(ckpt: Path, train: str, model: str, sizes: Sizes, say: Say = print) -> Path:
    """Train unless ``ckpt`` already holds a finished run (its ``train_metrics.json``)."""
    if (ckpt / "train_metrics.json").is_file():
        return ckpt
    from linkner.config import ModelConfig, RunConfig, TrainConfig
    from linkner.train import train as train_model

    say(f"training {system_name(train, model)} → {ckpt}")
    run = RunConfig(model=ModelConfig(encoder="minilm", loss=model),
                    train=TrainConfig(data=train, epochs=sizes.epochs, batch_size=sizes.batch_size, lr=sizes.lr, head_lr=sizes.head_lr,
                                      max_train_sentences=sizes.train_sentences, max_dev_sentences=sizes.dev_sentences,
                                      seed=sizes.seed, out=str(ckpt), progress=False))
    train_model(run)
    return ckpt


def pred_dir(root: Path, train: str, model: str, sizes: Sizes, runs_dir: str | Path = "runs") -> Path:
    """Predictions (large, not committed): ``<root>/preds/…`` for smoke, ``runs/preds/…`` for full, as
    ``scripts/real_runs.sh`` lays them out (``{test set}.test.jsonl``, ``dev.jsonl``)."""
    base = root / "preds" if sizes.train_sentences is not None else Path(runs_dir) / "preds"
    return base / system_name(train, model)


def evaluate_system(root: Path, ckpt: Path, train: str, model: str, sizes: Sizes, say: Say = print,
                    runs_dir: str | Path = "runs") -> Path:
    """Write ``train.json``, ``{evalset}.json``, ``risk_coverage.json``, ``ood_auroc.json`` (and the predictions)."""
    from linkner.data.writers import write_jsonl
    from linkner.evaluation import evaluate_checkpoint
    from linkner.predict import LocalModel
    from linkner.studies.ood import write_extras
    from linkner.train import load_split, subset

    out = local_dir(root, train, model)
    preds_out = pred_dir(root, train, model, sizes, runs_dir)
    out.mkdir(parents=True, exist_ok=True)
    preds_out.mkdir(parents=True, exist_ok=True)
    if not (out / "train.json").is_file():
        shutil.copyfile(ckpt / "train_metrics.json", out / "train.json")
    lm = None
    fresh = False
    for ev in EVALSETS[train]:
        if (out / f"{ev}.json").is_file() and (preds_out / f"{ev}.test.jsonl").is_file():
            continue
        fresh = True
        lm = lm or LocalModel(ckpt)
        say(f"evaluating {system_name(train, model)} on {ev} (MC dropout T={sizes.mc_samples})")
        data = _subset_file(root, ev, "test", sizes.test_sentences, sizes.seed)
        metrics, preds = evaluate_checkpoint(lm, data, "test", out=out / f"{ev}.json", mc_samples=sizes.mc_samples)
        if data != ev:  # a subset file: record which named set it came from
            metrics["data"] = ev
            metrics["subset"] = {"file": data, "sentences": sizes.test_sentences, "seed": sizes.seed}
            (out / f"{ev}.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        write_jsonl(preds, preds_out / f"{ev}.test.jsonl")
    if not (preds_out / "dev.jsonl").is_file():
        lm = lm or LocalModel(ckpt)
        gold = subset(load_split(train, "dev"), sizes.link_dev_sentences, sizes.seed)
        write_jsonl(lm.predict_sentences(gold, mc_samples=sizes.mc_samples, has_gold=True), preds_out / "dev.jsonl")
    if fresh or not (out / "risk_coverage.json").is_file():
        write_extras(preds_out, out, train, say)
    return out


def ensure_local(root: str | Path, sizes: Sizes = SMOKE, runs_dir: str | Path = "runs", say: Say = print) -> None:
    """Train (where needed) and evaluate every system of ``sizes``; reuse whatever exists."""
    root = Path(root)
    for train, model in sizes.systems:
        ckpt = train_system(checkpoint_dir(root, train, model, sizes, runs_dir), train, model, sizes, say)
        evaluate_system(root, ckpt, train, model, sizes, say, runs_dir)


@dataclass(frozen=True)
class LinkSpec:
    train: str
    model: str
    evalset: str
    protocol: str = "honest"
    shots: int = 0
    retrieve: bool = False
    sweep: bool = False  # an in-context sweep run (fixed routed set) rather than a main (τ tuned on dev) run

    @property
    def name(self) -> str:
        suffix = f"-icl{self.shots}" + (("-retrieved" if self.retrieve else "-random") if self.shots else "") if self.sweep else ""
        return f"{self.evalset}-{self.protocol}-{{llm}}{suffix}"


def main_specs(sizes: Sizes) -> list[LinkSpec]:
    """Zero-shot runs, τ tuned on dev: every system × test set × protocol (smoke: a few on its train set)."""
    if sizes is SMOKE or sizes.test_sentences is not None:
        t = sizes.systems[0][0]
        shifted = [LinkSpec(t, "ener", "conll03-oov", "honest")] if t == "conll03" else []
        return [LinkSpec(t, "ener", t, "honest"), LinkSpec(t, "ener", t, "paper"), *shifted, LinkSpec(t, "spanner", t, "honest")]
    return [LinkSpec(t, m, ev, p) for t, m in sizes.systems for ev in EVALSETS[t] for p in ("honest", "paper")]


def icl_specs(sizes: Sizes, train: str | None = None, model: str = "ener", evalset: str | None = None) -> list[LinkSpec]:
    """The in-context sweep: 0 shots, then k shots random and retrieved, on one fixed routed set
    (default: the first system's train set, tested on itself; CoNLL-2003 in the full profile)."""
    train = train or sizes.systems[0][0]
    evalset = evalset or train
    out = [LinkSpec(train, model, evalset, "honest", 0, False, True)]
    for k in sizes.shots:
        if k:
            out += [LinkSpec(train, model, evalset, "honest", k, False, True), LinkSpec(train, model, evalset, "honest", k, True, True)]
    return out


def _n_ctx(spec: LinkSpec, sizes: Sizes) -> int:
    """The context window of a run. Only 5+ retrieved shots per type need the long one; every other
    run keeps the default, because ``n_ctx`` is part of the answer-cache key and the committed
    answers were made with it."""
    return sizes.llm_n_ctx_long if spec.retrieve and spec.shots >= 5 else sizes.llm_n_ctx


def link_one(root: Path, spec: LinkSpec, sizes: Sizes, say: Say = print, runs_dir: str | Path = "runs") -> Path:
    """Run one link spec unless its ``metrics.json`` exists; return the run folder."""
    from linkner.link.config import LinkConfig, LLMConfig
    from linkner.link.pipeline import run_link

    src = pred_dir(root, spec.train, spec.model, sizes, runs_dir)
    out = root / "link" / system_name(spec.train, spec.model) / spec.name.format(llm=sizes.llm)
    if (out / "metrics.json").is_file():
        return out
    demos = _subset_file(root, spec.train, "train", sizes.demo_sentences, sizes.seed) if spec.shots else None
    common = dict(uncertainty="evidential" if spec.model == "ener" else "confidence", dataset=spec.train, protocol=spec.protocol,
                  shots=spec.shots, demos_from=demos, retrieve=spec.retrieve, seed=13, cache=str(root / "llm-answers.jsonl"),
                  llm=LLMConfig(backend="llama-cpp", model=sizes.llm, n_threads=sizes.llm_threads, n_ctx=_n_ctx(spec, sizes)))
    if spec.sweep:
        cfg = LinkConfig(threshold="0", max_routed=sizes.icl_max_routed, max_calls=sizes.icl_max_calls, **common)
    else:
        cfg = LinkConfig(threshold="auto", dev_predictions=str(src / "dev.jsonl"), max_routed=sizes.max_routed,
                         max_calls=sizes.max_calls, tune_max_calls=sizes.tune_max_calls, **common)
    say(f"linking {out.relative_to(root)} ({sizes.llm})")
    run_link(src / f"{spec.evalset}.test.jsonl", cfg, out)
    return out


def ensure_links(root: str | Path, sizes: Sizes = SMOKE, which: str = "main", say: Say = print,
                 runs_dir: str | Path = "runs") -> list[Path]:
    """Run the ``main`` (τ tuned on dev) or ``in_context`` link specs whose inputs exist; reuse finished ones."""
    root = Path(root)
    specs = main_specs(sizes) if which == "main" else icl_specs(sizes)
    done = []
    for spec in specs:
        src = pred_dir(root, spec.train, spec.model, sizes, runs_dir)
        if not (src / f"{spec.evalset}.test.jsonl").is_file() or not (src / "dev.jsonl").is_file():
            say(f"skipped {spec.name.format(llm=sizes.llm)}: no predictions in {src}")
            continue
        done.append(link_one(root, spec, sizes, say, runs_dir))
    return done


def smoke_sizes(**changes) -> Sizes:
    """The smoke sizes with some fields changed (tests, experiments)."""
    return replace(SMOKE, **changes)
