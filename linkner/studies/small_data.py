"""Small-data benchmark: does the *default* ``linkner train`` learn from a few hundred sentences?

For each shipped dataset (WNUT-17, WNUT-16: openly licensed, in ``data/``) and each training size
(seeded subsets of 200 and 1,000 sentences), two systems are trained on the same sentences and
early-stopped on the same seeded dev subset, then scored on the whole test split:

- ``linkner``: E-NER with MiniLM and every training default (epochs, learning rates, warm-up and
  patience planned by :mod:`linkner.models.schedule`), exactly what ``linkner train --data … --model ener``
  does;
- ``hf``: the Hugging Face token-classification baseline (:mod:`linkner.baselines.hf_tagger`, same
  MiniLM, linear BIO head, its own learning rate 1e-4) given the same minimum number of optimiser
  steps and the same patience rule, so neither system is starved of updates.

One seed per run (no confidence interval): the table shows whether the defaults learn at all and
land near the standard recipe, not a fine-grained ranking. Each run writes
``<out>/<dataset>-<size>-<system>.json``; ``summary.json`` gathers them with the config, versions and
machine. A run whose JSON exists is not repeated, so an interrupted benchmark resumes::

    python -m linkner.studies.small_data --out results/small_data --threads 2
    python -m linkner.studies.readme --write      # the README table comes from summary.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from linkner.models.config import TrainConfig

SYSTEMS = ("linkner", "hf")
SYSTEM_NAMES = {"linkner": "linkner train (E-NER, defaults)", "hf": "HF token classification"}


@dataclass
class SmallDataConfig:
    datasets: list[str] = field(default_factory=lambda: ["wnut17", "wnut16"])
    sizes: list[int] = field(default_factory=lambda: [200, 1000])
    dev_sentences: int | None = 500  # seeded dev subset used for early stopping by both systems
    test_sentences: int | None = None  # None: the whole test split
    encoder: str = "minilm"
    seed: int = 123123
    threads: int | None = 2
    out: str = "results/small_data"  # JSON results (committed)
    runs_dir: str = "runs/small_data"  # checkpoints (not committed)
    # Smoke runs only: fixed epochs for both systems (None: each system's own defaults/plan).
    epochs: int | None = None


def run_name(dataset: str, size: int, system: str) -> str:
    return f"{dataset}-{size}-{system}"


def _score(gold: list, preds: list) -> dict:
    from linkner.metrics import evaluate

    m = evaluate(gold, preds).micro
    return {"precision": m.precision, "recall": m.recall, "f1": m.f1}


def _train_linkner(cfg: SmallDataConfig, dataset: str, size: int, ckpt: Path, test: list, say: Callable) -> dict:
    from linkner.models.config import ModelConfig, RunConfig
    from linkner.models.predict import load
    from linkner.models.train import train

    run = RunConfig(model=ModelConfig(encoder=cfg.encoder, loss="ener"),
                    train=TrainConfig(data=dataset, max_train_sentences=size, max_dev_sentences=cfg.dev_sentences,
                                      seed=cfg.seed, threads=cfg.threads, out=str(ckpt), progress=False, epochs=cfg.epochs))
    metrics = train(run, log=say)
    t = time.perf_counter()
    preds = load(ckpt).predict_sentences(test)
    keep = ("best_dev_f1", "best_epoch", "epochs_run", "early_stopped", "train_sentences", "dev_sentences", "schedule",
            "zero_f1", "train_seconds_per_epoch", "seconds_per_epoch")
    return {"training": {k: metrics.get(k) for k in keep}, "test": _score(test, preds),
            "test_seconds": time.perf_counter() - t, "config": metrics["config"]}


def _train_hf(cfg: SmallDataConfig, dataset: str, size: int, ckpt: Path, test: list, say: Callable) -> dict:
    from linkner.baselines import hf_tagger

    hcfg = hf_tagger.HFTaggerConfig(data=dataset, encoder=cfg.encoder, out=str(ckpt), max_train_sentences=size,
                                    max_dev_sentences=cfg.dev_sentences, seed=cfg.seed, threads=cfg.threads,
                                    min_steps=0 if cfg.epochs else TrainConfig().min_steps,
                                    epoch_cap=TrainConfig().epoch_cap, dev_evals=TrainConfig().dev_evals)
    if cfg.epochs:
        hcfg.epochs = cfg.epochs
    metrics = hf_tagger.train(hcfg, log=say)
    t = time.perf_counter()
    model, tok = hf_tagger.load(ckpt)
    preds = hf_tagger.predict(model, tok, test, hcfg.eval_batch_size)
    keep = ("best_dev_f1", "best_epoch", "epochs_run", "train_sentences", "dev_sentences", "schedule",
            "train_seconds_per_epoch", "seconds_per_epoch")
    return {"training": {k: metrics.get(k) for k in keep}, "test": _score(test, preds),
            "test_seconds": time.perf_counter() - t, "config": asdict(hcfg)}


def run_one(cfg: SmallDataConfig, dataset: str, size: int, system: str, test: list, say: Callable = print) -> dict:
    """Train one system on one subset, score it on ``test``, write and return its result JSON."""
    import torch

    out = Path(cfg.out) / f"{run_name(dataset, size, system)}.json"
    if out.is_file():
        say(f"{out} exists: kept")
        return json.loads(out.read_text(encoding="utf-8"))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ckpt = Path(cfg.runs_dir) / run_name(dataset, size, system)
    say(f"== {run_name(dataset, size, system)} → {ckpt}")
    t = time.perf_counter()
    body = (_train_linkner if system == "linkner" else _train_hf)(cfg, dataset, size, ckpt, test, say)
    from linkner.provenance import run_info

    result = {"system": system, "dataset": dataset, "train_sentences": size, "test_sentences": len(test),
              "seed": cfg.seed, **body, "wall_seconds": time.perf_counter() - t, "run": run_info()}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    return result


def run_benchmark(cfg: SmallDataConfig, say: Callable = print) -> dict:
    """All datasets × sizes × systems; returns (and writes) ``summary.json``."""
    from linkner.data.registry import load_split, subset
    from linkner.provenance import run_info

    rows = []
    for dataset in cfg.datasets:
        test = subset(load_split(dataset, "test"), cfg.test_sentences, cfg.seed)
        for size in cfg.sizes:
            for system in SYSTEMS:
                r = run_one(cfg, dataset, size, system, test, say)
                tr = r["training"]
                rows.append({"dataset": dataset, "train_sentences": size, "system": system, "test_f1": r["test"]["f1"],
                             "test_precision": r["test"]["precision"], "test_recall": r["test"]["recall"],
                             "best_dev_f1": tr["best_dev_f1"], "epochs_run": tr["epochs_run"],
                             "planned_epochs": (tr.get("schedule") or {}).get("epochs"),
                             "steps_per_epoch": (tr.get("schedule") or {}).get("steps_per_epoch"),
                             "lr": (tr.get("schedule") or {}).get("lr"), "head_lr": (tr.get("schedule") or {}).get("head_lr"),
                             "wall_seconds": r["wall_seconds"]})
                say(f"{run_name(dataset, size, system)}: test F1 {r['test']['f1']:.4f} (dev {tr['best_dev_f1']:.4f}, "
                    f"{tr['epochs_run']} epochs, {r['wall_seconds']:.0f}s)")
    summary = {"config": asdict(cfg), "train_defaults": asdict(TrainConfig()), "rows": rows, "comparisons": compare(rows),
               "seeds": 1, "note": ("one seed per run; dev = a seeded subset of the dev split used for early stopping by "
                                    "both systems; test = the whole test split"), "run": run_info()}
    path = Path(cfg.out) / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def compare(rows: list[dict]) -> list[dict]:
    """Per dataset and size: linkner's test F1 minus the HF baseline's, and whether it is at least as high."""
    by = {(r["dataset"], r["train_sentences"], r["system"]): r for r in rows}
    out = []
    for (ds, n, system), r in by.items():
        if system != "linkner" or (ds, n, "hf") not in by:
            continue
        delta = r["test_f1"] - by[(ds, n, "hf")]["test_f1"]
        out.append({"dataset": ds, "train_sentences": n, "delta_f1": delta, "linkner_at_least_hf": delta >= 0})
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m linkner.studies.small_data", description=__doc__.split("\n\n")[0])
    d = SmallDataConfig()
    ap.add_argument("--out", default=d.out)
    ap.add_argument("--runs-dir", default=d.runs_dir)
    ap.add_argument("--datasets", nargs="+", default=d.datasets)
    ap.add_argument("--sizes", nargs="+", type=int, default=d.sizes)
    ap.add_argument("--dev-sentences", type=int, default=d.dev_sentences)
    ap.add_argument("--test-sentences", type=int, default=d.test_sentences)
    ap.add_argument("--threads", type=int, default=d.threads)
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--epochs", type=int, default=None, help="smoke runs only: fixed epochs for both systems")
    a = ap.parse_args(argv)
    cfg = SmallDataConfig(datasets=a.datasets, sizes=a.sizes, dev_sentences=a.dev_sentences, test_sentences=a.test_sentences,
                          encoder=d.encoder, seed=a.seed, threads=a.threads, out=a.out, runs_dir=a.runs_dir, epochs=a.epochs)
    summary = run_benchmark(cfg)
    for c in summary["comparisons"]:
        print(f"{c['dataset']} {c['train_sentences']}: linkner − HF = {100 * c['delta_f1']:+.2f} F1")


if __name__ == "__main__":
    main()
