"""Overlapping token windows over a long context: nothing is silently truncated."""

from __future__ import annotations


DEFAULT_OVERLAP = 128


def resolve_overlap(overlap: int | None, window: int) -> int:
    """The overlap to use: ``None`` means 128 tokens, at most half the window (short-context
    models); a value given is used as given or refused, never clamped: it decides how many windows
    a long document takes."""
    if overlap is None:
        return min(DEFAULT_OVERLAP, window // 2)
    if not 0 <= overlap < window:
        raise ValueError(f"window_overlap={overlap} must be >= 0 and smaller than the {window}-token window")
    return overlap


def split_windows(n_tokens: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """``(start, end)`` spans of at most ``window`` tokens covering ``range(n_tokens)``.

    Consecutive windows share at least ``overlap`` tokens; the last window ends at ``n_tokens``.

    >>> split_windows(10, 4, 1)
    [(0, 4), (3, 7), (6, 10)]
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in [0, window), got {overlap} with window {window}")
    if n_tokens <= window:
        return [(0, n_tokens)]
    stride = window - overlap
    starts = list(range(0, n_tokens - window, stride)) + [n_tokens - window]
    return [(start, start + window) for start in starts]
