"""The ConSeq loss against hand computations on tiny tensors, and its properties."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from quals.training.conseq.loss import conseq_loss

LN2, LN3 = math.log(2.0), math.log(3.0)


def _logits(*rows: list[float]) -> torch.Tensor:
    """(B, 1, V) logits whose softmax is exactly the given probabilities."""
    return torch.tensor([[list(map(math.log, row))] for row in rows], dtype=torch.float32)


def test_hand_computation_without_smoothing():
    # p = (1/2, 1/4, 1/4) in both rows; positive target 0, negative target 1.
    logits = _logits([0.5, 0.25, 0.25], [0.5, 0.25, 0.25])
    labels = torch.tensor([[0], [1]])
    out = conseq_loss(logits, labels, torch.tensor([True, False]), label_smoothing=0.0)
    positive, negative = LN2, -math.log(0.75)  # -log p(y) and -log(1 - p(y))
    assert float(out.positive) == pytest.approx(positive, rel=1e-6)
    assert float(out.negative) == pytest.approx(negative, rel=1e-6)
    assert float(out.loss) == pytest.approx((positive + negative) / 2, rel=1e-6)
    assert (out.n_positive_tokens, out.n_negative_tokens) == (1, 1)


def test_hand_computation_with_label_smoothing_on_both_terms():
    eps, vocab = 0.1, 3
    logits = _logits([0.5, 0.25, 0.25], [0.5, 0.25, 0.25])
    out = conseq_loss(logits, torch.tensor([[0], [1]]), torch.tensor([True, False]), label_smoothing=eps)
    # positive: (1-eps) * -log p(0) + eps/V * sum_v -log p(v) = 0.9 ln2 + 0.1/3 * (ln2 + 2 ln4)
    positive = (1 - eps) * LN2 + eps / vocab * (LN2 + 4 * LN2)
    # negative, the authors' semantics: the same formula over log(1 - p(v)) for every v.
    q = [math.log(0.5), math.log(0.75), math.log(0.75)]
    negative = (1 - eps) * -q[1] + eps / vocab * -sum(q)
    assert float(out.positive) == pytest.approx(positive, rel=1e-6)
    assert float(out.negative) == pytest.approx(negative, rel=1e-6)
    assert float(out.loss) == pytest.approx((positive + negative) / 2, rel=1e-6)


def test_normalised_by_all_target_tokens_and_ignores_masked_positions():
    # Positive row: 2 targets (third position ignored); negative row: 1 target.
    logits = torch.tensor([[[0.0, 0.0, 0.0]] * 3, [[0.0, 0.0, 0.0]] * 3])  # uniform: p = 1/3 everywhere
    labels = torch.tensor([[0, 2, -100], [-100, 1, -100]])
    out = conseq_loss(logits, labels, torch.tensor([True, False]), label_smoothing=0.0)
    total = 2 * LN3 + -math.log(2 / 3)
    assert float(out.loss) == pytest.approx(total / 3, rel=1e-6)
    assert (out.n_positive_tokens, out.n_negative_tokens) == (2, 1)
    assert float(out.positive) == pytest.approx(LN3, rel=1e-6)


def test_unlikelihood_is_clamped_when_the_negative_token_is_certain():
    # p(target) = 1 to float32 precision: 1 - p = 0, clamped at 1e-20 -> -log(1e-20) = 46.05...
    logits = torch.tensor([[[0.0, -1e4, -1e4]]], requires_grad=True)
    labels = torch.tensor([[0]])
    out = conseq_loss(logits, labels, torch.tensor([False]), label_smoothing=0.0)
    assert float(out.loss.detach()) == pytest.approx(-math.log(1e-20), rel=1e-6)
    out.loss.backward()
    assert torch.isfinite(logits.grad).all()
    # With smoothing: the two impossible tokens have 1 - p = 1, log 1 = 0.
    logits = logits.detach()
    smoothed = conseq_loss(logits, labels, torch.tensor([False]), label_smoothing=0.1)
    expected = 0.9 * -math.log(1e-20) + 0.1 / 3 * -math.log(1e-20)
    assert float(smoothed.loss) == pytest.approx(expected, rel=1e-6)
    looser = conseq_loss(logits, labels, torch.tensor([False]), label_smoothing=0.0, clamp_min=1e-5)
    assert float(looser.loss) == pytest.approx(-math.log(1e-5), rel=1e-6)


def test_positive_term_equals_hf_label_smoother():
    from transformers.trainer_pt_utils import LabelSmoother

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 11, generator=generator)
    labels = torch.randint(0, 11, (3, 5), generator=generator)
    labels[0, 3:] = -100
    ours = conseq_loss(logits, labels, torch.ones(3, dtype=torch.bool), label_smoothing=0.1)
    theirs = LabelSmoother(epsilon=0.1)({"logits": logits}, labels)
    assert float(ours.loss) == pytest.approx(float(theirs), rel=1e-5)
    assert float(ours.negative) == 0.0 and ours.n_negative_tokens == 0


def test_rejects_bad_inputs():
    logits = torch.zeros(2, 1, 3)
    with pytest.raises(ValueError, match="no target tokens"):
        conseq_loss(logits, torch.full((2, 1), -100), torch.tensor([True, False]))
    with pytest.raises(ValueError, match="expected logits"):
        conseq_loss(logits, torch.zeros(2, 2, dtype=torch.long), torch.tensor([True, False]))
    with pytest.raises(ValueError, match="label_smoothing"):
        conseq_loss(logits, torch.zeros(2, 1, dtype=torch.long), torch.tensor([True, False]), label_smoothing=1.0)


_logit_rows = st.lists(st.floats(-8, 8, allow_nan=False), min_size=4, max_size=4)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_logit_rows, min_size=2, max_size=2), target=st.integers(0, 3),
       step=st.floats(0.01, 5.0), eps=st.sampled_from([0.0, 0.1]))
def test_finite_and_monotone_in_the_target_logprob(rows, target, step, eps):
    """Finite; with eps = 0, does not rise as a positive token's log-prob rises or a negative
    token's log-prob falls. (With eps > 0 the positive term has its optimum at p = 1 - eps + eps/V,
    so monotonicity holds only below it: checked there.)"""
    logits = torch.tensor([[rows[0]], [rows[1]]], dtype=torch.float32)
    labels = torch.tensor([[target], [target]])
    is_positive = torch.tensor([True, False])
    base = conseq_loss(logits, labels, is_positive, label_smoothing=eps)
    assert math.isfinite(float(base.loss))
    up = logits.clone()
    up[0, 0, target] += step  # positive token more likely
    down = logits.clone()
    down[1, 0, target] -= step  # negative token less likely
    raised = conseq_loss(up, labels, is_positive, label_smoothing=eps)
    lowered = conseq_loss(down, labels, is_positive, label_smoothing=eps)
    p_positive = float(up[0, 0].softmax(-1)[target])
    if eps == 0.0 or p_positive < 1 - eps:
        assert float(raised.positive) <= float(base.positive) + 1e-5
    if eps == 0.0:
        assert float(lowered.negative) <= float(base.negative) + 1e-5
