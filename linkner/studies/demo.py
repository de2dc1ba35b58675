"""The main job, end to end on embedded defaults: train → uncertainty → route → LLM → scores + figure.

It trains E-NER with the packaged MiniLM encoder on WNUT-17, predicts dev and test with uncertainty,
tunes the routing threshold on dev under a budget, links the routed test entities to the in-process
Qwen2.5-Coder-0.5B, and writes scores, a summary and a figure. The sizes are chosen so the whole
pipeline takes about ten minutes on two CPU cores; every size is a field of :class:`DemoConfig`, so
the same function runs the full-size experiment, and ``data`` takes any named dataset or file.

Why WNUT-17 by default: it ships in this repository's ``data/`` under CC-BY 4.0, so the main job runs
on a fresh clone with nothing beside it (CoNLL-2003 is research-use-only and must be fetched), and it
is the paper's showcase set: emerging, rare entities in noisy text, where a small local model is
unsure most often and an LLM has the most to add.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from linkner.configio import to_dict
from linkner.outputs import write_text_atomic


@dataclass
class DemoConfig:
    data: str = "wnut17"  # shipped in data/ (CC-BY 4.0); any named dataset or file works
    out: str = "results/demo"
    model: str = "ener"  # ener (evidential) or spanner
    encoder: str = "minilm"
    train_sentences: int | None = None  # None: the whole train split (WNUT-17: 3,394 sentences)
    dev_sentences: int | None = 500
    test_sentences: int | None = None  # None: the whole test split (WNUT-17: 1,287 sentences)
    epochs: int = 4
    lr: float = 1e-4
    uncertainty: str = "evidential"
    llm_backend: str = "llama-cpp"
    llm_model: str = "qwen2.5-coder-0.5b"
    max_routed: float = 0.1  # at most 10 % of the test entities go to the LLM
    # dev LLM calls spent tuning τ (and again on the candidate gate): fewer than linkner link's 200, to keep
    # the main job near ten minutes on two cores
    tune_max_calls: int = 100
    seed: int = 123123


def validate_demo(cfg: DemoConfig) -> None:
    """Everything the demo can check before it trains: types and ranges of every setting (through the
    configs it will build), the output folder, the encoder, the LLM model (an installed preset or a GGUF
    file) and the data's three splits. A typo in ``--llm-model`` or ``--max-routed`` must fail in a
    second, not after ten minutes of training."""
    from linkner.configio import check_fields
    from linkner.data.registry import DATASETS, load_split, locate
    from linkner.errors import ConfigError
    from linkner.link.config import LinkConfig, LLMConfig
    from linkner.link.preflight import check_llm_model
    from linkner.models.config import ModelConfig, TrainConfig
    from linkner.models.encoders import resolve
    from linkner.outputs import check_output_dir

    check_fields(cfg)
    ModelConfig(encoder=cfg.encoder, loss=cfg.model)
    TrainConfig(data=cfg.data, epochs=cfg.epochs, lr=cfg.lr, max_train_sentences=cfg.train_sentences,
                max_dev_sentences=cfg.dev_sentences, seed=cfg.seed)
    LinkConfig(threshold="0", uncertainty=cfg.uncertainty, max_routed=cfg.max_routed,
               llm=LLMConfig(backend=cfg.llm_backend, model=cfg.llm_model))
    if cfg.test_sentences is not None and cfg.test_sentences < 1:
        raise ConfigError("test_sentences must be at least 1 when set")
    check_output_dir(cfg.out, "--out")
    resolve(cfg.encoder)
    check_llm_model(cfg.llm_backend, cfg.llm_model)
    for split in ("train", "dev", "test"):
        if cfg.data in DATASETS:
            locate(cfg.data, split)  # the file is there; its content is checked as it is read
        else:
            load_split(cfg.data, split)


def run_demo(cfg: DemoConfig, say: Callable[[str], None] = print) -> dict:
    """Run the pipeline and return the summary (also written to ``out/summary.json``)."""
    from linkner.data.registry import load_split, subset
    from linkner.data.writers import write_jsonl
    from linkner.link.config import LinkConfig, LLMConfig
    from linkner.link.pipeline import run_link
    from linkner.models.config import ModelConfig, RunConfig, TrainConfig
    from linkner.models.predict import LocalModel
    from linkner.models.train import train as train_model
    from linkner.provenance import run_info
    from linkner.studies.figures import save_figure
    from linkner.studies.plots_misc import demo_summary

    validate_demo(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    uncertainty = cfg.uncertainty if cfg.model == "ener" or cfg.uncertainty != "evidential" else "confidence"

    t = time.perf_counter()
    n_train = "all" if cfg.train_sentences is None else cfg.train_sentences
    say(f"[1/4] training {cfg.model} ({cfg.encoder}) on {n_train} {cfg.data} train sentences, {cfg.epochs} epochs")
    run = RunConfig(
        model=ModelConfig(encoder=cfg.encoder, loss=cfg.model),
        train=TrainConfig(data=cfg.data, epochs=cfg.epochs, lr=cfg.lr, max_train_sentences=cfg.train_sentences,
                          max_dev_sentences=cfg.dev_sentences, seed=cfg.seed, out=str(out / "model"), progress=True),
    )
    train_metrics = train_model(run, log=say)
    timings["train_s"] = time.perf_counter() - t

    t = time.perf_counter()
    say("[2/4] predicting dev and test with uncertainty")
    model = LocalModel(out / "model")
    for split, n in (("dev", cfg.dev_sentences), ("test", cfg.test_sentences)):
        gold = subset(load_split(cfg.data, split), n, cfg.seed)
        write_jsonl(model.predict_sentences(gold, has_gold=True), out / f"{split}.pred.jsonl")
    timings["predict_s"] = time.perf_counter() - t

    t = time.perf_counter()
    say(f"[3/4] routing (τ tuned on dev, ≤ {cfg.max_routed:.0%} of entities) and linking to {cfg.llm_model}")
    link_cfg = LinkConfig(threshold="auto", dev_predictions=str(out / "dev.pred.jsonl"), uncertainty=uncertainty,
                          max_routed=cfg.max_routed, tune_max_calls=cfg.tune_max_calls, dataset=cfg.data, cache=str(out / "llm-answers.jsonl"),
                          llm=LLMConfig(backend=cfg.llm_backend, model=cfg.llm_model))
    result = run_link(out / "test.pred.jsonl", link_cfg, out / "link")
    timings["link_s"] = time.perf_counter() - t

    say("[4/4] scores and figure")
    m = result.metrics
    scores = m["scores"]
    summary = {
        "local_f1": scores["local"]["micro"]["f1"],
        "linkner_f1": scores["linkner"]["micro"]["f1"],
        "delta_f1": scores["delta_f1"],
        "llm_accuracy_on_routed": scores["llm_on_routed"],
        "tau": m["threshold"]["tau"],
        "routed": m["routing"]["routed"],
        "entities": m["routing"]["items"],
        "routed_fraction": m["routing"]["routed_fraction"],
        "llm_calls": m["llm_total_with_tuning"],
        "seconds_per_routed_entity": m["llm"]["seconds_per_routed_entity"],
        "delta_f1_ci95": scores.get("delta_f1_ci95"),
        "data": cfg.data,
        "dev_curve": m["threshold"]["tuning"]["curve"] if m["threshold"]["tuning"] else [],
        "best_dev_f1_during_training": train_metrics.get("best_dev_f1"),
        "timings": timings,
    }
    fig, plotted = demo_summary(summary)
    summary["figure"] = [str(p) for p in save_figure(fig, plotted, out, "demo")]
    doc = {"numbers": summary, "config": to_dict(cfg), "run": run_info()}
    write_text_atomic(out / "summary.json", json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return summary
