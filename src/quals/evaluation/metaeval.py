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
from quals.data.benchmarks import TEST, VALID, BenchmarkFields, BenchmarkRow, write_rows
from quals.data.readers import FieldMap
from quals.evaluation.agreement import Agreement, MetricValue, agreement, common_rows
from quals.evaluation.benchmark_summary import BenchmarkSummary, benchmark_summary
from quals.evaluation.selection import (
    ROLES,
    BenchmarkSelection,
    SplitCount,
    scorer_subset,
    select_benchmarks,
    subset_suffix,
)
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
        default=None, metadata={"help": "Rows per split (e.g. {'test': 400, 'valid': 200}); a split not named keeps "
                                        "all its rows, 0 skips it (valid: 0 = no threshold); None = all."})
    scorer_limits: dict[str, int] = field(
        default_factory=dict,
        metadata={"help": "Smaller subsets for costly scorers, nested in the main selection so they compare "
                          "on the same rows: {'qags': 100} takes the first 100 seeded rows of every split, "
                          "{'qags.test': 100} of the test split only (no valid rows, so no threshold)."})
    seed: int = field(default=0, metadata={"help": "Seeds the row selection and the bootstrap."})
    n_resamples: int = field(default=1000, metadata={"help": "Bootstrap resamples for the 95% intervals."})
    fields: BenchmarkFields = field(default=BenchmarkFields(),
                                    metadata={"help": "Field names of the benchmark files."})
    valid_splits: tuple[str, ...] = field(
        default=(), metadata={"help": "Split names that are validation splits besides valid, val, validation, dev."})
    test_splits: tuple[str, ...] = field(
        default=(), metadata={"help": "Split names that are test splits besides test (other names are left out)."})

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in METRIC_SCORERS]
        if unknown or not self.metrics:
            raise ValueError(f"unknown metrics {unknown}; choose from {sorted(METRIC_SCORERS)}")
        for name, limit in (self.limits or {}).items():
            if name not in ROLES or limit < 0:
                raise ValueError(f"limits are rows per split, test or valid, >= 0 (0 skips the split); got "
                                 f"{name!r}: {limit}")
        for name, limit in self.scorer_limits.items():
            if limit < 1 or name.split(".", 1)[1:] not in ([], [TEST], [VALID]):
                raise ValueError(f"--scorer-limit {name}={limit}: use SCORER=N or SCORER.test=N / SCORER.valid=N, "
                                 "N >= 1")
        scorers = {METRIC_SCORERS[m] for m in self.metrics}
        bad = [name for name in self.scorer_limits if name.split(".", 1)[0] not in scorers]
        if bad:
            raise ValueError(f"--scorer-limit names {bad}, but the scorers in use are {sorted(scorers)}")
        if self.n_resamples < 100:
            raise ValueError(f"n_resamples must be >= 100, got {self.n_resamples}")
        both = sorted(set(self.valid_splits) & set(self.test_splits))
        if both:
            raise ValueError(f"split(s) {both} named as both test and validation splits")

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
    """The test rows of one dataset with a value of one metric: that value and the human score
    (``human`` says which judgment: ``"label"`` for a label-only dataset)."""

    dataset: str
    metric: str
    metric_scores: tuple[float, ...]
    human_scores: tuple[float, ...]
    human: str = "score"


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
    which only the plot uses and the file does not hold). Files written before a field existed
    read back with its default (no ``splits``; the config's field names and split names as they
    were then); the benchmark summary is derived from the agreements, so it is never read.
    """

    agreements: tuple[Agreement, ...]
    common: tuple[Agreement, ...]
    runs: tuple[ScorerRun, ...]
    config: MetaEvalConfig
    files: tuple[str, ...]
    points: tuple[ScatterPoints, ...] = ()
    incomplete: tuple[IncompleteScores, ...] = ()
    splits: tuple[SplitCount, ...] = ()

    def run(self, scorer: str) -> ScorerRun | None:
        return next((r for r in self.runs if r.scorer == scorer), None)

    @property
    def summary(self) -> BenchmarkSummary:
        """Balanced accuracy and ROC-AUC per dataset and their means (SummaC's protocol)."""
        return benchmark_summary(self.agreements)

    def to_dict(self) -> dict:
        return {"config": {**asdict(self.config), "files": list(self.files)},
                "runs": {r.scorer: r.to_dict() for r in self.runs},
                "agreements": [a.to_dict() for a in self.agreements],
                "common_rows": [a.to_dict() for a in self.common],
                "incomplete": {i.name: {"scored_rows": i.scored_rows, "selected_rows": i.selected_rows}
                               for i in self.incomplete},
                "splits": [s.to_dict() for s in self.splits],
                "benchmark_summary": self.summary.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> MetaEvalResult:
        """Read ``meta_eval.json`` (as :meth:`to_dict` writes it).

        The file sorts its keys, so runs and incomplete files come back in the order a run makes
        them: scorers as ``config.metrics`` names them, datasets as the agreements list them.
        """
        config_data = dict(data["config"])
        files = tuple(config_data.pop("files", ()))
        config = MetaEvalConfig(**{**config_data, "metrics": tuple(config_data["metrics"]),
                                   "fields": BenchmarkFields(**config_data.get("fields", {})),
                                   "valid_splits": tuple(config_data.get("valid_splits", ())),
                                   "test_splits": tuple(config_data.get("test_splits", ()))})
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
                   runs=tuple(runs), config=config, files=files, incomplete=tuple(incomplete),
                   splits=tuple(SplitCount(**s) for s in data.get("splits", ())))


def run_meta_eval(files: Sequence[str | Path], output_dir: str | Path, config: MetaEvalConfig,
                  make_scorer: Callable[[str], object], *, run_config: RunConfig = RunConfig(),
                  show_progress: bool = False, report_only: bool = False,
                  reaggregate: dict | None = None, selection: BenchmarkSelection | None = None) -> MetaEvalResult:
    """Score every selected benchmark row with every scorer (resuming), then measure agreement.

    ``make_scorer(name)`` builds the scorer called ``name`` (see :data:`METRIC_SCORERS`); it is
    called once per scorer. With ``report_only`` nothing is scored or loaded: the statistics come
    from the score files as they stand (a long run may still be writing them), rows without a
    record are left out, and ``incomplete`` says how many each file holds. ``selection`` is
    :func:`select_meta_eval_rows` of ``files`` and ``config`` when the caller has it already (e.g. to
    announce the rows before scoring them).
    """
    output_dir = Path(output_dir)
    selection = selection or select_meta_eval_rows(files, config)
    datasets = selection.datasets
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
            subset = scorer_subset(rows, limits)
            suffix = subset_suffix(limits)
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
                       show_progress=show_progress, desc=f"{scorer_name} on {dataset}")
            for metric in config.metrics:
                if METRIC_SCORERS[metric] == scorer_name:
                    metric_values[metric] = read_values(scores_path, metric)
        threshold_note = _threshold_note(config, dataset, selection)
        for group, members in _groups(dataset, rows).items():
            for metric in config.metrics:
                agreements.append(agreement(metric, group, members, metric_values[metric], seed=config.seed,
                                            n_resamples=config.n_resamples, threshold_note=threshold_note))
            common.extend(_common(group, members, metric_values, config, threshold_note))
        points.extend(_points(dataset, m, rows, metric_values[m]) for m in config.metrics)
    return MetaEvalResult(agreements=tuple(agreements), common=tuple(common), runs=tuple(runs.values()),
                          config=config, files=tuple(str(Path(f).resolve()) for f in files), points=tuple(points),
                          incomplete=tuple(incomplete), splits=selection.splits)


def select_meta_eval_rows(files: Sequence[str | Path], config: MetaEvalConfig) -> BenchmarkSelection:
    """The rows ``config`` selects from ``files`` (see :mod:`quals.evaluation.selection`)."""
    return select_benchmarks(files, fields=config.fields, valid_splits=config.valid_splits,
                             test_splits=config.test_splits, limits=config.limits, seed=config.seed)


def _threshold_note(config: MetaEvalConfig, dataset: str, selection: BenchmarkSelection) -> str | None:
    """Why a dataset with a validation split gets no threshold: ``--limit valid=0`` skipped it."""
    had_valid = any(s.dataset == dataset and s.role == VALID and s.rows for s in selection.splits)
    if had_valid and (config.limits or {}).get(VALID) == 0:
        return "valid split skipped (--limit valid=0): no threshold, so no balanced accuracy"
    return None


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


def _scorer_limits(config: MetaEvalConfig, scorer_name: str) -> dict[str, int] | None:
    """Split -> rows for one scorer (``"*"``: every split), or None for the whole selection."""
    if scorer_name in config.scorer_limits:
        return {"*": config.scorer_limits[scorer_name]}
    prefix = scorer_name + "."
    limits = {name[len(prefix):]: n for name, n in config.scorer_limits.items() if name.startswith(prefix)}
    return limits or None


def _groups(dataset: str, rows: list[BenchmarkRow]) -> dict[str, list[BenchmarkRow]]:
    groups = {dataset: rows}
    origins = sorted({r.origin for r in rows})
    if len(origins) > 1:
        groups.update({f"{dataset}/{o or 'no origin'}": [r for r in rows if r.origin == o] for o in origins})
    return groups


def _common(group, members, metric_values, config, threshold_note=None) -> list[Agreement]:
    """Agreement of every metric on the rows all metrics scored (only if that differs from all rows)."""
    member_ids = {r.id for r in members}
    scored = [{i for i, v in values.items() if v.value is not None} & member_ids for values in metric_values.values()]
    ids = common_rows(members, metric_values)
    if len(scored) < 2 or all(s == ids for s in scored):
        return []
    rows = [r for r in members if r.id in ids]
    return [agreement(m, group, rows, {i: v for i, v in metric_values[m].items() if i in ids}, seed=config.seed,
                      n_resamples=config.n_resamples, threshold_note=threshold_note) for m in config.metrics]


def _points(dataset: str, metric: str, rows, values: dict[str, MetricValue]) -> ScatterPoints:
    """Test rows against their human score, or against the label where no row has a score."""
    test = [r for r in rows if r.split == TEST and r.id in values and values[r.id].value is not None]
    human = "score" if any(r.score is not None for r in test) or not test else "label"
    test = [r for r in test if getattr(r, human) is not None]
    return ScatterPoints(dataset, metric, tuple(values[r.id].value for r in test),
                         tuple(float(getattr(r, human)) for r in test), human)
