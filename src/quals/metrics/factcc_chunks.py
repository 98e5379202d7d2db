"""Long documents and multi-sentence summaries for a (document, claim) classifier.

FactCC (Kryscinski et al. 2020) classifies one claim sentence against a document cut to the
encoder's 512 tokens. Summaries have several sentences and news documents are longer than the
encoder, so, as SummaC-ZS (Laban et al. 2022) does, each summary sentence is scored against each
overlapping document chunk, the best chunk counts for the sentence, and the sentences are
aggregated (mean, or min: one unsupported sentence makes the summary inconsistent). Nothing is cut
silently: a sentence longer than half the encoder is cut to that budget and counted as such.
Pure functions over token ids, so the windows are testable by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

AGGREGATIONS = ("mean", "min")


def chunk_spans(n_tokens: int, chunk_tokens: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) token spans covering ``range(n_tokens)``, each at most ``chunk_tokens`` long,
    consecutive spans sharing ``overlap`` tokens (capped at half a chunk); the last span ends at
    ``n_tokens``. An empty document has one empty span, so every sentence still gets a score."""
    if chunk_tokens < 1:
        raise ValueError(f"chunk_tokens must be >= 1, got {chunk_tokens}")
    if n_tokens <= chunk_tokens:
        return [(0, n_tokens)]
    overlap = max(0, min(overlap, chunk_tokens // 2))
    stride = chunk_tokens - overlap
    spans = []
    start = 0
    while True:
        end = min(start + chunk_tokens, n_tokens)
        spans.append((start, end))
        if end == n_tokens:
            return spans
        start += stride


def claim_budget(max_length: int, special_tokens: int) -> int:
    """Most claim tokens kept in one encoder input: half of what the special tokens leave."""
    return max(1, (max_length - special_tokens) // 2)


def document_budget(max_length: int, special_tokens: int, claim_lengths: Sequence[int]) -> int:
    """Document tokens per chunk so that the longest (kept) claim of the summary fits beside it."""
    longest = max(claim_lengths, default=0)
    budget = max_length - special_tokens - longest
    if budget < 1:
        raise ValueError(f"max_length {max_length} leaves no room for the document beside a {longest}-token claim")
    return budget


def best_chunks(probabilities: Sequence[Sequence[float]]) -> list[tuple[int, float]]:
    """(best chunk, its probability) of each sentence; ``probabilities[s][c]`` is p(consistent)
    of sentence s against chunk c. The first chunk wins ties."""
    out = []
    for row in probabilities:
        if not row:
            raise ValueError("a sentence with no chunk score")
        best = max(range(len(row)), key=lambda c: (row[c], -c))
        out.append((best, float(row[best])))
    return out


def aggregate(values: Sequence[float], how: str) -> float:
    """The summary's score from its sentences' best-chunk probabilities."""
    if not values:
        raise ValueError("no sentence to aggregate")
    if how == "mean":
        return math.fsum(values) / len(values)
    if how == "min":
        return min(values)
    raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {how!r}")
