"""The ConSeq loss (Nan et al., ACL-IJCNLP 2021, section 3): likelihood on S+ summaries,
unlikelihood on S- summaries, token level, in one normalised sum.

For a target token y_t with model distribution p = p(. | y_<t, x) over a vocabulary of V tokens
and smoothing epsilon (paper: 0.1):

- positive (S+) token:  (1 - eps) * -log p(y_t) + (eps / V) * sum_v -log p(v)
- negative (S-) token:  (1 - eps) * -log q(y_t) + (eps / V) * sum_v -log q(v),
  with log q(v) = log(clamp(1 - p(v), min=1e-20))

and L = (sum over positive tokens + sum over negative tokens) / (number of those tokens).

What label smoothing of the unlikelihood term means: exactly what the authors' fairseq criterion
(``label_smoothed_cross_entropy_with_unlikelihood``) does: it replaces the log-probs by
log(clamp(1 - p, 1e-20)) for *every* vocabulary entry and applies the same label-smoothed NLL
formula to them. So the smoothing part pushes probability away from every token (mean of
-log(1 - p(v)) over the vocabulary), not only from y_t. The positive term is the usual
label-smoothed NLL in its fairseq form (``eps / V`` on the uniform part, ``1 - eps`` on the
target), which is also HF ``Trainer``'s ``label_smoothing_factor`` loss, so MLE and ConSeq use
the same smoothing.

Differences from the authors' code, on purpose:
- 1 - p is computed as ``-expm1(log p)``: the exact value where ``1 - exp(log p)`` rounds to 0
  in float32; the clamp then only acts when p is 1 to working precision.
- The normaliser is the number of target tokens in this (micro-)batch; fairseq divided by the
  tokens of the whole update (all GPUs, all accumulation steps). The two agree with one device and
  no gradient accumulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

IGNORE_INDEX = -100


@dataclass(frozen=True)
class ConseqLoss:
    """Value of :func:`conseq_loss`.

    Attributes:
        loss: scalar to minimise: summed token losses / (positive + negative tokens).
        positive: mean loss per positive token (0 when there is none), detached.
        negative: mean loss per negative token (0 when there is none), detached.
        n_positive_tokens: target tokens of positive rows.
        n_negative_tokens: target tokens of negative rows.
    """

    loss: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor
    n_positive_tokens: int
    n_negative_tokens: int


def smoothed_token_losses(logprobs: torch.Tensor, targets: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """(1 - eps) * -logprobs[target] + (eps / V) * sum_v -logprobs[v], per position.

    Args:
        logprobs: (..., V) log-probabilities (or, for unlikelihood, log(1 - p)).
        targets: (...) token ids (any valid id where masked).
        label_smoothing: eps in [0, 1).

    Returns:
        (...) token losses.
    """
    nll = -logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    if label_smoothing == 0.0:
        return nll
    uniform = -logprobs.sum(-1)
    return (1.0 - label_smoothing) * nll + (label_smoothing / logprobs.shape[-1]) * uniform


def unlikelihood_logprobs(logprobs: torch.Tensor, clamp_min: float = 1e-20) -> torch.Tensor:
    """log(clamp(1 - p, min=clamp_min)) for every entry of ``logprobs`` = log p."""
    return torch.log(torch.clamp(-torch.expm1(logprobs), min=clamp_min))


def conseq_loss(logits: torch.Tensor, labels: torch.Tensor, is_positive: torch.Tensor, *,
                label_smoothing: float = 0.1, clamp_min: float = 1e-20,
                ignore_index: int = IGNORE_INDEX) -> ConseqLoss:
    """The ConSeq loss of a batch of positive and negative sequences.

    Args:
        logits: (B, T, V) next-token logits, already aligned with ``labels`` (position t predicts
            ``labels[:, t]``; shift decoder-only outputs before calling).
        labels: (B, T) target ids, ``ignore_index`` where nothing is predicted (prompt, padding).
        is_positive: (B,) bool: True for S+ rows (likelihood), False for S- rows (unlikelihood).
        label_smoothing: eps, applied to both terms (paper: 0.1).
        clamp_min: lower bound of 1 - p in the unlikelihood term (paper: 1e-20).
        ignore_index: label of positions without a target.

    Returns:
        :class:`ConseqLoss`; ``loss`` keeps the graph.

    Raises:
        ValueError: shapes disagree, or no position has a target.
    """
    if logits.dim() != 3 or labels.shape != logits.shape[:2] or is_positive.shape != labels.shape[:1]:
        raise ValueError(f"expected logits (B, T, V), labels (B, T), is_positive (B,); got "
                         f"{tuple(logits.shape)}, {tuple(labels.shape)}, {tuple(is_positive.shape)}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    mask = labels.ne(ignore_index)
    if not bool(mask.any()):
        raise ValueError("no target tokens in the batch")
    targets = labels.masked_fill(~mask, 0)
    positive_rows = is_positive.to(torch.bool)
    logprobs = logits.float().log_softmax(-1)
    sums, counts = [], []
    for rows, unlikely in ((positive_rows, False), (~positive_rows, True)):
        row_mask = mask[rows]
        if not bool(row_mask.any()):
            sums.append(logits.new_zeros((), dtype=torch.float32))
            counts.append(0)
            continue
        values = logprobs[rows]
        if unlikely:
            values = unlikelihood_logprobs(values, clamp_min)
        token_losses = smoothed_token_losses(values, targets[rows], label_smoothing)
        sums.append(torch.where(row_mask, token_losses, 0.0).sum())
        counts.append(int(row_mask.sum()))
    total = (sums[0] + sums[1]) / (counts[0] + counts[1])
    mean = lambda value, n: (value.detach() / n) if n else value.detach() * 0.0  # noqa: E731
    return ConseqLoss(total, mean(sums[0], counts[0]), mean(sums[1], counts[1]), counts[0], counts[1])
