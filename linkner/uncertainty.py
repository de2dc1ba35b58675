"""Per-span uncertainty scores, all in [0, 1] (higher = less sure), and temperature scaling.

* ``confidence``  = 1 − max_k p_k
* ``entropy``     = H(p) / log K (normalised so that one threshold grid fits every method; the
  original's entropy option was broken, method notes §5, §11.9)
* ``mc_dropout``  = 1 − max_k p̄_k, with p̄ the mean of T forward passes with dropout on
* ``evidential``  = K / S, the Dirichlet vacuity of an E-NER model (α = exp(z) + 1, S = Σα)

``p`` is softmax(z / T) for a cross-entropy model and α/S (with z / T) for an evidential one; T is
the fitted temperature (1 unless :func:`fit_temperature` was run).
"""

from __future__ import annotations

import math

import numpy as np

METHODS = ("confidence", "entropy", "mc_dropout", "evidential")


def confidence(probs: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - probs.max(axis=-1), 0.0, 1.0)


def entropy(probs: np.ndarray) -> np.ndarray:
    k = probs.shape[-1]
    if k < 2:
        return np.zeros(probs.shape[:-1], dtype=probs.dtype)
    p = np.clip(probs, 1e-12, 1.0)
    return np.clip(-(probs * np.log(p)).sum(axis=-1) / math.log(k), 0.0, 1.0)


def probabilities(logits, loss: str, temperature: float = 1.0, clamp: float = 30.0, evidence_kind: str = "exp"):
    """Class probabilities (torch) from logits: softmax for ``ce``, α/S for ``edl``."""
    import torch

    z = logits / temperature
    if loss == "edl":
        from linkner.models.losses import dirichlet

        return dirichlet(z, evidence_kind, clamp)[1]
    return torch.softmax(z, dim=-1)


def vacuity(logits, temperature: float = 1.0, clamp: float = 30.0, evidence_kind: str = "exp"):
    from linkner.models.losses import dirichlet

    return dirichlet(logits / temperature, evidence_kind, clamp)[2]


def fit_temperature(logits, labels, loss: str = "ce", clamp: float = 30.0, evidence_kind: str = "exp",
                    max_iter: int = 100) -> float:
    """The temperature T > 0 minimising the dev NLL of the gold span labels (Guo et al. 2017).

    ``logits`` are the raw span logits ``[N, K]`` of the dev set, ``labels`` their gold indices.
    Optimised over log T with L-BFGS, so T stays positive. Temperature changes confidences, never
    the argmax of a softmax model (for an evidential model it rescales evidence, which can).
    """
    import torch

    logits = torch.as_tensor(logits, dtype=torch.float64)
    labels = torch.as_tensor(labels, dtype=torch.long)
    if logits.shape[0] == 0:
        return 1.0
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        z = logits / log_t.exp()
        if loss == "edl":
            from linkner.models.losses import dirichlet

            probs = dirichlet(z, evidence_kind, clamp)[1]
            nll = -torch.log(probs.gather(1, labels[:, None]).clamp_min(1e-12)).mean()
        else:
            nll = torch.nn.functional.cross_entropy(z, labels)
        nll.backward()
        return nll

    opt.step(closure)
    t = float(log_t.exp().item())
    return t if math.isfinite(t) and t > 0 else 1.0


def span_uncertainties(probs: np.ndarray, mc_probs: np.ndarray | None = None, vac: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """All available uncertainty arrays for spans with probabilities ``probs`` ``[N, K]``."""
    out = {"confidence": confidence(probs), "entropy": entropy(probs)}
    if mc_probs is not None:
        out["mc_dropout"] = confidence(mc_probs)
    if vac is not None:
        out["evidential"] = np.clip(vac, 0.0, 1.0)
    return out
