"""Per-span uncertainty scores, all in [0, 1] (higher = less sure), and temperature scaling.

* ``confidence``  = 1 − max_k p_k
* ``entropy``     = H(p) / log K (normalised so that one threshold grid fits every method; the
  original's entropy option was broken, method notes §5, §11.9)
* ``mc_dropout``  = 1 − max_k p̄_k, with p̄ the mean of T forward passes with dropout on
* ``evidential``  = K / S, the Dirichlet vacuity of an E-NER model (α = exp(z) + 1, S = Σα)

``p`` is softmax(z / T) for a cross-entropy model and α/S (with z / T) for an evidential one; T is
the fitted temperature (1 unless :func:`linkner.models.losses.fit_temperature` was run). Turning logits
into ``p`` belongs to the model's objective (:mod:`linkner.models.losses`); these estimators are plain
functions of probability arrays, so the model's predictor can call them without this package knowing
any model.
"""

from __future__ import annotations

import math

import numpy as np

from linkner.uncertainty import METHODS  # noqa: F401  (re-exported: the estimators' names)


def confidence(probs: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - probs.max(axis=-1), 0.0, 1.0)


def entropy(probs: np.ndarray) -> np.ndarray:
    k = probs.shape[-1]
    if k < 2:
        return np.zeros(probs.shape[:-1], dtype=probs.dtype)
    p = np.clip(probs, 1e-12, 1.0)
    return np.clip(-(probs * np.log(p)).sum(axis=-1) / math.log(k), 0.0, 1.0)


def span_uncertainties(probs: np.ndarray, mc_probs: np.ndarray | None = None, vac: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """All available uncertainty arrays for spans with probabilities ``probs`` ``[N, K]``."""
    out = {"confidence": confidence(probs), "entropy": entropy(probs)}
    if mc_probs is not None:
        out["mc_dropout"] = confidence(mc_probs)
    if vac is not None:
        out["evidential"] = np.clip(vac, 0.0, 1.0)
    return out
