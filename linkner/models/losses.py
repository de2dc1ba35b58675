"""Training objectives of the span model: span-weighted cross-entropy (SpanNER) and the E-NER
evidential loss (method notes §4), plus the evidence → probability/uncertainty transforms.

Both losses are the **mean over real spans** of ``w_j · ℓ_j``. The original E-NER span loss summed
instead (§4.2, §11.10); a sum grows with batch size and sentence length, so the effective learning
rate and the balance against the annealed terms would change whenever the batching changes. The
mean makes the loss scale independent of both and equal to the CE convention.

``exp`` evidence is computed on logits clamped to ``≤ clamp`` (default 30): ``exp(30) ≈ 1e13`` is
already "all evidence", and fp32 ``exp`` overflows to ``inf`` (then NaN) above ≈ 88.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def evidence(logits: torch.Tensor, kind: str = "exp", clamp: float = 30.0) -> torch.Tensor:
    """Non-negative evidence ``e = g(z)``."""
    if kind == "exp":
        return torch.exp(logits.clamp(max=clamp))
    if kind == "softplus":
        return F.softplus(logits)
    if kind == "relu":
        return F.relu(logits)
    raise ValueError(f"unknown evidence function {kind!r}")


def dirichlet(logits: torch.Tensor, kind: str = "exp", clamp: float = 30.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(alpha, expected probabilities alpha/S, vacuity K/S)`` of the evidential head."""
    alpha = evidence(logits, kind, clamp) + 1.0
    strength = alpha.sum(dim=-1, keepdim=True)
    k = logits.shape[-1]
    return alpha, alpha / strength, (k / strength).squeeze(-1)


def annealing(epoch: int, annealing_step: int) -> float:
    """E-NER's ramp ``a_t = min(1, t / annealing_step)`` with t the 0-based epoch."""
    return min(1.0, epoch / float(annealing_step))


def span_ce_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """SpanNER: ``mean_j w_j · CE(z_j, y_j)`` (gold-entity spans weight 1, O spans ``neg_span_weight``)."""
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    return (F.cross_entropy(logits, labels, reduction="none") * weights).mean()


def _kl_to_uniform_dirichlet(alpha: torch.Tensor) -> torch.Tensor:
    """``KL(Dir(alpha) ‖ Dir(1))`` per row, closed form."""
    k = alpha.shape[-1]
    s = alpha.sum(dim=-1)
    return (
        torch.lgamma(s)
        - torch.lgamma(alpha).sum(dim=-1)
        - math.lgamma(k)
        + ((alpha - 1.0) * (torch.digamma(alpha) - torch.digamma(s).unsqueeze(-1))).sum(dim=-1)
    )


def edl_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor,
    epoch: int,
    annealing_step: int = 10,
    with_iw: bool = True,
    with_uc: bool = True,
    with_kl: bool = True,
    kind: str = "exp",
    clamp: float = 30.0,
) -> torch.Tensor:
    """E-NER evidential loss for spans (§4.2), mean-reduced over spans.

    Per span with one-hot ``y``: ``A + B − C`` where

    * ``A = λ_y (ψ(S) − ψ(α_y))``, with ``λ_y = 1 − b_y = 1 − e_y/S`` when ``with_iw`` (not detached,
      as in the original), else 1;
    * ``B = a_t KL(Dir(α̃) ‖ Dir(1))``, ``α̃ = y + (1 − y) ⊙ α`` (gold evidence removed), when ``with_kl``;
    * ``C = a_t (1 − acc) ln(u)``, ``u = K/S``, acc = [argmax α = y] (no gradient), when ``with_uc``:
      subtracting it pushes misclassified spans towards high vacuity.
    """
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    k = logits.shape[-1]
    e = evidence(logits, kind, clamp)
    alpha = e + 1.0
    s = alpha.sum(dim=-1)
    y = F.one_hot(labels, k).to(alpha.dtype)
    alpha_y = (alpha * y).sum(dim=-1)
    a_term = torch.digamma(s) - torch.digamma(alpha_y)
    if with_iw:
        a_term = (1.0 - (e * y).sum(dim=-1) / s) * a_term
    loss = a_term
    a_t = annealing(epoch, annealing_step)
    if with_kl and a_t > 0:
        alpha_tilde = y + (1.0 - y) * alpha
        loss = loss + a_t * _kl_to_uniform_dirichlet(alpha_tilde)
    if with_uc and a_t > 0:
        with torch.no_grad():
            wrong = (alpha.argmax(dim=-1) != labels).to(alpha.dtype)
        loss = loss - a_t * wrong * torch.log(k / s + 1e-20)
    return (loss * weights).mean()


# ------------------------------------------------------------- probabilities and temperature
def probabilities(logits, loss: str, temperature: float = 1.0, clamp: float = 30.0, evidence_kind: str = "exp"):
    """Class probabilities (torch) from logits: softmax for ``ce``, α/S for ``edl``."""
    z = logits / temperature
    if loss == "edl":
        return dirichlet(z, evidence_kind, clamp)[1]
    return torch.softmax(z, dim=-1)


def vacuity(logits, temperature: float = 1.0, clamp: float = 30.0, evidence_kind: str = "exp"):
    """Dirichlet vacuity K/S of the evidential head at temperature T (the `evidential` uncertainty)."""
    return dirichlet(logits / temperature, evidence_kind, clamp)[2]


def fit_temperature(logits, labels, loss: str = "ce", clamp: float = 30.0, evidence_kind: str = "exp",
                    max_iter: int = 100) -> float:
    """The temperature T > 0 minimising the dev NLL of the gold span labels (Guo et al. 2017).

    ``logits`` are the raw span logits ``[N, K]`` of the dev set, ``labels`` their gold indices.
    Optimised over log T with L-BFGS, so T stays positive. Temperature changes confidences, never
    the argmax of a softmax model (for an evidential model it rescales evidence, which can).
    """
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
            probs = dirichlet(z, evidence_kind, clamp)[1]
            nll = -torch.log(probs.gather(1, labels[:, None]).clamp_min(1e-12)).mean()
        else:
            nll = torch.nn.functional.cross_entropy(z, labels)
        nll.backward()
        return nll

    opt.step(closure)
    t = float(log_t.exp().item())
    return t if math.isfinite(t) and t > 0 else 1.0
