"""Evaluate generated summaries of a test set, as the paper's ConSeq tables do, and compare systems.

Per row: ROUGE-1/2/L F1 against the reference (``rouge-score``, Porter stemmer; ``rougeL`` is the
LCS over the whole text), optionally ``rougeLsum`` (metric ``rougelsum``: the summary-level LCS over
sentences, as the Perl ROUGE script computes ROUGE-L for multi-sentence summaries), entity
precision against the document (share of the summary's spaCy named entities whose text occurs in
the document, case-insensitive, whitespace-normalised, on word boundaries; as ``prec_s`` of Nan et
al., EACL 2021, with all entity types), abstractiveness (metric ``abstractiveness``: the shares of
novel 1/2/3-grams against the document and the summary length in tokens, since factuality gains can
come from copying more), QUALS and QAGS (optional). Per
system: means over the rows where a metric is defined, and a paired bootstrap against the first
system on the rows both define.

Per-row scores go through :func:`quals.batch.runner.map_rows`: resumable and sharded.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from quals.batch.runner import map_rows
from quals.distributed import is_main_process
from quals.data.readers import detect_format
from quals.evaluation.significance import paired_bootstrap
from quals.files import atomic_write_text
from quals.metrics.abstractiveness import Abstractiveness
from quals.metrics.qags_config import DEFAULT_SPACY_MODEL
from quals.metrics.rouge import rouge_f, rouge_scorer, rouge_signature
from quals.metrics.spacy_pipelines import load_pipeline, pipeline_version

logger = logging.getLogger(__name__)

METRICS = ("rouge", "rougelsum", "entities", "abstractiveness", "quals", "qags", "factcc")
# The metrics that read a model: each needs its loaded scorer.
MODEL_METRICS = ("quals", "qags", "factcc")
COLUMNS = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum",
           "entity_precision": "Entity P", "novel_1": "novel 1-grams", "novel_2": "novel 2-grams",
           "novel_3": "novel 3-grams", "summary_tokens": "length (tokens)", "quals": "QUALS", "qags": "QAGS",
           "factcc": "FactCC"}
_COLUMNS_OF = {"rouge": ("rouge1", "rouge2", "rougeL"), "rougelsum": ("rougeLsum",), "entities": ("entity_precision",),
               "abstractiveness": Abstractiveness.columns,
               "quals": ("quals",), "qags": ("qags",), "factcc": ("factcc",)}
_PERCENT = {"rouge1", "rouge2", "rougeL", "rougeLsum", "entity_precision", "novel_1", "novel_2", "novel_3"}


class RougeLsum:
    """Summary-level ROUGE-L F1: sentences split, then ``rouge-score``'s ``rougeLsum`` (Porter stemmer).

    ``rouge-score`` splits sentences only on newlines, or with nltk's punkt data, which is a separate
    download; spaCy's rule-based sentencizer needs no data and is already a dependency.

    >>> scorer = RougeLsum()
    >>> scorer("The cat sat. The dog ran.", "The dog ran. The cat sat.")
    1.0
    """

    def __init__(self) -> None:
        from quals.metrics.spacy_pipelines import sentencizer_version

        self.scorer = rouge_scorer(("rougeLsum",))
        self.version = sentencizer_version()

    def lines(self, text: str) -> str:
        """One sentence per line, newlines inside a sentence removed (rougeLsum splits on them)."""
        from quals.metrics.spacy_pipelines import split_sentences

        return "\n".join(split_sentences(text))

    def __call__(self, reference: str, summary: str) -> float:
        return self.scorer.score(self.lines(reference), self.lines(summary))["rougeLsum"].fmeasure


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def entity_precision(entities: Sequence[str], document: str) -> float | None:
    """Share of ``entities`` found in ``document``; None when there is no entity.

    >>> entity_precision(["Paris", "Leeds"], "The cat sat in paris.")
    0.5
    """
    if not entities:
        return None
    text = _normalise(document)
    found = sum(bool(re.search(r"(?<!\w)" + re.escape(_normalise(e)) + r"(?!\w)", text)) for e in entities)
    return found / len(entities)


class EntityExtractor:
    """spaCy named entities, pipeline loaded once.

    Raises:
        ValueError: the pipeline is not installed (with the install command).
    """

    def __init__(self, spacy_model: str = DEFAULT_SPACY_MODEL) -> None:
        self.nlp = load_pipeline(spacy_model, exclude=("lemmatizer", "parser"))
        self.version = pipeline_version(self.nlp)

    def entities(self, texts: Sequence[str]) -> list[list[str]]:
        return [[ent.text for ent in doc.ents if ent.text.strip()] for doc in self.nlp.pipe(list(texts))]


@dataclass(frozen=True)
class EvalRow:
    """One test row joined with one system's summary."""

    index: int
    id: str | None
    document: str | None
    reference: str | None
    summary: str | None
    error: str | None = None


class SummaryEvaluator:
    """Per-row metrics of summaries; a row mapper for :func:`quals.batch.runner.map_rows`.

    Args:
        metrics: any of ``METRICS``.
        quals: a loaded :class:`quals.QUALS` (needed for ``quals``).
        qags: a loaded :class:`quals.QAGS` (needed for ``qags``).
        factcc: a loaded :class:`quals.metrics.factcc.FactCC` (needed for ``factcc``).
        spacy_model: pipeline of the entity metric.
    """

    def __init__(self, metrics: Sequence[str] = ("rouge", "entities"), *, quals=None, qags=None, factcc=None,
                 spacy_model: str = DEFAULT_SPACY_MODEL) -> None:
        unknown = sorted(set(metrics) - set(METRICS))
        if unknown or not metrics:
            raise ValueError(f"metrics must be a non-empty subset of {METRICS}, got {list(metrics)}")
        self.scorers = {"quals": quals, "qags": qags, "factcc": factcc}
        missing = [m for m in MODEL_METRICS if m in metrics and self.scorers[m] is None]
        if missing:
            raise ValueError(f"the {'/'.join(missing)} metric(s) need a loaded scorer")
        self.metrics = tuple(m for m in METRICS if m in metrics)
        self.quals, self.qags, self.factcc = quals, qags, factcc
        self.rouge = rouge_scorer() if "rouge" in metrics else None
        self.rouge_lsum = RougeLsum() if "rougelsum" in metrics else None
        self.entities = EntityExtractor(spacy_model) if "entities" in metrics else None
        self.abstractiveness = Abstractiveness() if "abstractiveness" in metrics else None

    @property
    def columns(self) -> list[str]:
        return [c for m in self.metrics for c in _COLUMNS_OF[m]]

    def run_info(self) -> dict:
        info: dict = {"metrics": list(self.metrics)}
        if self.rouge is not None:
            info["rouge"] = rouge_signature("F1")
        if self.rouge_lsum is not None:
            info["rougelsum"] = rouge_signature("F1", self.rouge_lsum.version)
        if self.entities is not None:
            info["entities"] = self.entities.version
        if self.abstractiveness is not None:
            info["abstractiveness"] = self.abstractiveness.version
        for name in MODEL_METRICS:
            if name in self.metrics:
                info[name] = self.scorers[name].signature
        return info

    def records(self, rows: list[EvalRow]) -> list[dict]:
        good = [row for row in rows if row.error is None]
        values: dict[int, dict] = {row.index: {} for row in good}
        if self.rouge is not None:
            for row in good:
                values[row.index].update(rouge_f(row.reference, row.summary))
        if self.rouge_lsum is not None:
            for row in good:
                values[row.index]["rougeLsum"] = self.rouge_lsum(row.reference, row.summary)
        if self.entities is not None and good:
            for row, entities in zip(good, self.entities.entities([r.summary for r in good]), strict=True):
                values[row.index].update(entity_precision=entity_precision(entities, row.document),
                                         n_entities=len(entities))
        if self.abstractiveness is not None:
            for row in good:
                values[row.index].update(self.abstractiveness(row.document, row.summary))
        for name in MODEL_METRICS:
            if name in self.metrics and good:
                for row, score in zip(good, _scores(self.scorers[name], good), strict=True):
                    values[row.index][name] = score
        return [{"row": row.index, "id": row.id, **values.get(row.index, {}), "error": row.error} for row in rows]


def _scores(scorer, rows: list[EvalRow]) -> list[float | None]:
    """A metric's scores; a row the metric fails on gets None (logged), the others still count."""
    try:
        result = scorer.score([r.document for r in rows], [r.summary for r in rows])
        return [e.score for e in result.examples]
    except (ValueError, RuntimeError) as err:
        if len(rows) == 1:
            logger.warning("row %d: %s failed: %s", rows[0].index, type(scorer).__name__, err)
            return [None]
        return [s for row in rows for s in _scores(scorer, [row])]


# ----- files -----------------------------------------------------------------------------------
def _records(path: Path, input_format: str | None = None) -> list[tuple[dict | None, str | None]]:
    from quals.data.readers import read_records

    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    return list(read_records(path, detect_format(path, input_format)))


def join_rows(test_path: Path, system_path: Path, *, document_field: str = "document",
              reference_field: str = "summary", summary_field: str = "summary", id_field: str | None = "id",
              input_format: str | None = None) -> list[EvalRow]:
    """Test rows (document, reference) joined by position with a system's summaries.

    Raises:
        ValueError: the files have different numbers of rows, or their ids disagree.
    """
    tests, systems = _records(test_path, input_format), _records(system_path)
    if len(tests) != len(systems):
        raise ValueError(f"{system_path} has {len(systems)} rows but {test_path} has {len(tests)}")
    rows = []
    for index, ((test, problem), (system, system_problem)) in enumerate(zip(tests, systems, strict=True)):
        test_id = None if test is None or not id_field or test.get(id_field) is None else str(test[id_field])
        system_id = None if system is None or not id_field or system.get(id_field) is None else str(system[id_field])
        if test_id is not None and system_id is not None and test_id != system_id:
            raise ValueError(f"row {index}: id {system_id!r} in {system_path} but {test_id!r} in {test_path}")
        error = problem or system_problem
        values = {}
        if error is None:
            values = {"document": test.get(document_field), "reference": test.get(reference_field),
                      "summary": system.get(summary_field)}
            bad = [k for k, v in values.items() if not isinstance(v, str) or not v.strip()]
            if bad:
                error = f"missing or empty {bad}"
                if system.get("error"):
                    error += f" (system error: {system['error']})"
        rows.append(EvalRow(index, test_id or system_id, values.get("document"), values.get("reference"),
                            values.get("summary"), error))
    return rows


@dataclass(frozen=True)
class SystemScores:
    """Means of one system; ``comparison`` holds paired bootstraps against the first system."""

    name: str
    path: str
    n_rows: int
    n_errors: int
    means: dict
    counts: dict
    comparison: dict

    def to_dict(self) -> dict:
        return {"name": self.name, "path": self.path, "n_rows": self.n_rows, "n_errors": self.n_errors,
                "means": self.means, "counts": self.counts,
                "comparison": {k: v.to_dict() for k, v in self.comparison.items()}}


def _read_scores(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _defined(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def compare_systems(names: Sequence[str], paths: Sequence[Path], tables: Sequence[list[dict]],
                    columns: Sequence[str], *, n_resamples: int = 1000, seed: int = 0) -> list[SystemScores]:
    """Means per system and paired bootstraps of every later system against the first."""
    out = []
    for name, path, records in zip(names, paths, tables, strict=True):
        means, counts, comparison = {}, {}, {}
        for column in columns:
            values = [r.get(column) for r in records if _defined(r.get(column))]
            counts[column] = len(values)
            means[column] = math.fsum(values) / len(values) if values else None
            if out:  # not the first system
                pairs = [(a.get(column), b.get(column)) for a, b in zip(tables[0], records, strict=True)
                         if _defined(a.get(column)) and _defined(b.get(column))]
                if len(pairs) >= 2:
                    comparison[column] = paired_bootstrap([p[0] for p in pairs], [p[1] for p in pairs],
                                                          n_resamples=n_resamples, seed=seed)
        out.append(SystemScores(name, str(path), len(records), sum(bool(r.get("error")) for r in records),
                                means, counts, comparison))
    return out


def _scale(column: str) -> tuple[int, int]:
    """(factor, decimals) a column is shown with: shares in %, lengths in tokens, scores as they are."""
    if column in _PERCENT:
        return 100, 2
    return (1, 1) if column == "summary_tokens" else (1, 4)


def format_cell(column: str, value: float | None, delta: float | None = None, p_value: float | None = None) -> str:
    """A table cell: the mean in the column's unit and, against a baseline, the difference and p-value."""
    if value is None:
        return "n/a"
    scale, digits = _scale(column)
    cell = f"{scale * value:.{digits}f}"
    if delta is not None and p_value is not None:
        cell += f" ({scale * delta:+.{digits}f}, p={p_value:.3f})"
    return cell


TABLE_NOTES = ("ROUGE, entity precision and novel n-grams in %, length in tokens, QUALS in nats (higher = more "
               "consistent), QAGS in [0, 1]. "
               "In brackets: difference to the first system and two-sided paired bootstrap p-value.")


def markdown_table(systems: Sequence[SystemScores], columns: Sequence[str]) -> str:
    """One row per system; later systems show the difference to the first and its p-value."""
    head = "| system | rows | " + " | ".join(COLUMNS[c] for c in columns) + " |"
    lines = [head, "|" + "---|" * (len(columns) + 2)]
    for system in systems:
        cells = []
        for column in columns:
            test = system.comparison.get(column)
            cells.append(format_cell(column, system.means.get(column), test.delta if test else None,
                                     test.p_value if test else None))
        lines.append(f"| {system.name} | {system.n_rows - system.n_errors} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + TABLE_NOTES + "\n"


def evaluate_systems(evaluator: SummaryEvaluator, test_path: str | Path, systems: Sequence[tuple[str, str | Path]],
                     output_dir: str | Path, *, document_field: str = "document", reference_field: str = "summary",
                     summary_field: str = "summary", id_field: str | None = "id", input_format: str | None = None,
                     chunk_size: int = 16, overwrite: bool = False, n_resamples: int = 1000, seed: int = 0,
                     show_progress: bool = False) -> list[SystemScores]:
    """Score every system's summaries of the test set and compare them with the first system.

    Writes ``output_dir/NAME.jsonl`` (per-row scores, resumable), ``results.json`` and
    ``table.md`` (the latter two by the first process only).
    """
    names = [name for name, _ in systems]
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"system names must be distinct and non-empty, got {names}")
    bad = [n for n in names if not re.fullmatch(r"[\w.+-]+", n)]
    if bad:
        raise ValueError(f"system names may only use letters, digits, '_', '.', '+' and '-': {bad}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    test_path = Path(test_path)
    tables, paths = [], []
    for name, path in systems:
        path = Path(path)
        rows = join_rows(test_path, path, document_field=document_field, reference_field=reference_field,
                         summary_field=summary_field, id_field=id_field, input_format=input_format)
        info = {"stage": "evaluate-summaries", "run": evaluator.run_info(), "test": str(test_path.resolve()),
                "system": str(path.resolve()), "chunk_size": chunk_size,
                "fields": {"document": document_field, "reference": reference_field, "summary": summary_field}}
        target = output_dir / f"{name}.jsonl"
        map_rows(evaluator, rows, target, info=info, chunk_size=chunk_size, overwrite=overwrite,
                 show_progress=show_progress, count=functools.partial(len, rows), desc=f"evaluating {name}")
        tables.append(_read_scores(target))
        paths.append(path)
    results = compare_systems(names, paths, tables, evaluator.columns, n_resamples=n_resamples, seed=seed)
    if is_main_process():
        report = {"test": str(test_path.resolve()), "columns": evaluator.columns, "run": evaluator.run_info(),
                  "bootstrap": {"n_resamples": n_resamples, "seed": seed},
                  "systems": [s.to_dict() for s in results]}
        atomic_write_text(output_dir / "results.json", json.dumps(report, indent=2) + "\n")
        atomic_write_text(output_dir / "table.md", markdown_table(results, evaluator.columns))
    return results
