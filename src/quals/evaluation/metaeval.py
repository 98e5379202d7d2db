"""Meta-evaluation: score human-annotated benchmarks with metrics and measure agreement with people.

Scoring goes through the batch runner, so every (dataset, scorer) run resumes after an
interruption and reuses cached QA generations; the statistics are recomputed from the score files
each time, which makes re-running with another ``--seed`` or more bootstrap resamples cheap.

Layout of the output folder::

    inputs/<dataset>[.first<k>].jsonl      the selected rows (seeded order), as the scorer reads them
    scores/<dataset>/<scorer>[.first<k>].jsonl   per-row scores (+ .run.json sidecars)
    meta_eval.json, meta_eval.md, meta_eval.png
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from quals.batch.runner import RunConfig, score_file
from quals.data.benchmarks import BenchmarkRow, read_benchmark, select_rows, write_rows
from quals.data.readers import FieldMap
from quals.evaluation.agreement import Agreement, MetricValue, agreement, common_rows
from quals.files import atomic_write_json, atomic_write_text

logger = logging.getLogger(__name__)

# metric name -> the scorer that computes it (one run of a scorer yields all of its metrics)
METRIC_SCORERS = {
    "quals": "quals", "qags": "qags", "factcc": "factcc",
    "overlap": "lexical", "rouge1": "lexical", "rouge2": "lexical", "rougeL": "lexical",
    "loglik": "likelihood", "pmi": "likelihood",
}
DEFAULT_METRICS = ("quals", "overlap", "rouge1", "rouge2", "rougeL", "loglik", "pmi")


@dataclass(frozen=True)
class MetaEvalConfig:
    """What to measure and on which rows."""

    metrics: tuple[str, ...] = field(default=DEFAULT_METRICS, metadata={"help": "Metrics to evaluate."})
    limits: dict[str, int] | None = field(
        default=None, metadata={"help": "Rows per split (e.g. {'test': 400, 'valid': 200}); None = all."})
    scorer_limits: dict[str, int] = field(
        default_factory=dict,
        metadata={"help": "Smaller subsets for costly scorers, nested in the main selection so they compare "
                          "on the same rows: {'qags': 100} takes the first 100 seeded rows of every split, "
                          "{'qags.test': 100} of the test split only (no valid rows, so no threshold)."})
    seed: int = field(default=0, metadata={"help": "Seeds the row selection and the bootstrap."})
    n_resamples: int = field(default=1000, metadata={"help": "Bootstrap resamples for the 95% intervals."})

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in METRIC_SCORERS]
        if unknown or not self.metrics:
            raise ValueError(f"unknown metrics {unknown}; choose from {sorted(METRIC_SCORERS)}")
        for name, limit in {**(self.limits or {}), **self.scorer_limits}.items():
            if limit < 1:
                raise ValueError(f"limit for {name!r} must be >= 1, got {limit}")
        scorers = {METRIC_SCORERS[m] for m in self.metrics}
        bad = [name for name in self.scorer_limits if name.split(".", 1)[0] not in scorers]
        if bad:
            raise ValueError(f"--scorer-limit names {bad}, but the scorers in use are {sorted(scorers)}")
        if self.n_resamples < 100:
            raise ValueError(f"n_resamples must be >= 100, got {self.n_resamples}")

    @property
    def scorers(self) -> list[str]:
        return list(dict.fromkeys(METRIC_SCORERS[m] for m in self.metrics))


@dataclass(frozen=True)
class ScorerRun:
    """What one scorer recorded about its run: its ``run_info()`` (signature, model, settings,
    versions; the score sidecar's ``run``), as the scorer wrote it."""

    scorer: str
    info: dict
    reaggregated: Reaggregation | None = None

    @property
    def signature(self) -> str:
        return self.info.get("signature", "")

    def to_dict(self) -> dict:
        if self.reaggregated is None:
            return dict(self.info)
        return {**self.info, "settings": self.reaggregated.settings, "reaggregated": self.reaggregated.to_dict()}

    @classmethod
    def from_dict(cls, scorer: str, data: dict) -> ScorerRun:
        info = dict(data)
        if "reaggregated" not in info:
            return cls(scorer, info)
        recorded = info.pop("reaggregated")
        settings = info.pop("settings")
        return cls(scorer, info, Reaggregation(recorded["from"], recorded["overrides"], settings))


@dataclass(frozen=True)
class Reaggregation:
    """A report-only run recomputed QUALS from ``source``'s per-token log-probs with ``overrides``;
    ``settings`` are the full settings those numbers mean (they replace the recorded ones)."""

    source: str
    overrides: dict
    settings: dict

    def to_dict(self) -> dict:
        return {"from": self.source, "overrides": dict(self.overrides)}


@dataclass(frozen=True)
class ScatterPoints:
    """The test rows of one dataset with a value of one metric: that value and the human score."""

    dataset: str
    metric: str
    metric_scores: tuple[float, ...]
    human_scores: tuple[float, ...]


@dataclass(frozen=True)
class IncompleteScores:
    """A score file still being written when a report-only run read it."""

    dataset: str
    scorer: str
    scored_rows: int
    selected_rows: int

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.scorer}"


@dataclass(frozen=True)
class MetaEvalResult:
    """All numbers of a meta-evaluation.

    ``meta_eval.json`` is :meth:`to_dict`; :meth:`from_dict` reads it back (without ``points``,
    which only the plot uses and the file does not hold).
    """

    agreements: tuple[Agreement, ...]
    common: tuple[Agreement, ...]
    runs: tuple[ScorerRun, ...]
    config: MetaEvalConfig
    files: tuple[str, ...]
    points: tuple[ScatterPoints, ...] = ()
    incomplete: tuple[IncompleteScores, ...] = ()

    def run(self, scorer: str) -> ScorerRun | None:
        return next((r for r in self.runs if r.scorer == scorer), None)

    def to_dict(self) -> dict:
        return {"config": {**asdict(self.config), "files": list(self.files)},
                "runs": {r.scorer: r.to_dict() for r in self.runs},
                "agreements": [a.to_dict() for a in self.agreements],
                "common_rows": [a.to_dict() for a in self.common],
                "incomplete": {i.name: {"scored_rows": i.scored_rows, "selected_rows": i.selected_rows}
                               for i in self.incomplete}}

    @classmethod
    def from_dict(cls, data: dict) -> MetaEvalResult:
        """Read ``meta_eval.json`` (as :meth:`to_dict` writes it).

        The file sorts its keys, so runs and incomplete files come back in the order a run makes
        them: scorers as ``config.metrics`` names them, datasets as the agreements list them.
        """
        config_data = dict(data["config"])
        files = tuple(config_data.pop("files", ()))
        config = MetaEvalConfig(**{**config_data, "metrics": tuple(config_data["metrics"])})
        agreements = tuple(Agreement.from_dict(a) for a in data["agreements"])
        scorer_order = {name: k for k, name in enumerate(config.scorers)}
        group_order = {name: k for k, name in enumerate(dict.fromkeys(a.group for a in agreements))}
        runs = [ScorerRun.from_dict(name, info) for name, info in data.get("runs", {}).items()]
        runs.sort(key=lambda r: scorer_order.get(r.scorer, len(scorer_order)))
        incomplete = []
        for name, counts in data.get("incomplete", {}).items():
            dataset, scorer = name.rsplit("/", 1)
            incomplete.append(IncompleteScores(dataset, scorer, counts["scored_rows"], counts["selected_rows"]))
        incomplete.sort(key=lambda i: (group_order.get(i.dataset, len(group_order)),
                                       scorer_order.get(i.scorer, len(scorer_order))))
        return cls(agreements=agreements, common=tuple(Agreement.from_dict(a) for a in data["common_rows"]),
                   runs=tuple(runs), config=config, files=files, incomplete=tuple(incomplete))


def run_meta_eval(files: Sequence[str | Path], output_dir: str | Path, config: MetaEvalConfig,
                  make_scorer: Callable[[str], object], *, run_config: RunConfig = RunConfig(),
                  show_progress: bool = False, report_only: bool = False,
                  reaggregate: dict | None = None) -> MetaEvalResult:
    """Score every selected benchmark row with every scorer (resuming), then measure agreement.

    ``make_scorer(name)`` builds the scorer called ``name`` (see :data:`METRIC_SCORERS`); it is
    called once per scorer. With ``report_only`` nothing is scored or loaded: the statistics come
    from the score files as they stand (a long run may still be writing them), rows without a
    record are left out, and ``incomplete`` says how many each file holds.
    """
    output_dir = Path(output_dir)
    datasets = _load(files, config)
    scorers: dict[str, object] = {}
    runs: dict[str, ScorerRun] = {}
    agreements: list[Agreement] = []
    common: list[Agreement] = []
    points: list[ScatterPoints] = []
    incomplete: list[IncompleteScores] = []
    for dataset, rows in datasets.items():
        metric_values: dict[str, dict[str, MetricValue]] = {}
        for scorer_name in config.scorers:
            limits = _scorer_limits(config, scorer_name)
            subset = _subset(rows, limits)
            suffix = _suffix(limits)
            scores_path = output_dir / "scores" / dataset / f"{scorer_name}{suffix}.jsonl"
            if report_only:
                run_info = _recorded_run(scores_path)
                if run_info is not None:
                    runs.setdefault(scorer_name, ScorerRun(scorer_name, run_info))
                if reaggregate and scorer_name == "quals" and scores_path.exists():
                    values, settings = _reaggregated_values(scores_path, reaggregate)
                    values_by_metric = {"quals": values}
                    recorded = runs.get("quals", ScorerRun("quals", {})).info
                    runs["quals"] = ScorerRun("quals", recorded,
                                              Reaggregation(str(scores_path), dict(reaggregate), settings))
                else:
                    values_by_metric = {m: read_values(scores_path, m) if scores_path.exists() else {}
                                        for m in config.metrics if METRIC_SCORERS[m] == scorer_name}
                n_records = len(next(iter(values_by_metric.values())))
                if n_records < len(subset):
                    incomplete.append(IncompleteScores(dataset, scorer_name, n_records, len(subset)))
                metric_values.update(values_by_metric)
                continue
            if scorer_name not in scorers:
                scorers[scorer_name] = make_scorer(scorer_name)
                runs[scorer_name] = ScorerRun(scorer_name, scorers[scorer_name].run_info())
            inputs = output_dir / "inputs" / f"{dataset}{suffix}.jsonl"
            write_rows(subset, inputs)
            logger.info("%s: %s on %d rows -> %s", dataset, scorer_name, len(subset), scores_path)
            score_file(scorers[scorer_name], inputs, scores_path, fields=FieldMap(), config=run_config,
                       show_progress=show_progress)
            for metric in config.metrics:
                if METRIC_SCORERS[metric] == scorer_name:
                    metric_values[metric] = read_values(scores_path, metric)
        for group, members in _groups(dataset, rows).items():
            for metric in config.metrics:
                agreements.append(agreement(metric, group, members, metric_values[metric],
                                            seed=config.seed, n_resamples=config.n_resamples))
            common.extend(_common(group, members, metric_values, config))
        points.extend(_points(dataset, m, rows, metric_values[m]) for m in config.metrics)
    return MetaEvalResult(agreements=tuple(agreements), common=tuple(common), runs=tuple(runs.values()),
                          config=config, files=tuple(str(Path(f).resolve()) for f in files), points=tuple(points),
                          incomplete=tuple(incomplete))


def _recorded_run(scores_path: Path) -> dict | None:
    """The run info (model, settings, versions) a score file's sidecar recorded."""
    sidecar = scores_path.with_name(scores_path.name + ".run.json")
    if not sidecar.is_file():
        return None
    return json.loads(sidecar.read_text(encoding="utf-8")).get("run")


def read_values(scores_path: Path, metric: str) -> dict[str, MetricValue]:
    """Row id -> value of ``metric`` from a batch-runner score file (errors become null values).

    A last line without its newline is a chunk another process is still writing: skipped.
    """
    return values_of(_complete_records(scores_path), metric)


def values_of(records, metric: str) -> dict[str, MetricValue]:
    """Row id -> value of ``metric`` from score records."""
    values = {}
    for record in records:
        if record.get("error"):
            values[record["id"]] = MetricValue(None, f"error: {record['error']}")
            continue
        value = record["scores"][metric] if "scores" in record else record["score"]
        values[record["id"]] = MetricValue(value, None if value is not None else record.get("reason"))
    return values


def _complete_records(scores_path: Path):
    with open(scores_path, encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break
            yield json.loads(line)


def _reaggregated_values(scores_path: Path, overrides: dict) -> tuple[dict[str, MetricValue], dict]:
    """QUALS values of a score file under other aggregation settings, and the settings they mean.

    Settings not in ``overrides`` keep what the file was scored with.
    """
    import dataclasses

    from quals.metrics.aggregation import AggregationConfig
    from quals.metrics.reaggregate import check_reaggregation, reaggregate_file

    max_pairs = overrides.get("max_pairs")
    recorded = check_reaggregation(scores_path, max_pairs)
    aggregation = dataclasses.replace(AggregationConfig(**recorded.get("aggregation", {})),
                                      **{k: v for k, v in overrides.items() if k != "max_pairs"})
    settings = {**recorded, "aggregation": aggregation.to_dict(), "max_pairs": max_pairs or recorded["max_pairs"]}
    return values_of(reaggregate_file(scores_path, aggregation, max_pairs), "quals"), settings


def write_outputs(result: MetaEvalResult, output_dir: str | Path) -> dict[str, Path]:
    """meta_eval.json (every number), meta_eval.md (the tables), meta_eval.png (scatter plots; only
    when the result has points, which a result read back from its JSON has not)."""
    from quals.reports.metaeval import plot_meta_eval, render_markdown

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": output_dir / "meta_eval.json", "markdown": output_dir / "meta_eval.md",
             "plot": output_dir / "meta_eval.png"}
    atomic_write_json(paths["json"], result.to_dict())
    atomic_write_text(paths["markdown"], render_markdown(result))
    if result.points:
        plot_meta_eval(result.points, paths["plot"])
    else:
        del paths["plot"]
    return paths


def _load(files, config: MetaEvalConfig) -> dict[str, list[BenchmarkRow]]:
    datasets: dict[str, list[BenchmarkRow]] = {}
    for path in files:
        for row in read_benchmark(path):
            datasets.setdefault(row.dataset, []).append(row)
    return {name: select_rows(rows, config.limits, config.seed) for name, rows in datasets.items()}


def _scorer_limits(config: MetaEvalConfig, scorer_name: str) -> dict[str, int] | None:
    """Split -> rows for one scorer (``"*"``: every split), or None for the whole selection."""
    if scorer_name in config.scorer_limits:
        return {"*": config.scorer_limits[scorer_name]}
    prefix = scorer_name + "."
    limits = {name[len(prefix):]: n for name, n in config.scorer_limits.items() if name.startswith(prefix)}
    return limits or None


def _suffix(limits: dict[str, int] | None) -> str:
    """File-name suffix naming the subset, so runs of different subsets never share a score file."""
    if limits is None:
        return ""
    if "*" in limits:
        return f".first{limits['*']}"
    return "".join(f".{split}{n}" for split, n in sorted(limits.items()))


def _subset(rows: list[BenchmarkRow], limits: dict[str, int] | None) -> list[BenchmarkRow]:
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


def _groups(dataset: str, rows: list[BenchmarkRow]) -> dict[str, list[BenchmarkRow]]:
    groups = {dataset: rows}
    origins = sorted({r.origin for r in rows})
    if len(origins) > 1:
        groups.update({f"{dataset}/{o}": [r for r in rows if r.origin == o] for o in origins})
    return groups


def _common(group, members, metric_values, config) -> list[Agreement]:
    """Agreement of every metric on the rows all metrics scored (only if that differs from all rows)."""
    member_ids = {r.id for r in members}
    scored = [{i for i, v in values.items() if v.value is not None} & member_ids for values in metric_values.values()]
    ids = common_rows(members, metric_values)
    if len(scored) < 2 or all(s == ids for s in scored):
        return []
    rows = [r for r in members if r.id in ids]
    return [agreement(m, group, rows, {i: v for i, v in metric_values[m].items() if i in ids},
                      seed=config.seed, n_resamples=config.n_resamples) for m in config.metrics]


def _points(dataset: str, metric: str, rows, values: dict[str, MetricValue]) -> ScatterPoints:
    test = [r for r in rows if r.split == "test" and r.id in values and values[r.id].value is not None]
    return ScatterPoints(dataset, metric, tuple(values[r.id].value for r in test), tuple(r.score for r in test))
