"""The study file: one JSONL line per item, two systems' summaries of the same document.

    {"id": "17", "document": "...", "summary_a": {"system": "mle", "text": "..."},
     "summary_b": {"system": "conseq", "text": "..."}}

Every item names the same two systems in the same roles, so every statistic reads "B against A".
The database of a study keeps the file's SHA-256 and refuses a file that changed after it was
created (judgments would otherwise silently refer to other texts).

A study of a corpus that may not be redistributed (CNN/DM, a licensed test set) can leave the
documents out: its items then hold ``"document_sha256"`` instead of ``"document"``, and whoever
serves or exports it joins the documents back on id from their own copy of the test file, which
must hold exactly the texts the study was built on (each is checked against its hash). Such a
study file can be committed or shared with only the systems' summaries in it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

from quals.data.readers import strict_json_lines

# The three attributes of the paper's human study, in the order annotators answer them.
ATTRIBUTES = ("consistency", "informativeness", "grammaticality")
ATTRIBUTE_LABELS = {
    "consistency": "Factual consistency",
    "informativeness": "Informativeness",
    "grammaticality": "Grammatical correctness",
}
ATTRIBUTE_QUESTIONS = {
    "consistency": "Which summary states only what the document supports?",
    "informativeness": "Which summary better captures the document's most important information?",
    "grammaticality": "Which summary is more fluent and grammatically correct?",
}
# A stored choice names the better summary of the study file ("a", "b") or "equal".
CHOICES = ("a", "equal", "b")


@dataclass(frozen=True)
class StudyItem:
    """One comparison: a document and the summaries of system A and system B."""

    id: str
    document: str
    summary_a: str
    summary_b: str


@dataclass(frozen=True)
class Study:
    """A whole study file; ``sha256`` is the hash of its bytes as written by :meth:`to_jsonl`.

    ``detached``: the file holds each document's hash instead of its text (the items in memory
    always hold the text).
    """

    items: tuple[StudyItem, ...]
    system_a: str
    system_b: str
    sha256: str
    detached: bool = False

    @classmethod
    def from_items(cls, items: tuple[StudyItem, ...], system_a: str, system_b: str,
                   detached: bool = False) -> Study:
        """A study made in memory (e.g. by :func:`~quals.annotate.build.build_study`)."""
        _check_systems(system_a, system_b)
        if not items:
            raise ValueError("a study needs at least one item")
        text = _serialise(items, system_a, system_b, detached)
        return cls(tuple(items), system_a, system_b, hashlib.sha256(text.encode("utf-8")).hexdigest(), detached)

    def to_jsonl(self) -> str:
        return _serialise(self.items, self.system_a, self.system_b, self.detached)


def write_study(study: Study, path: str | Path, overwrite: bool = False) -> Path:
    """Write ``study`` as JSONL.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    path.write_bytes(study.to_jsonl().encode("utf-8"))
    return path


def read_study(path: str | Path, documents: str | Path | None = None, *, id_field: str = "id",
               document_field: str = "document") -> Study:
    """Read and check a study file.

    Args:
        path: the study file.
        documents: JSONL rows (``.jsonl.gz`` too) with ``id_field`` and ``document_field``, where
            the documents of a detached study come from; ignored for a study that holds them.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line is not a well-formed item (the message names the line), ids repeat,
            the file is empty, items name different systems, or a detached study's document is
            missing from ``documents`` (or ``documents`` is not given) or differs from its hash.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"study file {path} does not exist")
    data = path.read_bytes()
    items: list[StudyItem] = []
    systems: tuple[str, str] | None = None
    detached: bool | None = None
    seen: dict[str, int] = {}
    lines = io.StringIO(data.decode("utf-8"), newline="\n")
    sources: dict[str, str] | None = None
    for number, record in strict_json_lines(lines, str(path)):
        where = f"{path}:{number}"
        is_detached = "document" not in record and "document_sha256" in record
        if detached is None:
            detached = is_detached
            if detached:
                if documents is None:
                    raise ValueError(f"{path} holds no documents (only their sha256): pass the test file it was "
                                     "built from with --documents")
                sources = read_documents(documents, id_field=id_field, document_field=document_field)
        elif is_detached != detached:
            raise ValueError(f"{where}: every item holds its document, or every item only its document_sha256")
        item, pair = _parse_record(record, where, sources, documents)
        if systems is None:
            systems = pair
        elif pair != systems:
            raise ValueError(f"{where}: systems {pair} differ from {systems} of the first item; "
                             "a study compares one system A with one system B")
        if item.id in seen:
            raise ValueError(f"{where}: id {item.id!r} already used on line {seen[item.id]}")
        seen[item.id] = number
        items.append(item)
    if systems is None:
        raise ValueError(f"study file {path} has no items")
    _check_systems(*systems)
    return Study(tuple(items), systems[0], systems[1], hashlib.sha256(data).hexdigest(), bool(detached))


def read_documents(path: str | Path, *, id_field: str = "id", document_field: str = "document") -> dict[str, str]:
    """id -> document of a JSONL file (``.jsonl.gz`` too): the test file the systems summarized."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"documents file {path} does not exist")
    out: dict[str, str] = {}
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, record in strict_json_lines(handle, str(path)):
            row_id, document = record.get(id_field), record.get(document_field)
            if row_id is None or not isinstance(document, str):
                raise ValueError(f"{path}:{number}: needs the {id_field!r} and {document_field!r} "
                                 "fields (see --id-field, --document-field)")
            out[str(row_id)] = document
    return out


def document_sha256(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def _parse_record(record: dict, where: str, sources: dict[str, str] | None = None,
                  documents: str | Path | None = None) -> tuple[StudyItem, tuple[str, str]]:
    text_key = "document" if sources is None else "document_sha256"
    missing = [key for key in ("id", text_key, "summary_a", "summary_b") if key not in record]
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing}; an item has id, document (or document_sha256), "
                         "summary_a, summary_b")
    item_id = record["id"]
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)) or str(item_id) == "":
        raise ValueError(f"{where}: id must be a non-empty string or an integer, got {item_id!r}")
    if sources is not None:
        expected = record["document_sha256"]
        document = sources.get(str(item_id))
        if document is None:
            raise ValueError(f"{where}: id {item_id!r} has no row in {documents}; is it the file the study was built "
                             "from?")
        found = document_sha256(document)
        if found != expected:
            raise ValueError(f"{where}: the document of id {item_id!r} in {documents} is not the one the study was "
                             f"built on (sha256 {found[:12]}..., study has {str(expected)[:12]}...)")
        record = {**record, "document": document}
    if not isinstance(record["document"], str) or not record["document"].strip():
        raise ValueError(f"{where}: document must be a non-empty string")
    texts, systems = [], []
    for key in ("summary_a", "summary_b"):
        value = record[key]
        if not (isinstance(value, dict) and isinstance(value.get("system"), str)
                and isinstance(value.get("text"), str)):
            raise ValueError(f'{where}: {key} must be {{"system": NAME, "text": SUMMARY}}, got {value!r:.80}')
        texts.append(value["text"])
        systems.append(value["system"])
    return StudyItem(str(item_id), record["document"], texts[0], texts[1]), (systems[0], systems[1])


def _check_systems(system_a: str, system_b: str) -> None:
    if not system_a.strip() or not system_b.strip():
        raise ValueError(f"system names must be non-empty, got {system_a!r} and {system_b!r}")
    if system_a == system_b:
        raise ValueError(f"system A and system B are both named {system_a!r}; give them different names")


def _serialise(items: tuple[StudyItem, ...], system_a: str, system_b: str, detached: bool = False) -> str:
    def document(item: StudyItem) -> dict:
        return {"document_sha256": document_sha256(item.document)} if detached else {"document": item.document}

    return "".join(json.dumps({"id": item.id, **document(item),
                               "summary_a": {"system": system_a, "text": item.summary_a},
                               "summary_b": {"system": system_b, "text": item.summary_b}}, ensure_ascii=False) + "\n"
                   for item in items)
