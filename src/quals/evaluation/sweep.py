"""Compare QUALS aggregation settings on dev sets from one scoring run, with paired intervals.

Every setting is re-aggregated from the same score records (:mod:`quals.metrics.reaggregate`), so
all settings see the same rows and the same QA pairs, and the comparison costs no model call. The
bootstrap draws one set of row resamples per dev set and evaluates every setting on it, so a
difference between two settings is paired: its interval says whether the data can tell them apart.

Statistics are vectorised over resamples (thousands of correlations per setting); they equal
:func:`quals.evaluation.statistics.correlation` and ``partial_correlation`` (tested).
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from quals.metrics.aggregation import PAIR_REDUCTIONS, TOKEN_SETS, AggregationConfig
from quals.metrics.reaggregate import reaggregate_record


@dataclass(frozen=True)
class Setting:
    """One aggregation of QUALS: how per-token log-probs become a score, and the pair cap."""

    aggregation: AggregationConfig
    max_pairs: int

    @property
    def name(self) -> str:
        a = self.aggregation
        over = f"lowest{a.lowest_k}" if a.pair_aggregation == "lowest_k" else a.pair_aggregation
        return f"{a.token_set}/{a.pair_reduction}/{over}/{self.max_pairs}"

    def departures(self, reference: Setting) -> int:
        """How many choices differ from ``reference`` (lowest_k's k counts only when both use it)."""
        a, b = self.aggregation, reference.aggregation
        count = sum(getattr(a, f) != getattr(b, f) for f in ("token_set", "pair_reduction", "pair_aggregation"))
        return count + (self.max_pairs != reference.max_pairs)


PAPER_AGGREGATION = Setting(AggregationConfig(), 10)


def aggregation_grid(token_sets: Sequence[str] = tuple(TOKEN_SETS), reductions: Sequence[str] = PAIR_REDUCTIONS,
                     aggregations: Sequence[str] = ("mean", "min", "lowest_k"), caps: Sequence[int] = (5, 10),
                     lowest_k: int = 3) -> list[Setting]:
    return [Setting(AggregationConfig(t, r, a, lowest_k), cap)
            for t, r, a, cap in itertools.product(token_sets, reductions, aggregations, caps)]


@dataclass(frozen=True)
class DevSet:
    """QUALS score records of one benchmark subset, with the human scores of their rows.

    ``systems`` given: the statistic is the partial Spearman controlling for the system (FRANK);
    otherwise the Spearman correlation.
    """

    name: str
    records: tuple[dict, ...]
    human: dict[str, float]
    systems: dict[str, str] | None = None

    @property
    def statistic(self) -> str:
        return "partial Spearman" if self.systems else "Spearman"

    def scored(self) -> list[dict]:
        """Records with a QUALS score and a human score (the same rows under every setting)."""
        return [r for r in self.records if not r.get("error") and r.get("score") is not None and r["id"] in self.human]


def values_under(records: Sequence[dict], setting: Setting) -> np.ndarray:
    return np.array([reaggregate_record(r, setting.aggregation, setting.max_pairs)["score"] for r in records])


@dataclass(frozen=True)
class SweepRow:
    setting: Setting
    by_set: dict[str, float]
    criterion: float
    difference: float  # criterion minus the reference setting's
    interval: tuple[float, float]  # paired bootstrap 95% CI of the difference
    set_differences: dict[str, float] = field(default_factory=dict)


@dataclass
class _Prepared:
    human: np.ndarray
    groups: np.ndarray | None
    resamples: np.ndarray  # (n_resamples, n) row indices
    records: list[dict]


def sweep(devsets: Sequence[DevSet], settings: Sequence[Setting], reference: Setting = PAPER_AGGREGATION, *,
          seed: int = 0, n_resamples: int = 1000) -> list[SweepRow]:
    """Criterion (mean dev statistic) of every setting and its paired difference to ``reference``,
    best first."""
    rng = np.random.default_rng(seed)
    prepared = {}
    for dev in devsets:
        records = dev.scored()
        if len(records) < 3:
            raise ValueError(f"{dev.name}: {len(records)} scored rows with a human score; need at least 3")
        ids = [r["id"] for r in records]
        groups = None if dev.systems is None else np.unique([dev.systems[i] for i in ids], return_inverse=True)[1]
        prepared[dev.name] = _Prepared(np.array([dev.human[i] for i in ids], dtype=float), groups,
                                       rng.integers(0, len(ids), size=(n_resamples, len(ids))), records)

    def statistics(setting: Setting) -> dict[str, tuple[float, np.ndarray]]:
        out = {}
        for name, p in prepared.items():
            values = values_under(p.records, setting)
            point = rank_correlation(values[None, :], p.human[None, :],
                                     None if p.groups is None else p.groups[None, :])[0]
            boot = rank_correlation(values[p.resamples], p.human[p.resamples],
                                    None if p.groups is None else p.groups[p.resamples])
            out[name] = (float(point), boot)
        return out

    base = statistics(reference)
    base_criterion = np.mean([v for v, _ in base.values()])
    base_boot = np.mean([b for _, b in base.values()], axis=0)
    rows = []
    for setting in settings:
        own = statistics(setting)
        criterion = float(np.mean([v for v, _ in own.values()]))
        diff_boot = np.mean([b for _, b in own.values()], axis=0) - base_boot
        finite = diff_boot[np.isfinite(diff_boot)]
        low, high = np.percentile(finite, [2.5, 97.5]) if finite.size else (np.nan, np.nan)
        rows.append(SweepRow(setting, {n: v for n, (v, _) in own.items()}, criterion,
                             criterion - float(base_criterion), (float(low), float(high)),
                             {n: own[n][0] - base[n][0] for n in own}))
    return sorted(rows, key=lambda r: -r.criterion)


def rank_correlation(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Row-wise Spearman of (k, n) arrays; with ``groups``, the partial Spearman controlling for
    them (ranks minus their group means, then Pearson), as FRANK computes it. NaN where a side is
    constant."""
    x = stats.rankdata(x, axis=1)
    y = stats.rankdata(y, axis=1)
    if groups is not None:
        x, y = _residuals(x, groups), _residuals(y, groups)
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * y).sum(axis=1) / denominator
    r[~(denominator > 1e-12)] = np.nan
    return r


def _residuals(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    out = values.astype(float).copy()
    for g in np.unique(groups):
        mask = groups == g
        counts = mask.sum(axis=1)
        means = np.where(counts > 0, (values * mask).sum(axis=1) / np.maximum(counts, 1), 0.0)
        out -= mask * means[:, None]
    return out


def choose(rows: Sequence[SweepRow], reference: Setting = PAPER_AGGREGATION, *, within: float = 0.01,
           max_set_loss: float = 0.05) -> tuple[SweepRow, str]:
    """The pre-registered decision rule of docs/agreement.md: the simplest setting within
    ``within`` of the best criterion; adopted only if its paired interval lies above 0 and it loses
    no more than ``max_set_loss`` on any dev set, otherwise ``reference`` stays. Returns the row
    that wins and why."""
    best = max(r.criterion for r in rows)
    close = [r for r in rows if r.criterion >= best - within]
    pick = min(close, key=lambda r: (r.setting.departures(reference), -r.criterion))
    current = next(r for r in rows if r.setting == reference)
    if pick.setting == reference:
        return current, "the reference is the simplest of the best settings"
    if not pick.interval[0] > 0:
        return current, (f"{pick.setting.name} leads by {pick.difference:+.3f}, but its paired interval "
                         f"[{pick.interval[0]:+.3f}, {pick.interval[1]:+.3f}] does not lie above 0")
    worst = min(pick.set_differences.items(), key=lambda kv: kv[1])
    if worst[1] < -max_set_loss:
        return current, f"{pick.setting.name} loses {worst[1]:+.3f} on {worst[0]} (more than {max_set_loss})"
    return pick, (f"{pick.setting.name}: criterion {pick.criterion:.3f} vs {current.criterion:.3f}, difference "
                  f"{pick.difference:+.3f} [{pick.interval[0]:+.3f}, {pick.interval[1]:+.3f}]")


@dataclass(frozen=True)
class Comparison:
    """A setting against another metric on the rows both scored, per dev set."""

    metric: str
    dataset: str
    n: int
    setting_statistic: float
    metric_statistic: float
    difference: float
    interval: tuple[float, float]


def _paired(dev: DevSet, setting: Setting, values: dict[str, float | None], seed: int, n_resamples: int
            ) -> tuple[int, float, float, np.ndarray]:
    """Rows, the setting's and the other values' statistic, and the bootstrap differences."""
    records = [r for r in dev.scored() if values.get(r["id"]) is not None]
    if len(records) < 3:
        raise ValueError(f"{dev.name}: {len(records)} rows scored by both")
    ids = [r["id"] for r in records]
    ours = values_under(records, setting)
    theirs = np.array([values[i] for i in ids], dtype=float)
    human = np.array([dev.human[i] for i in ids], dtype=float)
    systems = None if dev.systems is None else [dev.systems[i] for i in ids]
    a, b, differences = paired_rank_difference(ours, theirs, human, systems, seed=seed, n_resamples=n_resamples)
    return len(ids), a, b, differences


def paired_rank_difference(a: np.ndarray, b: np.ndarray, human: np.ndarray, systems: Sequence[str] | None = None,
                           *, seed: int = 0, n_resamples: int = 1000) -> tuple[float, float, np.ndarray]:
    """Spearman (partial by system when ``systems`` are given) of two metrics' scores of the same
    rows with the human scores, and the bootstrap distribution of their difference, both resampled
    with the same rows."""
    n = len(human)
    groups = None if systems is None else np.unique(list(systems), return_inverse=True)[1]
    index = np.vstack([np.arange(n), np.random.default_rng(seed).integers(0, n, (n_resamples, n))])
    g = None if groups is None else groups[index]
    x = rank_correlation(np.asarray(a, dtype=float)[index], np.asarray(human, dtype=float)[index], g)
    y = rank_correlation(np.asarray(b, dtype=float)[index], np.asarray(human, dtype=float)[index], g)
    return float(x[0]), float(y[0]), (x - y)[1:]


def compare_with(dev: DevSet, setting: Setting, metric: str, values: dict[str, float | None], *, seed: int = 0,
                 n_resamples: int = 1000) -> Comparison:
    """The setting's statistic minus another metric's (e.g. ROUGE-2 precision) on the rows both
    scored, with a paired bootstrap 95% interval."""
    n, a, b, diff = _paired(dev, setting, values, seed, n_resamples)
    low, high = np.nanpercentile(diff, [2.5, 97.5])
    return Comparison(metric, dev.name, n, a, b, a - b, (float(low), float(high)))


@dataclass(frozen=True)
class RunComparison:
    """One scoring run's setting against another run's (another QAGen), on the rows both scored."""

    by_set: list[Comparison]
    difference: float  # mean over the dev sets of the per-set differences (the criterion's)
    interval: tuple[float, float]  # paired bootstrap 95% CI of that mean


def compare_runs(ours: Sequence[DevSet], theirs: Sequence[DevSet], setting: Setting,
                 their_setting: Setting = PAPER_AGGREGATION, *, label: str = "other run", seed: int = 0,
                 n_resamples: int = 1000) -> RunComparison:
    """``setting`` on ``ours`` minus ``their_setting`` on ``theirs``, dev set by dev set (matched by
    name, rows by id), and the criterion's difference with an interval from the same resamples."""
    by_name = {dev.name: dev for dev in theirs}
    missing = [dev.name for dev in ours if dev.name not in by_name]
    if missing:
        raise ValueError(f"the other run has no dev set {missing}")
    rows, diffs = [], []
    for k, dev in enumerate(ours):
        other = {r["id"]: s for r, s in zip(by_name[dev.name].scored(),
                                            values_under(by_name[dev.name].scored(), their_setting), strict=True)}
        n, a, b, diff = _paired(dev, setting, other, seed + k, n_resamples)
        low, high = np.nanpercentile(diff, [2.5, 97.5])
        rows.append(Comparison(label, dev.name, n, a, b, a - b, (float(low), float(high))))
        diffs.append(diff)
    mean = np.mean(diffs, axis=0)
    low, high = np.nanpercentile(mean, [2.5, 97.5])
    return RunComparison(rows, float(np.mean([c.difference for c in rows])), (float(low), float(high)))


SWITCH_RULES = ("qagen", "generation")


def switch(comparison: RunComparison, rule: str = "qagen", *, max_set_loss: float = 0.05) -> tuple[bool, str]:
    """The pre-registered run-against-run rules of docs/agreement.md: whether this run replaces the
    other, and why. ``qagen`` (the same method on more data): adopt unless the criterion difference
    is below 0. ``generation`` (a setting that costs every user more time): adopt only if the
    difference's paired interval lies above 0. Both refuse a run that loses more than
    ``max_set_loss`` on any one dev set."""
    if rule not in SWITCH_RULES:
        raise ValueError(f"rule must be one of {SWITCH_RULES}, got {rule!r}")
    worst = min(comparison.by_set, key=lambda c: c.difference)
    low, high = comparison.interval
    why = (f"criterion difference {comparison.difference:+.3f} [{low:+.3f}, {high:+.3f}]; largest loss on one "
           f"set {worst.difference:+.3f} ({worst.dataset})")
    if worst.difference < -max_set_loss:
        return False, why
    gained = low > 0 if rule == "generation" else comparison.difference >= 0
    return gained, why


def write_row_scores(devsets: Sequence[DevSet], settings: Sequence[Setting], path: str | Path) -> None:
    """Every scored row's value under each setting, one JSON line per (row, setting), gzipped.

    Small enough to commit beside a study's tables (a scoring run's per-token records are not), so
    a later comparison with another metric or run can be paired on the same rows without scoring
    them again. The gzip header carries no time or name: equal scores give equal bytes.
    """
    lines = []
    for dev in devsets:
        dataset, _, split = dev.name.partition("/")
        records = dev.scored()
        for setting in settings:
            for record, value in zip(records, values_under(records, setting), strict=True):
                lines.append(json.dumps({"dataset": dataset, "split": split, "id": record["id"],
                                         "setting": setting.name, "score": float(value)}))
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
        out.write(("\n".join(lines) + "\n").encode())


def read_row_scores(path: str | Path, name: str) -> dict[str, dict[str, dict[str, float | None]]]:
    """Per-row scores of a committed file (lines with dataset, id, score; e.g. QAGS's, or
    :func:`write_row_scores`'s, whose ``setting`` is appended to ``name``) as
    ``{dataset: {label: {id: score}}}``, the shape :func:`compare_with` takes per dataset."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            label = f"{name} {row['setting']}" if "setting" in row else name
            out.setdefault(row["dataset"], {}).setdefault(label, {})[row["id"]] = row["score"]
    return out
