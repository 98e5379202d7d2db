"""Paired bootstrap significance of a difference between two systems scored on the same rows
(Koehn 2004; Berg-Kirkpatrick et al. 2012).

Written by hand because scipy's ``stats.bootstrap`` gives confidence intervals but not this test's
p-value; the resampling is a few lines of numpy with an explicit seeded ``Generator`` (never global
state), so results are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

_RESAMPLES_PER_BLOCK = 256  # bounds memory at block * n indices


@dataclass(frozen=True)
class PairedBootstrap:
    """Result of :func:`paired_bootstrap`.

    Attributes:
        n: paired rows.
        mean_a: mean of system A (the baseline).
        mean_b: mean of system B.
        delta: mean_b - mean_a.
        ci_low, ci_high: percentile bootstrap interval of ``delta``.
        p_value: two-sided: 2 * min(share of resampled deltas <= 0, share >= 0), at most 1.
        n_resamples: bootstrap resamples drawn.
        seed: generator seed.
    """

    n: int
    mean_a: float
    mean_b: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n_resamples: int
    seed: int

    def to_dict(self) -> dict:
        return asdict(self)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, n_resamples: int = 1000, seed: int = 0,
                     confidence: float = 0.95) -> PairedBootstrap:
    """Resample rows with replacement and see how often B's advantage over A vanishes.

    Args:
        a: per-row scores of the baseline system.
        b: per-row scores of the other system, same rows in the same order.
        n_resamples: bootstrap resamples (1,000 is the usual choice).
        seed: seed of the ``numpy.random.Generator``.
        confidence: level of the interval of ``delta``.

    Raises:
        ValueError: different lengths, fewer than 2 rows, a non-finite value, or bad settings.

    >>> result = paired_bootstrap([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4])
    >>> (result.delta, result.p_value)
    (0.0, 1.0)
    """
    import numpy as np

    if len(a) != len(b):
        raise ValueError(f"paired samples need the same rows: {len(a)} vs {len(b)} scores")
    if len(a) < 2:
        raise ValueError(f"need at least 2 paired rows, got {len(a)}")
    if n_resamples < 1 or not 0.0 < confidence < 1.0:
        raise ValueError(f"n_resamples must be >= 1 and confidence in (0, 1); got {n_resamples}, {confidence}")
    values_a, values_b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not (np.isfinite(values_a).all() and np.isfinite(values_b).all()):
        raise ValueError("scores must be finite numbers (drop missing rows from both systems first)")
    differences = values_b - values_a
    rng = np.random.default_rng(seed)
    deltas = np.empty(n_resamples)
    for start in range(0, n_resamples, _RESAMPLES_PER_BLOCK):
        size = min(_RESAMPLES_PER_BLOCK, n_resamples - start)
        rows = rng.integers(0, len(differences), size=(size, len(differences)))
        deltas[start:start + size] = differences[rows].mean(axis=1)
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(deltas, [tail, 1.0 - tail])
    p_value = min(1.0, 2.0 * min(float((deltas <= 0).mean()), float((deltas >= 0).mean())))
    return PairedBootstrap(n=len(differences), mean_a=math.fsum(values_a) / len(values_a),
                           mean_b=math.fsum(values_b) / len(values_b),
                           delta=float(math.fsum(differences) / len(differences)), ci_low=float(low),
                           ci_high=float(high), p_value=p_value, n_resamples=n_resamples, seed=seed)
