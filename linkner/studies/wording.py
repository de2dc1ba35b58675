"""The question-wording study: can a shorter question make each LLM call cheaper without losing accuracy?

An in-process answer costs the prompt tokens evaluated after the reused system message (the marked
sentence and the question) at the machine's prompt-evaluation rate, so fewer tokens is the lever for
seconds per routed entity that the prompt controls. This study asks one run's dev questions (the
most uncertain dev entities its tuning asks, candidates off) in each wording of
:data:`linkner.link.options.QUESTIONS` and records, per wording, how often the LLM alone and the fused
decision (w fitted on these answers, as tuning does) are right, the dev ΔF1 tuning then certifies (or that
it routes none), and the tokens and seconds each answer cost. The differences in accuracy from the ``full`` wording carry a
95 % paired-bootstrap interval over the same questions. Dev only: nothing here reads a test set's gold.

Answers come from (and go to) the study's own cache, ``results/wording/llm-answers.jsonl``: a rerun
with it beside the dev predictions asks nothing; their seconds are those of the calls that made them.

``python -m linkner.studies.wording`` writes ``results/wording/question_wording.json`` (needs the run's
dev predictions under ``runs/preds/``, which are not committed: train the system first).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from linkner.link.decision import LABEL, REJECT

RUN = "conll03-spanner/conll03-honest-qwen2.5-coder-1.5b"  # the run whose dev questions are asked
RESAMPLES, SEED = 1000, 13


def _label(decision, local_label: str) -> str:
    """What a (fused) decision makes of the span: its label, ``O`` when rejected, else the local label."""
    if decision.kind == LABEL:
        return decision.label
    return "O" if decision.kind == REJECT else local_label


def paired_accuracy(a: np.ndarray, b: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """Accuracy of ``b`` minus that of ``a`` (0/1 per question, the same questions) with its 95 % percentile
    interval over ``resamples`` paired bootstrap draws of the questions."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or not a.size:
        raise ValueError("paired accuracy needs two equal-length, non-empty 0/1 vectors")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(resamples, a.size))
    d = (b[idx] - a[idx]).mean(axis=1)
    lo, hi = np.percentile(d, [2.5, 97.5])
    return {"delta": float((b - a).mean()), "ci95": [float(lo), float(hi)], "items": int(a.size),
            "resamples": resamples, "seed": seed}


def question_wording(root: str | Path = "results", run_name: str = RUN, runs_dir: str | Path = "runs",
                     cache: str | Path | None = None) -> dict:
    """Ask ``run_name``'s dev questions in every wording; the numbers of :func:`run_question_wording`."""
    from linkner.link.backends import make_backend
    from linkner.link.cache import AnswerCache
    from linkner.link.merge import gold_label
    from linkner.link.options import QUESTIONS
    from linkner.link.pipeline import (
        Linker,
        _load_predictions,
        _tune,
        dataset_hint,
        label_set,
        split_gold,
    )
    from linkner.link.prompts import resolve_schema
    from linkner.link.routing import collect_items, tuning_sample
    from linkner.studies.runlist import LINKS

    run = next((r for r in LINKS if r.name == run_name), None)
    if run is None or run.decision != "fuse" or run.option_keys != "words":
        raise ValueError(f"{run_name} is not a fused word-key run of the run list")
    src = Path(runs_dir) / "preds" / run.system
    cache = Path(cache) if cache else Path(root) / "wording" / "llm-answers.jsonl"
    cfg = replace(run.link_config(str(src / "dev.jsonl"), str(cache), None), candidates="none")
    test = _load_predictions(src / f"{run.evalset}.test.jsonl", "predictions")  # its labels fix the schema, as in run_link
    schema = resolve_schema(cfg.dataset or dataset_hint(test), label_set(test))
    n_test_items = len(collect_items(split_gold(test, cfg.protocol)[0], cfg.uncertainty, cfg.protocol))
    dev = _load_predictions(cfg.dev_predictions, "dev predictions")
    clean, gold = split_gold(dev, cfg.protocol)
    items = collect_items(clean, cfg.uncertainty, cfg.protocol, "dev predictions")
    _, asked = tuning_sample(items, len(clean), cfg.tune_max_calls, cfg.seed, cfg.tune_sample)
    idx = [i for i, a in enumerate(asked) if a]
    golds = [gold_label(items[i], gold) for i in idx]
    backend, answers = make_backend(cfg.llm), AnswerCache(cfg.cache_path())
    rows, right = {}, {}
    try:
        for q in QUESTIONS:
            linker = Linker(cfg, schema, backend, answers, None)
            linker.choice.question = q
            decisions, stats = linker.decide(clean, items, asked, "dev")
            llm = [max(d.detail.llm, key=d.detail.llm.get) if d.detail and d.detail.llm else None
                   for d in (decisions[i] for i in idx)]
            fused = linker.fit_fusion(items, decisions, gold)
            right[q] = {"llm": np.array([p == g for p, g in zip(llm, golds)]),
                        "fused": np.array([_label(fused[i], items[i].entity.label) == g for i, g in zip(idx, golds)]),
                        "local": np.array([items[i].entity.label == g for i, g in zip(idx, golds)])}
            s = stats.as_dict()
            tuner = Linker(cfg, schema, backend, answers, None)  # the run's own tuning, on the same (cached) answers
            tuner.choice.question = q
            _, tuning, _, _ = _tune(tuner, cfg, dev, n_test_items, None)
            rows[q] = {"questions": len(idx), "llm_right": int(right[q]["llm"].sum()),
                       "fused_right": int(right[q]["fused"].sum()), "local_right": int(right[q]["local"].sum()),
                       "w": linker.choice.fusion.w, "calls": s["calls"], "cache_hits": s["cache_hits"],
                       "seconds_per_answer": s["seconds_per_answer"],
                       "prompt_tokens_per_answer": round(s["prompt_tokens"] / len(idx), 1),
                       "evaluated_tokens_per_answer": (round(s["evaluated_tokens"] / s["evaluated_answers"], 1)
                                                       if s["evaluated_answers"] else None),
                       "evaluated_tokens_per_second": s["evaluated_tokens_per_second"],
                       "tuning": {k: tuning[k] for k in ("route_none", "dev_routed", "dev_delta_f1", "dev_delta_f1_ci95")}}
    finally:
        answers.close()
        backend.close()
    for q in QUESTIONS[1:]:
        rows[q]["vs_full"] = {k: paired_accuracy(right["full"][k], right[q][k]) for k in ("llm", "fused")}
    return {"run": run_name, "questions": rows, "dev_predictions": str(cfg.dev_predictions),
            "sample": {"mode": cfg.tune_sample, "max_calls": cfg.tune_max_calls, "seed": cfg.seed},
            "cache": str(cache), "llm": run.llm, "llm_threads": run.llm_threads}


def run_question_wording(root: str | Path = "results", run_name: str = RUN, runs_dir: str | Path = "runs") -> dict:
    """Compute :func:`question_wording` and write ``<root>/wording/question_wording.json``."""
    from linkner.studies.experiments import write_results

    numbers = question_wording(root, run_name, runs_dir)
    return write_results(Path(root) / "wording" / "question_wording.json", numbers,
                         {"study": "question_wording", "run": run_name, "resamples": RESAMPLES, "seed": SEED})


if __name__ == "__main__":
    run_question_wording(*sys.argv[1:2])
