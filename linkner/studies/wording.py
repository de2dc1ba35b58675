"""The question-wording study: can a shorter question make each LLM call cheaper without losing accuracy?

An in-process answer costs the prompt tokens evaluated after the reused system message (the marked
sentence and the question) at the machine's prompt-evaluation rate, so fewer tokens is the lever for
seconds per routed entity that the prompt controls. This study asks one run's dev tuning questions (its
most uncertain dev entities, candidates off) in each wording of :data:`linkner.link.options.WORDINGS`
and records, per wording:

* how often the LLM alone is right (the argmax of its option probabilities);
* how often the fused decision is right, *cross-fitted*: w (and r) are fitted on the other folds and the
  decision scored on the held-out one, so no wording is scored with a w chosen on the very questions it is
  scored on (the in-sample count, what tuning itself maximises, and the whole w curve are kept beside it);
* the dev ΔF1 the run's τ rule certifies with those answers, or that it routes none;
* the prompt tokens each answer evaluated after the reused prefix, and its seconds. Tokens are the
  measure of cost to compare (seconds also carry the machine's state when each answer was made).

The accuracy differences from ``full`` carry a 95 % paired-bootstrap interval over the same questions.
Dev only: the test predictions are read for their label set (the schema, as in ``run_link``), never
their gold.

Answers come from (and go to) the study's own cache, ``results/wording/llm-answers.jsonl``: a rerun
with it beside the dev predictions asks nothing. ``python -m linkner.studies.wording`` writes
``results/wording/question_wording.json`` (needs the run's dev predictions under ``runs/preds/``, which
are not committed: train the system first).
"""

from __future__ import annotations

import random
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

RUN = "conll03-spanner/conll03-honest-qwen2.5-coder-1.5b"  # the run whose dev questions are asked
RESAMPLES, SEED, FOLDS = 1000, 13, 10


def paired_accuracy(a, b, resamples: int = RESAMPLES, seed: int = SEED) -> dict:
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


def cross_fitted(choices: list, gold: list[str], folds: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """Per item, whether its fused decision is right when w and r are fitted on the other folds only
    (:class:`linkner.link.fusion.Fusion`, as tuning fits them). Folds are a seeded shuffle of the items."""
    from linkner.link.fusion import Fusion, fuse, is_correct

    order = random.Random(seed).sample(range(len(choices)), len(choices))
    fold = {i: k % folds for k, i in enumerate(order)}
    right = np.zeros(len(choices), dtype=bool)
    for f in range(folds):
        fit = Fusion()
        fit.fit([c for i, c in enumerate(choices) if fold[i] != f], [g for i, g in enumerate(gold) if fold[i] != f])
        for i, (c, g) in enumerate(zip(choices, gold, strict=True)):
            if fold[i] == f:
                right[i] = is_correct(fuse(c, fit.w, fit.r), g)
    return right


def question_wording(root: str | Path = "results", run_name: str = RUN, runs_dir: str | Path = "runs",
                     cache: str | Path | None = None) -> dict:
    """Ask ``run_name``'s dev questions in every wording; the numbers of :func:`run_question_wording`."""
    from linkner.link.backends import make_backend
    from linkner.link.cache import AnswerCache
    from linkner.link.fusion import is_correct
    from linkner.link.merge import gold_label
    from linkner.link.options import WORDINGS
    from linkner.link.pipeline import Linker, _load_predictions, _tune, dataset_hint, label_set, split_gold
    from linkner.link.prompts import resolve_schema
    from linkner.link.routing import collect_items, tuning_sample
    from linkner.studies.runlist import LINKS

    run = next((r for r in LINKS if r.name == run_name), None)
    if run is None or run.decision != "fuse" or run.option_keys != "words":
        raise ValueError(f"{run_name} is not a fused word-key run of the run list")
    src = Path(runs_dir) / "preds" / run.system
    cache = Path(cache) if cache else Path(root) / "wording" / "llm-answers.jsonl"
    cfg = replace(run.link_config(str(src / "dev.jsonl"), str(cache), None), candidates="none")
    test = _load_predictions(src / f"{run.evalset}.test.jsonl", "predictions")  # labels only: the schema, as in run_link
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
        for q in WORDINGS:
            linker = Linker(cfg, schema, backend, answers, None, wording=q)
            decisions, stats = linker.decide(clean, items, asked, "dev")
            choices = [decisions[i].detail for i in idx]
            fused = linker.fit_fusion(items, decisions, gold)  # in sample: w fitted on these very questions
            right[q] = {"llm": np.array([c.llm_answer == g for c, g in zip(choices, golds)]),
                        "fused": cross_fitted(choices, golds),
                        "fused_in_sample": np.array([is_correct(fused[i], g) for i, g in zip(idx, golds)])}
            # the run's own τ rule on the same answers (from the cache: no second call)
            _, tuning, _, _ = _tune(Linker(cfg, schema, backend, answers, None, wording=q), cfg, dev, n_test_items, None)
            s = stats.as_dict()
            rows[q] = {"questions": len(idx), "llm_right": int(right[q]["llm"].sum()),
                       "fused_right": int(right[q]["fused"].sum()),
                       "fused_right_in_sample": int(right[q]["fused_in_sample"].sum()),
                       "local_right": sum(items[i].entity.label == g for i, g in zip(idx, golds)),
                       "w": linker.choice.fusion.w, "w_curve": linker.choice.fusion.dev["curve"],
                       "calls": s["calls"], "cache_hits": s["cache_hits"], "unique": s["unique"],
                       "seconds_per_answer": s["seconds_per_answer"],
                       "prompt_tokens_per_answer": round(s["prompt_tokens"] / s["unique"], 1) if s["unique"] else None,
                       "evaluated_tokens_per_answer": (round(s["evaluated_tokens"] / s["evaluated_answers"], 1)
                                                       if s["evaluated_answers"] else None),
                       "evaluated_tokens_per_second": s["evaluated_tokens_per_second"],
                       "tuning": {k: tuning[k] for k in ("route_none", "dev_routed", "dev_delta_f1", "dev_delta_f1_ci95")}}
    finally:
        answers.close()
        backend.close()
    for q in WORDINGS[1:]:
        rows[q]["vs_full"] = {k: paired_accuracy(right["full"][k], right[q][k]) for k in ("llm", "fused")}
    return {"run": run_name, "system": run.system, "evalset": run.evalset, "wordings": rows,
            "dev_predictions": str(cfg.dev_predictions), "folds": FOLDS,
            "sample": {"mode": cfg.tune_sample, "max_calls": cfg.tune_max_calls, "seed": cfg.seed},
            "cache": str(cache), "llm": run.llm, "llm_threads": run.llm_threads}


def run_question_wording(root: str | Path = "results", run_name: str = RUN, runs_dir: str | Path = "runs") -> dict:
    """Compute :func:`question_wording` and write ``<root>/wording/question_wording.json``."""
    from linkner.studies.experiments import write_results

    numbers = question_wording(root, run_name, runs_dir)
    return write_results(Path(root) / "wording" / "question_wording.json", numbers,
                         {"study": "question_wording", "run": run_name, "resamples": RESAMPLES, "seed": SEED,
                          "folds": FOLDS})


if __name__ == "__main__":
    run_question_wording(*sys.argv[1:2])
