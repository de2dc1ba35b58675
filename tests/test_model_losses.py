"""Losses, uncertainty scores and uncertainty-quality metrics of the span model (no encoder needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from linkner.models.losses import annealing, dirichlet, edl_loss, fit_temperature, span_ce_loss
from linkner.uncertainty.estimators import confidence, entropy, span_uncertainties
from linkner.uncertainty.quality import ece, misclassification_auroc, ood_auroc, risk_coverage


@pytest.mark.parametrize("flags", [(True, True, True), (False, True, True), (True, False, False), (False, False, True)])
def test_edl_loss_gradcheck(flags):
    """Analytic gradients of the evidential loss (digamma, lgamma, importance weight) match finite differences."""
    torch.manual_seed(0)
    logits = (torch.randn(6, 4, dtype=torch.float64) * 2).requires_grad_()
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    weights = torch.tensor([1.0, 0.6, 1.0, 0.6, 1.0, 1.0], dtype=torch.float64)
    iw, uc, kl = flags

    def f(z):
        return edl_loss(z, labels, weights, epoch=3, annealing_step=10, with_iw=iw, with_uc=uc, with_kl=kl)

    assert torch.autograd.gradcheck(f, (logits,), eps=1e-6, atol=1e-5)


def test_edl_loss_is_finite_for_huge_logits_and_mean_reduced():
    z = torch.tensor([[1000.0, -1000.0, 5.0], [0.0, 200.0, 88.5]], requires_grad=True)
    y = torch.tensor([0, 2])
    w = torch.ones(2)
    loss = edl_loss(z, y, w, epoch=5)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    # mean reduction: duplicating the batch leaves the loss unchanged
    both = edl_loss(torch.cat([z, z]).detach(), torch.cat([y, y]), torch.ones(4), epoch=5)
    assert torch.allclose(both, loss.detach())


def test_annealing_and_first_epoch_terms_off():
    assert annealing(0, 10) == 0.0 and annealing(5, 10) == 0.5 and annealing(50, 10) == 1.0
    z = torch.randn(5, 3)
    y = torch.tensor([0, 1, 2, 0, 1])
    w = torch.ones(5)
    base = edl_loss(z, y, w, epoch=0, with_kl=False, with_uc=False)
    assert torch.allclose(edl_loss(z, y, w, epoch=0), base)  # a_t = 0 at epoch 0
    assert not torch.allclose(edl_loss(z, y, w, epoch=4), base)


def test_ce_loss_is_weighted_mean():
    z = torch.randn(4, 3)
    y = torch.tensor([0, 1, 0, 2])
    w = torch.tensor([0.6, 1.0, 0.6, 1.0])
    ref = (torch.nn.functional.cross_entropy(z, y, reduction="none") * w).sum() / 4
    assert torch.allclose(span_ce_loss(z, y, w), ref)
    assert span_ce_loss(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), torch.zeros(0)).item() == 0.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.floats(-60, 60), min_size=5, max_size=5), min_size=1, max_size=8))
def test_uncertainties_in_unit_interval(rows):
    z = torch.tensor(rows, dtype=torch.float32)
    _, probs, vac = dirichlet(z)
    assert torch.allclose(probs.sum(-1), torch.ones(len(rows)), atol=1e-5)
    soft = torch.softmax(z, -1).numpy()
    unc = span_uncertainties(soft, mc_probs=probs.numpy(), vac=vac.numpy())
    for name, u in unc.items():
        assert np.all((u >= 0) & (u <= 1)), name


def test_entropy_and_confidence_extremes():
    uniform = np.full((1, 5), 0.2)
    onehot = np.eye(5)[:1]
    assert math.isclose(entropy(uniform)[0], 1.0, rel_tol=1e-6) and entropy(onehot)[0] < 1e-6
    assert math.isclose(confidence(uniform)[0], 0.8) and confidence(onehot)[0] == 0.0


def test_fit_temperature_recovers_overconfidence():
    torch.manual_seed(0)
    n, k = 4000, 4
    true = torch.randn(n, k)
    labels = torch.distributions.Categorical(logits=true).sample()
    t = fit_temperature(true * 3.0, labels, "ce")
    assert 2.4 < t < 3.6


def test_ece_auroc_risk_coverage():
    assert ece([0.95, 0.95, 0.95, 0.95], [1, 1, 1, 0]) == pytest.approx(0.2)
    assert ece([], []) is None
    assert misclassification_auroc([0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1]) == 1.0
    assert misclassification_auroc([0.1, 0.2], [1, 1]) is None
    assert ood_auroc([0.1, 0.2], [0.8, 0.9]) == 1.0
    rc = risk_coverage([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0])
    assert rc["coverage"][-1] == 1.0 and rc["risk"][-1] == 0.5
    assert rc["aurc"] == pytest.approx((0 + 0 + 1 / 3 + 0.5) / 4)
