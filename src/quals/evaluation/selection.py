"""Which benchmark rows a meta-evaluation scores.

Files are read with the user's field names, every split name is mapped to the ``test`` or
``valid`` role (:func:`quals.data.benchmarks.split_role`) and each role is cut to its ``--limit``
in a seeded order. Splits with no role (``train``, a typo, a name the aliases do not know) are
left out with a warning, never guessed: the counts of every split, used or not, are kept so the
command can say what it is about to score before it scores anything, and the report can say it
again afterwards.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from quals.data.benchmarks import (
    SPLIT_ALIASES,
    TEST,
    VALID,
    BenchmarkFields,
    BenchmarkRow,
    read_benchmark,
    select_rows,
    split_role,
)

logger = logging.getLogger(__name__)

ROLES = (TEST, VALID)


@dataclass(frozen=True)
class SplitCount:
    """One split of one dataset as the files name it, the role it plays and its rows."""

    dataset: str
    split: str
    role: str | None  # "test", "valid", or None: not used
    rows: int  # in the files
    selected: int  # after the limits (0 for a split not used)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BenchmarkSelection:
    """The rows to score per dataset (``split`` replaced by the role, in seeded order per role)
    and the count of every split found."""

    datasets: dict[str, list[BenchmarkRow]]
    splits: tuple[SplitCount, ...]

    @property
    def excluded(self) -> tuple[SplitCount, ...]:
        return tuple(s for s in self.splits if s.role is None)


def canonical_limits(limits: dict[str, int] | None, valid_splits: Sequence[str] = (),
                     test_splits: Sequence[str] = ()) -> dict[str, int] | None:
    """``--limit`` keys as roles: ``val=0`` is ``valid=0``; ``*`` (a bare N) is every role.

    Raises:
        ValueError: a key that names no role, or two keys of one role with different values.
    """
    if limits is None:
        return None
    if "*" in limits:
        return dict.fromkeys(ROLES, limits["*"])
    roles: dict[str, int] = {}
    for name, limit in limits.items():
        role = name if name in ROLES else split_role(name, valid_splits, test_splits)
        if role is None:
            raise ValueError(f"--limit names split {name!r}, which is neither a test nor a validation split; "
                             f"use {', '.join(sorted(SPLIT_ALIASES))} or a name given to --test-splits/"
                             "--valid-splits")
        if roles.get(role, limit) != limit:
            raise ValueError(f"--limit gives the {role} split two limits ({roles[role]} and {limit})")
        roles[role] = limit
    return roles


def canonical_scorer_limits(limits: dict[str, int], valid_splits: Sequence[str] = (),
                            test_splits: Sequence[str] = ()) -> dict[str, int]:
    """``--scorer-limit`` keys with their split as a role: ``qags.val=50`` is ``qags.valid=50``."""
    out = {}
    for name, limit in limits.items():
        scorer, dot, split = name.partition(".")
        role = split_role(split, valid_splits, test_splits) if dot else None
        out[f"{scorer}.{role}" if role else name] = limit  # an unknown split stays, for the config to refuse
    return out


def select_benchmarks(files: Sequence[str | Path], *, fields: BenchmarkFields = BenchmarkFields(),
                      valid_splits: Sequence[str] = (), test_splits: Sequence[str] = (),
                      limits: dict[str, int] | None = None, seed: int = 0) -> BenchmarkSelection:
    """Read ``files`` and select the rows of every dataset (see the module docstring).

    ``limits`` maps a role to its rows; a role it does not name keeps all its rows and 0 skips it.

    Raises:
        ValueError: a bad row (from :func:`read_benchmark`), or no test row in any file.
    """
    found: dict[str, list[BenchmarkRow]] = {}
    for path in files:
        for row in read_benchmark(path, fields):
            found.setdefault(row.dataset, []).append(row)
    datasets: dict[str, list[BenchmarkRow]] = {}
    splits: list[SplitCount] = []
    for dataset, rows in found.items():
        counts = Counter(r.split for r in rows)
        roles = {name: split_role(name, valid_splits, test_splits) for name in counts}
        used = [dataclasses.replace(r, split=roles[r.split]) for r in rows if roles[r.split] is not None]
        datasets[dataset] = select_rows(used, limits, seed)
        origin = {r.id: r.split for r in rows}  # several splits may share a role: count each back
        selected = Counter(origin[r.id] for r in datasets[dataset])
        for name in sorted(counts, key=lambda n: (roles[n] is None, roles[n] or "", n)):
            splits.append(SplitCount(dataset, name, roles[name], counts[name], selected[name]))
        if not any(r.split == TEST for r in datasets[dataset]):
            logger.warning("%s: no test rows selected (splits: %s): nothing to report for it", dataset,
                           ", ".join(f"{n} {c}" for n, c in counts.items()))
    selection = BenchmarkSelection(datasets, tuple(splits))
    if selection.excluded:
        logger.warning("split(s) left out, neither a test nor a validation split name (%s): %s; name them with "
                       "--test-splits or --valid-splits to use them", ", ".join(sorted(SPLIT_ALIASES)),
                       "; ".join(f"{s.dataset}: {s.split!r} ({_rows(s.rows)})" for s in selection.excluded))
    if not any(r.split == TEST for rows in datasets.values() for r in rows):
        raise ValueError("no test rows to evaluate: the splits found are "
                         + "; ".join(f"{s.dataset}: {s.split!r} ({_rows(s.rows)})" for s in splits)
                         + " (statistics are computed on the test split; --test-splits names others)")
    return selection



def subset_suffix(limits: dict[str, int] | None) -> str:
    """File-name suffix naming the subset, so runs of different subsets never share a score file."""
    if limits is None:
        return ""
    if "*" in limits:
        return f".first{limits['*']}"
    return "".join(f".{split}{n}" for split, n in sorted(limits.items()))


def scorer_subset(rows: list[BenchmarkRow], limits: dict[str, int] | None) -> list[BenchmarkRow]:
    """The first ``limits[split]`` selected rows of each split (``"*"``: of every split) for one
    ``--scorer-limit``; a split the limits do not name is not scored by that scorer."""
    if limits is None:
        return rows
    taken: dict[str, int] = {}
    subset = []
    for row in rows:  # rows are in the seeded order per split: the first `limit` of each split
        limit = limits.get("*", limits.get(row.split, 0))
        if taken.get(row.split, 0) < limit:
            subset.append(row)
            taken[row.split] = taken.get(row.split, 0) + 1
    return subset


def describe_selection(selection: BenchmarkSelection, limits: dict[str, int] | None, *,
                       scoring: bool = True) -> list[str]:
    """Lines that say, per dataset, how many rows of each split are selected and why, e.g.
    ``frank: test 400 of 1575 (limit 400), valid 671 of 671 (all: --limit does not name it)``."""
    lines = [f"rows {'to score' if scoring else 'selected'} per dataset and split (seeded):"]
    for dataset in selection.datasets:
        parts = []
        for s in (s for s in selection.splits if s.dataset == dataset):
            why = []
            if s.role is not None and s.role != s.split:
                why.append(f"as {s.role}")
            if s.role is None:
                why.append("left out: unknown split name; name it with --test-splits or --valid-splits")
            elif limits and s.role in limits:
                why.append("skipped: limit 0" if limits[s.role] == 0 else f"limit {limits[s.role]}")
            elif limits:
                why.append("all: --limit does not name it")
            parts.append(f"{s.split} {s.selected} of {s.rows}" + (f" ({'; '.join(why)})" if why else ""))
        lines.append(f"  {dataset}: " + ", ".join(parts))
    return lines


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"
