"""Teacher-forced scoring of many sequences after one copy of a prompt (decoder-only models).

The cached path (:func:`quals.models.scoring.score_sequences` for seq2seq models) encodes a
context once and then copies its state into every sequence's row. For a decoder-only model that
state is the prompt's KV cache: ten QA pairs under a 900-token document meant ten copies of a
900-position cache, each re-read by every layer. Here the sequences of one context are instead
packed after a single copy of the prompt, in one row::

    positions   0 .. p-1       p .. p+n1-2        p .. p+n2-2   ...
    tokens      prompt         seq1[:-1]          seq2[:-1]     ...
    attends to  causal         prompt + own past  prompt + own past

A block attention mask lets each sequence see the prompt and its own earlier tokens only, and
position ids restart at ``p`` for every sequence, so each token's log-prob is the one a separate
forward pass of ``prompt + sequence`` gives. The first token of every sequence is predicted by the
prompt's last position, which all sequences share. A row costs ``p + sum(n_i - 1)`` positions
instead of ``n * (p + max n_i)``, and no cache is copied.

Rows of one forward pass are left-padded to the longest; padded positions attend only to
themselves, so that no query row is fully masked (for such a row some attention kernels return
NaN, and a NaN value is not cancelled by the zero weight later queries give it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

_LOGSOFTMAX_ROWS = 8  # rows per log-softmax chunk (float32 or wider): bounds memory at rows*len*vocab*4 bytes


@dataclass(frozen=True)
class PackedRow:
    """One context's prompt followed by its sequences (all token ids, no padding).

    Attributes:
        tokens: model input: the prompt, then every sequence but its last token.
        positions: position id of every input token.
        block: which sequence each input token belongs to (-1: the prompt).
        predictors: for every scored token (all sequences, in order), the input index whose
            output predicts it.
        labels: the scored tokens (all sequences concatenated).
        lengths: tokens of each sequence.
    """

    tokens: list[int]
    positions: list[int]
    block: list[int]
    predictors: list[int]
    labels: list[int]
    lengths: list[int]


def pack_row(prompt: Sequence[int], sequences: Sequence[Sequence[int]]) -> PackedRow:
    """Lay out one prompt and its sequences as described in the module docstring."""
    if not prompt:
        raise ValueError("packing needs a non-empty prompt")
    tokens, positions = list(prompt), list(range(len(prompt)))
    block = [-1] * len(prompt)
    predictors: list[int] = []
    for index, sequence in enumerate(sequences):
        if not sequence:
            raise ValueError(f"sequence {index} is empty")
        start = len(tokens)
        # token t of the sequence is predicted by the output at input index start + t - 1
        # (t = 0: the prompt's last position)
        predictors.extend([len(prompt) - 1, *range(start, start + len(sequence) - 1)])
        tokens.extend(sequence[:-1])
        positions.extend(range(len(prompt), len(prompt) + len(sequence) - 1))
        block.extend([index] * (len(sequence) - 1))
    return PackedRow(tokens, positions, block, predictors, [t for s in sequences for t in s],
                     [len(s) for s in sequences])


def block_mask(block: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """(rows, 1, L, L) boolean mask, True where query i may attend to key j.

    Args:
        block: (rows, L) sequence index of every input position (-1: prompt; padding: any).
        real: (rows, L) True for real tokens, False for left padding.
    """
    order = torch.arange(block.shape[1], device=block.device)
    causal = (order[None, :] <= order[:, None])[None]  # key j not after query i
    same = block[:, :, None] == block[:, None, :]
    prompt_key = block[:, None, :] == -1
    allowed = causal & (same | prompt_key) & real[:, None, :] & real[:, :, None]
    diagonal = torch.eye(block.shape[1], dtype=torch.bool, device=block.device)[None]
    return (allowed | (diagonal & ~real[:, :, None]))[:, None]


@torch.inference_mode()
def score_packed(backbone, rows: Sequence[PackedRow]) -> list[list[list[float]]]:
    """Per-token log-probs of every sequence of every packed row, one forward pass for all rows.

    Returns:
        ``[row][sequence][token]`` float log-probs.
    """
    width = max(len(r.tokens) for r in rows)
    n = len(rows)
    ids = torch.full((n, width), backbone.pad_token_id, dtype=torch.long)
    positions = torch.zeros((n, width), dtype=torch.long)
    block = torch.full((n, width), -2, dtype=torch.long)
    real = torch.zeros((n, width), dtype=torch.bool)
    for r, row in enumerate(rows):
        offset = width - len(row.tokens)
        ids[r, offset:] = torch.tensor(row.tokens)
        positions[r, offset:] = torch.tensor(row.positions)
        block[r, offset:] = torch.tensor(row.block)
        real[r, offset:] = True
    mask = block_mask(block, real)
    # Only outputs that predict a scored token need the output layer: the last `keep` positions
    # of every row hold all of them (rows are left-padded, the prompt's last token is scored too).
    keep = max(len(r.tokens) - min(r.predictors) for r in rows)
    device = backbone.device
    logits = backbone.model(input_ids=ids.to(device), attention_mask=mask.to(device),
                            position_ids=positions.to(device), use_cache=False, logits_to_keep=keep).logits
    out: list[list[list[float]]] = []
    for start in range(0, n, _LOGSOFTMAX_ROWS):
        # At least float32 (bf16/fp16 logits are widened); float64 stays float64, so a float64 run
        # checks the packing against a plain forward without float32 rounding in the way.
        chunk = logits[start:start + _LOGSOFTMAX_ROWS]
        chunk = chunk.to(torch.promote_types(chunk.dtype, torch.float32)).log_softmax(-1)
        for r in range(start, min(start + _LOGSOFTMAX_ROWS, n)):
            row = rows[r]
            shift = keep - len(row.tokens)  # input index i sits at kept position i + shift
            index = torch.tensor(row.predictors, device=device) + shift
            labels = torch.tensor(row.labels, device=device)
            values = chunk[r - start].index_select(0, index).gather(1, labels[:, None])[:, 0].tolist()
            per_sequence, at = [], 0
            for length in row.lengths:
                per_sequence.append(values[at:at + length])
                at += length
            out.append(per_sequence)
    return out
