"""How good an uncertainty score is: calibration (ECE), misclassification and OOD detection (AUROC),
selective prediction (risk–coverage curve and AURC).

Standard definitions, not the original code's (method notes §8, §11.8: its ECE covered only the last
test batch, used bin centres and weighted bins by correct counts):

* ECE = Σ_b (n_b / N) · |acc_b − conf_b| over 10 equal-width confidence bins [0, .1), …, [.9, 1],
  with conf_b the mean confidence and acc_b the accuracy in bin b (Guo et al. 2017).
* Misclassification AUROC: higher uncertainty should mean "wrong"; positive class = wrong.
* OOD AUROC: positive class = span from the shifted set; score = uncertainty.
* AURC: the mean selective risk over all coverages when predictions are accepted from the least to
  the most uncertain (lower is better).

Which spans enter each metric is the caller's choice; :mod:`linkner.evaluation` documents its own.
"""

from __future__ import annotations

import numpy as np


def ece(confidence, correct, n_bins: int = 10) -> float | None:
    """Expected calibration error with equal-width bins; ``None`` for an empty population."""
    conf = np.asarray(confidence, dtype=np.float64)
    acc = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return None
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            total += sel.mean() * abs(acc[sel].mean() - conf[sel].mean())
    return float(total)


def reliability(confidence, correct, n_bins: int = 10) -> list[dict]:
    """Per-bin count, mean confidence and accuracy (for reliability diagrams)."""
    conf = np.asarray(confidence, dtype=np.float64)
    acc = np.asarray(correct, dtype=np.float64)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1) if conf.size else conf.astype(int)
    out = []
    for b in range(n_bins):
        sel = bins == b
        out.append({"low": b / n_bins, "high": (b + 1) / n_bins, "count": int(sel.sum()),
                    "confidence": float(conf[sel].mean()) if sel.any() else None,
                    "accuracy": float(acc[sel].mean()) if sel.any() else None})
    return out


def auroc(scores, positives) -> float | None:
    """ROC AUC of ``scores`` for the binary ``positives``; ``None`` when only one class is present."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(positives, dtype=int)
    s = np.asarray(scores, dtype=np.float64)
    if y.size == 0 or y.min() == y.max():
        return None
    return float(roc_auc_score(y, s))


def misclassification_auroc(uncertainty, correct) -> float | None:
    """AUROC of uncertainty for detecting wrong predictions (positive = wrong)."""
    return auroc(uncertainty, 1 - np.asarray(correct, dtype=int))


def ood_auroc(in_domain_uncertainty, shifted_uncertainty) -> float | None:
    """AUROC of uncertainty for telling shifted-set spans (positive) from in-domain ones."""
    a = np.asarray(in_domain_uncertainty, dtype=np.float64)
    b = np.asarray(shifted_uncertainty, dtype=np.float64)
    return auroc(np.concatenate([a, b]), np.concatenate([np.zeros(a.size, int), np.ones(b.size, int)]))


def risk_coverage(uncertainty, correct, points: int = 101) -> dict:
    """Risk–coverage curve (accept the most certain first) and its area, AURC.

    Ties in uncertainty are accepted together, so the curve does not depend on input order.
    Returns ``{"coverage": [...], "risk": [...], "aurc": float}`` with at most ``points`` points.
    """
    u = np.asarray(uncertainty, dtype=np.float64)
    wrong = 1.0 - np.asarray(correct, dtype=np.float64)
    n = u.size
    if n == 0:
        return {"coverage": [], "risk": [], "aurc": None}
    order = np.argsort(u, kind="stable")
    u_sorted, errs = u[order], np.cumsum(wrong[order])
    # at each position, use the last index of its tie group
    last = np.searchsorted(u_sorted, u_sorted, side="right") - 1
    risk = errs[last] / (last + 1)
    coverage = (last + 1) / n
    aurc = float(risk.mean())
    pick = np.unique(np.linspace(0, n - 1, min(points, n)).round().astype(int))
    return {"coverage": coverage[pick].tolist(), "risk": risk[pick].tolist(), "aurc": aurc}
