"""Make a study from two systems' summary files: join on id, sample N items with a seed.

Input rows are JSONL objects with ``id``, ``summary`` and ``document`` (the field names are
configurable). ``quals summarize`` writes no documents: pass the test file it summarized as
``documents`` and they are joined on id from there. Rows whose summary is null (a failed generation) are left out
and counted in the log; any other bad row stops the build, since a study built on a damaged file
would be compared against the wrong texts.

Example:
    >>> study = build_study("mle.jsonl", "conseq.jsonl", config=BuildConfig(n_items=100))  # doctest: +SKIP
    >>> write_study(study, "study.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from quals.annotate.study import Study, StudyItem, read_documents
from quals.data.readers import strict_json_lines

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildConfig:
    """What to sample and where the fields are."""

    n_items: int = field(default=100, metadata={"help": "Items to sample (the paper's study compared 100 "
                                                        "summaries per dataset)."})
    seed: int = field(default=0, metadata={"help": "Seed of the sample."})
    id_field: str = field(default="id", metadata={"help": "Field with the row id; the files are joined on it."})
    document_field: str = field(default="document", metadata={"help": "Field with the source document."})
    summary_field: str = field(default="summary", metadata={"help": "Field with the system's summary."})
    embed_documents: bool = field(default=True, metadata={
        "help": "Write the documents into the study file. --no-embed-documents writes each document's sha256 "
                "instead, for a corpus that may not be redistributed: serve and export then take --documents "
                "(the same test file) and check every document against its hash."})

    def __post_init__(self) -> None:
        if self.n_items < 1:
            raise ValueError(f"n_items must be >= 1, got {self.n_items}")
        for name in ("id_field", "document_field", "summary_field"):
            if not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty field name")


def build_study(path_a: str | Path, path_b: str | Path, name_a: str | None = None, name_b: str | None = None,
                config: BuildConfig = BuildConfig(), documents: str | Path | None = None) -> Study:
    """Sample ``config.n_items`` ids present in both files and pair their summaries.

    Args:
        path_a, path_b: JSONL summary files of system A and system B (``.jsonl.gz`` too).
        name_a, name_b: system names; default: the file names without extensions.
        config: sample size, seed and field names.
        documents: JSONL rows with the id and document fields (the summarized test file), for
            summary files without documents; where a summary file has them too, they must agree.

    Returns:
        The study, items in the order of ``path_a``.

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: a malformed or duplicate row, the two files disagree on a document, or fewer
            than ``n_items`` ids are in both files.
    """
    path_a, path_b = Path(path_a), Path(path_b)
    name_a = name_a if name_a is not None else _stem(path_a)
    name_b = name_b if name_b is not None else _stem(path_b)
    rows_a = _read_summaries(path_a, config, document_required=documents is None)
    rows_b = _read_summaries(path_b, config, document_required=False)
    sources = (read_documents(documents, id_field=config.id_field, document_field=config.document_field)
               if documents is not None else None)
    common = [row_id for row_id in rows_a if row_id in rows_b]
    only_a, only_b = len(rows_a) - len(common), len(rows_b) - len(common)
    if only_a or only_b:
        logger.warning("%d ids only in %s and %d only in %s are left out", only_a, path_a, only_b, path_b)
    if len(common) < config.n_items:
        raise ValueError(f"asked for {config.n_items} items but only {len(common)} ids have a summary in both "
                         f"{path_a} and {path_b}")
    chosen = set(random.Random(config.seed).sample(common, config.n_items))
    items = []
    for row_id in common:
        if row_id not in chosen:
            continue
        document, summary_a = rows_a[row_id]
        document_b, summary_b = rows_b[row_id]
        if sources is not None:
            if row_id not in sources:
                raise ValueError(f"id {row_id!r} has no row in {documents}; is it the file both systems summarized?")
            if document is not None and document != sources[row_id]:
                raise ValueError(f"id {row_id!r}: the documents in {path_a} and {documents} differ")
            document = sources[row_id]
        if document_b is not None and document_b != document:
            raise ValueError(f"id {row_id!r}: the documents in {path_a} and {documents or path_b} differ; "
                             "were both systems run on the same input?")
        items.append(StudyItem(row_id, document, summary_a, summary_b))  # type: ignore[arg-type]
    return Study.from_items(tuple(items), name_a, name_b, detached=not config.embed_documents)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json", ".ndjson"):
        name = name.removesuffix(suffix)
    return name


def _read_summaries(path: Path, config: BuildConfig,
                    document_required: bool) -> dict[str, tuple[str | None, str]]:
    """id -> (document or None, summary), in file order."""
    if not path.is_file():
        raise FileNotFoundError(f"summary file {path} does not exist")
    rows: dict[str, tuple[str | None, str]] = {}
    n_null = 0
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, record in strict_json_lines(handle, str(path)):
            where = f"{path}:{number}"
            row_id = record.get(config.id_field)
            if row_id is None or isinstance(row_id, (bool, dict, list)) or str(row_id) == "":
                raise ValueError(f"{where}: no usable {config.id_field!r} field (got {row_id!r}); "
                                 "rows are joined on it (see --id-field)")
            row_id = str(row_id)
            if row_id in rows:
                raise ValueError(f"{where}: id {row_id!r} appears twice")
            summary = record.get(config.summary_field, _MISSING)
            if summary is _MISSING:
                raise ValueError(f"{where}: missing field {config.summary_field!r} (see --summary-field); "
                                 f"fields present: {', '.join(sorted(record)) or 'none'}")
            if summary is None:
                n_null += 1
                continue
            document = record.get(config.document_field)
            if document is None and document_required:
                raise ValueError(f"{where}: missing field {config.document_field!r} (see --document-field)")
            for name, value in ((config.summary_field, summary), (config.document_field, document)):
                if value is not None and not isinstance(value, str):
                    raise ValueError(f"{where}: {name!r} must be a string, got {type(value).__name__}")
            rows[row_id] = (document, summary)
    if n_null:
        logger.warning("%s: %d rows without a summary (null) are left out", path, n_null)
    return rows


_MISSING = object()
