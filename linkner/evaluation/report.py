"""Evaluate a checkpoint on a labelled split and write one self-describing metrics JSON.

Populations (stated in the JSON too):

* entity P/R/F1: decoded predicted entities vs **all** gold entities (linkner.metrics, seqeval-equal);
* ``predicted`` calibration/AUROC: every decoded predicted entity; correct = exact (start, end,
  label) match with a gold entity; confidence = its probability; uncertainty = each method's score;
* ``gold_spans`` calibration (E-NER's population, §8.1): every gold entity of at most L words;
  correct = the span's argmax equals the gold label; confidence = the span's max probability.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from linkner.data.predictions import gold_entities, gold_keys, scored_spans
from linkner.data.types import Sentence
from linkner.errors import DataError


def load_eval_data(data: str, split: str) -> list[Sentence]:
    from linkner.data.registry import load

    sentences = load(data, split)
    if not sentences:
        raise DataError(f"{data}/{split} holds no sentences")
    return sentences


def _populations(preds: list[Sentence]) -> dict[str, dict[str, list]]:
    pred_pop: dict[str, list] = {"confidence": [], "correct": [], "unc": []}
    gold_pop: dict[str, list] = {"confidence": [], "correct": []}
    for s in preds:
        gold = gold_keys(s)
        for e in s.entities:
            pred_pop["confidence"].append(e.score)
            pred_pop["correct"].append(int((e.start, e.end, e.label) in gold))
            pred_pop["unc"].append(e.extra["uncertainty"])
        decoded = {(e.start, e.end): e.label for e in s.entities}
        gold_labels = {(a, b): lab for a, b, lab in gold}
        for g in gold_entities(s) or ():
            if g.span in decoded:  # decoded span: its label is the span's argmax
                e = next(x for x in s.entities if x.span == g.span)
                gold_pop["confidence"].append(e.score)
                gold_pop["correct"].append(int(e.label == g.label))
        for sp in scored_spans(s, "gold_scored"):
            gold_pop["confidence"].append(sp.prob)
            gold_pop["correct"].append(int(sp.label == gold_labels.get(sp.span)))
    return {"predicted": pred_pop, "gold_spans": gold_pop}


def uncertainty_report(preds: list[Sentence], methods: list[str]) -> dict:
    """ECE, reliability bins, misclassification AUROC and AURC per method (see module docstring)."""
    from linkner.uncertainty.quality import ece, misclassification_auroc, reliability, risk_coverage

    pops = _populations(preds)
    pp, gp = pops["predicted"], pops["gold_spans"]
    out: dict[str, Any] = {
        "predicted": {"n": len(pp["correct"]), "accuracy": float(np.mean(pp["correct"])) if pp["correct"] else None,
                      "ece": ece(pp["confidence"], pp["correct"]), "reliability": reliability(pp["confidence"], pp["correct"]),
                      "auroc": {}, "aurc": {}},
        "gold_spans": {"n": len(gp["correct"]), "ece": ece(gp["confidence"], gp["correct"])},
    }
    for m in methods:
        u = [d.get(m) for d in pp["unc"]]
        if not u or any(x is None for x in u):
            continue
        out["predicted"]["auroc"][m] = misclassification_auroc(u, pp["correct"])
        out["predicted"]["aurc"][m] = risk_coverage(u, pp["correct"])["aurc"]
    return out


def evaluate_checkpoint(model_or_path: Any, data: str, split: str = "test", out: str | Path | None = None,
                        mc_samples: int = 0, batch_size: int = 64,
                        progress: Callable[[int], None] | None = None, mc_seed: int | None = None,
                        gold: list[Sentence] | None = None) -> tuple[dict, list[Sentence]]:
    """Predict ``data``/``split`` with a checkpoint, score it, and write the metrics JSON to ``out``.

    Returns ``(metrics, predictions)``. ``progress(n)`` is told as each chunk of n sentences is done.
    ``mc_seed`` seeds MC dropout (default :data:`linkner.models.predict.MC_SEED`) and is recorded in the JSON.
    ``gold``: the split when the caller has already read it (``linkner infer``), so it is not read twice.
    """
    from linkner.configio import to_dict
    from linkner.metrics import evaluate
    from linkner.models.predict import MC_SEED, LocalModel
    from linkner.outputs import write_text_atomic
    from linkner.provenance import environment

    mc_seed = MC_SEED if mc_seed is None else mc_seed
    model = model_or_path if isinstance(model_or_path, LocalModel) else LocalModel(model_or_path)
    gold = load_eval_data(data, split) if gold is None else gold
    model.check_labels(gold, f"{data}/{split}")
    t0 = time.perf_counter()
    preds = list(model.iter_predict_sentences(gold, mc_samples=mc_samples, batch_size=batch_size, has_gold=True,
                                              progress=progress, mc_seed=mc_seed))
    seconds = time.perf_counter() - t0
    scores = evaluate(gold, preds)
    methods = model.uncertainty_methods(mc_samples)
    result = {
        "checkpoint": model.path, "data": data, "split": split, "sentences": len(gold),
        "entity": scores.as_dict(),
        "uncertainty": uncertainty_report(preds, methods),
        "uncertainty_methods": methods, "mc_samples": mc_samples,
        "mc_seed": mc_seed if mc_samples > 0 else None, "temperature": model.temperature,
        "seconds": seconds, "sentences_per_second": len(gold) / seconds if seconds > 0 else None,
        "seed": model.run.train.seed, "config": to_dict(model.run), **environment(),
        "populations": {
            "entity": "decoded entities vs all gold entities (exact span + label)",
            "predicted": "decoded predicted entities; correct = exact gold match; ECE on their probability",
            "gold_spans": "gold entities of <= L words; correct = span argmax equals gold label",
        },
    }
    if out is not None:
        write_text_atomic(out, json.dumps(result, indent=2) + "\n")
    return result, preds


def fit_checkpoint_temperature(model: Any, data: str, split: str = "dev", batch_size: int = 64) -> float:
    """Fit a temperature on a labelled split (NLL of every span's gold label) and store it."""
    from linkner.models.checkpoint import write_temperature
    from linkner.models.losses import fit_temperature

    sentences = load_eval_data(data, split)
    model.check_labels(sentences, f"{data}/{split}")
    saved_t, model.temperature = model.temperature, 1.0
    try:
        scores = model.score(sentences, batch_size=batch_size, keep_logits=True)
    finally:
        model.temperature = saved_t
    index = {lab: i for i, lab in enumerate(model.labels)}
    logits, labels = [], []
    for s, sc in zip(sentences, scores):
        gold = {(e.start, e.end): index[e.label] for e in s.entities}
        logits.append(sc.logits)
        labels.append(np.asarray([gold.get((int(a), int(b)), 0) for a, b in sc.spans], dtype=np.int64))
    cfg = model.run.model
    t = fit_temperature(np.concatenate(logits), np.concatenate(labels), cfg.loss, cfg.logit_clamp, cfg.evidence)
    model.temperature = t
    write_temperature(model.path, t)
    return t
