"""Batched teacher-forced log-probs of token sequences given contexts.

Each context (or window of it) is encoded once and shared by all of its sequences, and a context
given more than once (one document under several summaries, as in ConSeq's selection) is encoded
once for all of them. For seq2seq
models the encoder output is computed once per batch and its rows are shared by the sequences,
which are right-padded to the longest in their batch; batches are formed from similar prompt
lengths to keep padding small. For decoder-only models a context's sequences are packed after a
single copy of the prompt in one row (:mod:`quals.models.packing`): no KV cache is copied per
sequence, and rows of similar packed length share a forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from quals.models.backbone import Backbone
from quals.models.packing import pack_row, score_packed
from quals.models.windows import resolve_overlap, split_windows
from quals.types import ContextScores, WindowedLogprobs

_LOGSOFTMAX_ROWS = 8  # rows per float32 log-softmax chunk: bounds memory at rows*len*vocab*4 bytes
#: A packed forward pass holds at most ``batch_size`` sequences and ``batch_size * this`` padded
#: positions. On a CPU, rows gain nothing from sharing a pass (the matrix products of one
#: document row are already large) and padding costs, so 64 sequences allow 1024 positions: a
#: document row alone, or about three summary rows.
PACKED_POSITIONS_PER_SEQUENCE = 16


@dataclass
class _Job:
    context: int
    window: int
    prompt: list[int]
    sequence_indices: list[int]


def _plan_jobs(backbone: Backbone, contexts: Sequence[list[int]], sequences: Sequence[Sequence[Sequence[int]]],
               window_tokens: int, overlap: int | None,
               batch_size: int) -> tuple[list[_Job], list[list[tuple[int, int]]]]:
    jobs: list[_Job] = []
    spans: list[list[tuple[int, int]]] = []
    for c, (context, seqs) in enumerate(zip(contexts, sequences, strict=True)):
        windows = split_windows(len(context), window_tokens, resolve_overlap(overlap, window_tokens))
        spans.append(windows)
        for w, (start, end) in enumerate(windows):
            prompt = backbone.prompt_ids(context[start:end])
            for first in range(0, len(seqs), batch_size):
                jobs.append(_Job(c, w, prompt, list(range(first, min(first + batch_size, len(seqs))))))
    return jobs, spans


def _batches(jobs: list[_Job], batch_size: int, length=None, max_positions: int | None = None) -> list[list[_Job]]:
    """Jobs in order of ``length`` (default: prompt length), cut into batches of at most
    ``batch_size`` sequences and, when given, ``max_positions`` padded positions (a batch's size
    times its longest ``length``; a job longer than that goes alone)."""
    length = length or (lambda job: len(job.prompt))
    ordered = sorted(jobs, key=length)
    batches: list[list[_Job]] = []
    current: list[_Job] = []
    rows = 0
    for job in ordered:
        over_positions = max_positions is not None and (len(current) + 1) * length(job) > max_positions
        if current and (rows + len(job.sequence_indices) > batch_size or over_positions):
            batches.append(current)
            current, rows = [], 0
        current.append(job)
        rows += len(job.sequence_indices)
    if current:
        batches.append(current)
    return batches


def _packed_length(job: _Job, sequences) -> int:
    return len(job.prompt) + sum(len(sequences[job.context][i]) - 1 for i in job.sequence_indices)


def _score_batch_packed(backbone: Backbone, batch: list[_Job], sequences) -> list[list[float]]:
    rows = [pack_row(job.prompt, [sequences[job.context][i] for i in job.sequence_indices]) for job in batch]
    return [values for per_row in score_packed(backbone, rows) for values in per_row]


def _score_batch(backbone: Backbone, batch: list[_Job], sequences) -> list[list[float]]:
    seqs = [list(sequences[job.context][i]) for job in batch for i in job.sequence_indices]
    owner = [j for j, job in enumerate(batch) for _ in job.sequence_indices]
    state = backbone.prefill([job.prompt for job in batch])
    state.select(torch.tensor(owner, device=backbone.device))
    width = max(len(s) for s in seqs)
    tokens = torch.full((len(seqs), width), backbone.pad_token_id, dtype=torch.long, device=backbone.device)
    for row, seq in enumerate(seqs):
        tokens[row, :len(seq)] = torch.tensor(seq)
    logprobs = torch.zeros((len(seqs), width), device=backbone.device)
    logprobs[:, 0] = state.next_logprobs.gather(1, tokens[:, :1]).squeeze(1)
    if width > 1:
        logits = backbone.extend(state, tokens[:, :-1])
        for start in range(0, len(seqs), _LOGSOFTMAX_ROWS):
            chunk = logits[start:start + _LOGSOFTMAX_ROWS].float().log_softmax(-1)
            targets = tokens[start:start + _LOGSOFTMAX_ROWS, 1:, None]
            logprobs[start:start + _LOGSOFTMAX_ROWS, 1:] = chunk.gather(2, targets).squeeze(-1)
    values = logprobs.cpu().tolist()
    return [values[row][:len(seq)] for row, seq in enumerate(seqs)]


def score_sequences(
    backbone: Backbone,
    contexts: Sequence[list[int]],
    sequences: Sequence[Sequence[Sequence[int]]],
    *,
    window_tokens: int,
    window_overlap: int | None = None,
    batch_size: int = 64,
    progress=None,
) -> list[ContextScores]:
    """Per-token log-probs of every sequence under every window of its context.

    Args:
        backbone: the model.
        contexts: tokenized contexts (no special tokens; :meth:`Backbone.prompt_ids` wraps them).
        sequences: for each context, the token-id sequences to score (EOS included if wanted).
        window_tokens: most context tokens per window.
        window_overlap: tokens shared by consecutive windows (None: see ``resolve_overlap``).
        batch_size: most sequences per forward pass.
        progress: optional callable taking the number of finished batches (for progress bars).

    Returns:
        One :class:`ContextScores` per context, sequences in the given order.
    """
    if len(contexts) != len(sequences):
        raise ValueError(f"{len(contexts)} contexts but {len(sequences)} sequence lists")
    for c, seqs in enumerate(sequences):
        for s, seq in enumerate(seqs):
            if len(seq) == 0:
                raise ValueError(f"sequence {s} of context {c} is empty")
    unique, merged, places = _merge_repeated(contexts, sequences)
    scored = _score_unique(backbone, unique, merged, window_tokens, window_overlap, batch_size, progress)
    return [ContextScores(windows=scored[u].windows, sequences=scored[u].sequences[start:start + len(sequences[c])])
            for c, (u, start) in enumerate(places)]


def _merge_repeated(contexts: Sequence[list[int]], sequences: Sequence[Sequence[Sequence[int]]]):
    """Identical contexts as one, holding all of their sequences: the context is then encoded once
    per batch of sequences instead of once per caller. ``places[c]`` is context ``c``'s unique
    context and the offset of its sequences there."""
    index: dict[tuple[int, ...], int] = {}
    unique: list[list[int]] = []
    merged: list[list[Sequence[int]]] = []
    places: list[tuple[int, int]] = []
    for context, seqs in zip(contexts, sequences, strict=True):
        u = index.setdefault(tuple(context), len(unique))
        if u == len(unique):
            unique.append(list(context))
            merged.append([])
        places.append((u, len(merged[u])))
        merged[u].extend(seqs)
    return unique, merged, places


def _score_unique(backbone: Backbone, contexts: Sequence[list[int]], sequences: Sequence[Sequence[Sequence[int]]],
                  window_tokens: int, window_overlap: int | None, batch_size: int, progress) -> list[ContextScores]:
    jobs, spans = _plan_jobs(backbone, contexts, sequences, window_tokens, window_overlap, max(1, batch_size))
    results: list[list[list[tuple[float, ...] | None]]] = [
        [[None] * len(spans[c]) for _ in sequences[c]] for c in range(len(contexts))
    ]
    if backbone.family == "causal":
        batches = _batches(jobs, max(1, batch_size), lambda job: _packed_length(job, sequences),
                           max(1, batch_size) * PACKED_POSITIONS_PER_SEQUENCE)
        score_batch = _score_batch_packed
    else:
        batches, score_batch = _batches(jobs, max(1, batch_size)), _score_batch
    for batch in batches:
        values = iter(score_batch(backbone, batch, sequences))
        for job in batch:
            for i in job.sequence_indices:
                results[job.context][i][job.window] = tuple(next(values))
        if progress is not None:
            progress(1)
    return [
        ContextScores(
            windows=tuple(spans[c]),
            sequences=tuple(WindowedLogprobs(by_window=tuple(per_window)) for per_window in results[c]),
        )
        for c in range(len(contexts))
    ]
