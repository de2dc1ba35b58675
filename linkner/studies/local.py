"""Local-model studies: SpanNER vs E-NER on every test set, and how good each uncertainty score is.

Both read ``<root>/local`` (see :mod:`linkner.studies.layout`); neither trains anything.

* :func:`local_models`: entity P/R/F1 (micro and per type) of every (train set, model) on its test sets,
  plus the training metrics.
* :func:`uncertainty`: calibration (ECE, reliability bins) of the span probability; per uncertainty
  method the misclassification AUROC, AURC and the risk–coverage curve (``risk_coverage.json``, written
  by :mod:`linkner.studies.ood` from the predictions); OOD AUROC from ``ood_auroc.json``.
* :func:`ood_detection`: that OOD AUROC, from an in-domain and a shifted prediction file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linkner.data.predictions import gold_keys, scored_spans
from linkner.data.types import Sentence
from linkner.studies.layout import EVALSETS, METHODS, SHIFTED, local_dir, read_numbers, system_name, systems


def _mean(x) -> float | None:
    if isinstance(x, list):
        return float(np.mean(x)) if x else None
    return x


def local_models(root: str | Path) -> dict:
    """The local-models table: one row per (system, test set) found; absent ones under ``missing``."""
    numbers: dict = {"rows": [], "per_type": {}, "training": {}, "missing": []}
    for train, model in systems():
        name = system_name(train, model)
        d = local_dir(root, train, model)
        tr = read_numbers(d / "train.json")
        if tr is not None:
            numbers["training"][name] = {
                "best_dev_f1": tr.get("best_dev_f1"), "best_epoch": tr.get("best_epoch"),
                "epochs_run": tr.get("epochs_run", tr.get("epochs")),
                "seconds_per_epoch": _mean(tr.get("seconds_per_epoch")),
                "train_sentences": tr.get("train_sentences")}
        else:
            numbers["missing"].append(f"{name}/train")
        for ev in EVALSETS[train]:
            m = read_numbers(d / f"{ev}.json")
            if m is None or "entity" not in m:
                numbers["missing"].append(f"{name}/{ev}")
                continue
            micro = m["entity"]["micro"]
            numbers["rows"].append({
                "system": name, "train": train, "model": model, "evalset": ev,
                **{k: micro[k] for k in ("precision", "recall", "f1", "n_gold", "n_pred")},
                "sentences": m.get("sentences"), "sentences_per_second": m.get("sentences_per_second"),
                "mc_samples": m.get("mc_samples")})
            numbers["per_type"][f"{name}/{ev}"] = {t: v["f1"] for t, v in m["entity"]["per_type"].items()}
    return numbers


# ---------------------------------------------------------------------------------------------- OOD


def _load(preds: str | Path | list[Sentence]) -> list[Sentence]:
    if isinstance(preds, list):
        return preds
    from linkner.data.readers import read_jsonl

    return read_jsonl(preds)


def _spans(sentences: list[Sentence], method: str, want: str) -> list[float]:
    """Uncertainties of decoded entities (``want``: all | correct | wrong), plus, for ``wrong``, the gold
    spans the model labelled otherwise (E-NER counts every misclassified real span, §8.2)."""
    out = []
    for s in sentences:
        gold = gold_keys(s)
        for e in s.entities:
            u = (e.extra.get("uncertainty") or {}).get(method)
            if u is None:
                continue
            ok = (e.start, e.end, e.label) in gold
            if want == "all" or (want == "correct") == ok:
                out.append(float(u))
        if want == "wrong":
            labels = {(a, b): lab for a, b, lab in gold}
            for sp in scored_spans(s, "gold_scored"):
                u = sp.uncertainty.get(method)
                if u is not None and sp.label != labels.get(sp.span):
                    out.append(float(u))
    return out


def ood_detection(pred_in, pred_shifted, methods: list[str] | tuple[str, ...] | None = None,
                  population: str = "ener") -> dict:
    """AUROC of each uncertainty method for telling shifted-set spans (positive) from in-domain ones.

    ``pred_in`` / ``pred_shifted``: prediction JSONL paths (or loaded sentences) with gold meta.
    ``population="ener"`` is E-NER's definition (method notes §8.2): positives are the shifted set's
    misclassified spans, negatives the in-domain set's correctly predicted entities, so a high AUROC
    means "uncertain exactly where the shift hurts". ``"all"``: every decoded entity of each set.
    Returns ``{method: auroc or None}`` (None: a side is empty, or the method was not computed).
    """
    from linkner.uncertainty.quality import ood_auroc

    if population not in ("ener", "all"):
        raise ValueError("population is 'ener' or 'all'")
    a, b = _load(pred_in), _load(pred_shifted)
    if methods is None:
        methods = (a[0].meta.get("model") or {}).get("uncertainty_methods") or list(METHODS) if a else list(METHODS)
    neg, pos = ("correct", "wrong") if population == "ener" else ("all", "all")
    return {m: ood_auroc(_spans(a, m, neg), _spans(b, m, pos)) for m in methods}


def run_ood_detection(pred_in, shifted: dict[str, str | Path], out: str | Path,
                      methods: list[str] | None = None, population: str = "ener") -> dict:
    """Write ``ood_auroc.json``: ``{"numbers": {method: {shifted set: auroc}}}``."""
    from linkner.studies.experiments import write_results

    a = _load(pred_in)
    per_set = {name: ood_detection(a, p, methods, population) for name, p in sorted(shifted.items())}
    ms = sorted({m for v in per_set.values() for m in v})
    numbers = {m: {name: per_set[name].get(m) for name in per_set} for m in ms}
    return write_results(out, numbers, {"study": "ood_detection", "population": population,
                                        "in_domain": str(pred_in) if not isinstance(pred_in, list) else "<sentences>",
                                        "shifted": {k: str(v) for k, v in shifted.items()}})


# -------------------------------------------------------------------------------------- uncertainty


def risk_coverage_curves(preds: list[Sentence], methods: list[str], points: int = 51) -> dict:
    """Risk–coverage curve per method over the decoded entities (correct = exact gold match)."""
    from linkner.uncertainty.quality import risk_coverage

    out = {}
    for m in methods:
        u, ok = [], []
        for s in preds:
            gold = gold_keys(s)
            for e in s.entities:
                v = (e.extra.get("uncertainty") or {}).get(m)
                if v is not None:
                    u.append(v)
                    ok.append(int((e.start, e.end, e.label) in gold))
        if u:
            rc = risk_coverage(u, ok, points)
            out[m] = {"coverage": rc["coverage"], "risk": rc["risk"], "aurc": rc["aurc"]}
    return out


def uncertainty(root: str | Path) -> dict:
    """Calibration, misclassification AUROC, AURC, risk–coverage and OOD AUROC of every system found."""
    numbers: dict = {"calibration": {}, "misclassification_auroc": {}, "aurc": {}, "risk_coverage": {},
                     "ood_auroc": {}, "missing": []}
    for train, model in systems():
        name = system_name(train, model)
        d = local_dir(root, train, model)
        rc_file = read_numbers(d / "risk_coverage.json") or {}  # written by linkner.studies.ood
        for ev in EVALSETS[train]:
            m = read_numbers(d / f"{ev}.json")
            if m is None or "uncertainty" not in m:
                numbers["missing"].append(f"{name}/{ev}")
                continue
            key = f"{name}/{ev}"
            pp, gp = m["uncertainty"]["predicted"], m["uncertainty"].get("gold_spans") or {}
            numbers["calibration"][key] = {"ece": pp.get("ece"), "accuracy": pp.get("accuracy"), "n": pp.get("n"),
                                           "gold_spans_ece": gp.get("ece"), "reliability": pp.get("reliability") or []}
            numbers["misclassification_auroc"][key] = pp.get("auroc") or {}
            numbers["aurc"][key] = pp.get("aurc") or {}
            curves = pp.get("risk_coverage") or rc_file.get(ev)
            if curves:
                numbers["risk_coverage"][key] = {k: {"coverage": v["coverage"], "risk": v["risk"]} for k, v in curves.items()}
        if train == "conll03":
            ood = read_numbers(d / "ood_auroc.json")
            if ood is None:
                numbers["missing"].append(f"{name}/ood_auroc")
            else:
                numbers["ood_auroc"][name] = {meth: {s: v.get(s) for s in SHIFTED if s in v} for meth, v in ood.items()
                                              if isinstance(v, dict)}
    return numbers


def run_local_models(root: str | Path = "results") -> dict:
    from linkner.studies.experiments import write_results

    return write_results(Path(root) / "studies" / "local_models.json", local_models(root),
                         {"study": "local_models", "root": str(root)})


def run_uncertainty(root: str | Path = "results") -> dict:
    from linkner.studies.experiments import write_results

    return write_results(Path(root) / "studies" / "uncertainty.json", uncertainty(root),
                         {"study": "uncertainty", "root": str(root), "ood_population": "E-NER (method notes §8.2)"})
