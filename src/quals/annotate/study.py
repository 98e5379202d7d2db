"""The study file: one JSONL line per item, two systems' summaries of the same document.

    {"id": "17", "document": "...", "summary_a": {"system": "mle", "text": "..."},
     "summary_b": {"system": "conseq", "text": "..."}}

Every item names the same two systems in the same roles, so every statistic reads "B against A".
The database of a study keeps the file's SHA-256 and refuses a file that changed after it was
created (judgments would otherwise silently refer to other texts).
"""

from __future__ import annotations

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
    """A whole study file; ``sha256`` is the hash of its bytes as written by :meth:`to_jsonl`."""

    items: tuple[StudyItem, ...]
    system_a: str
    system_b: str
    sha256: str

    @classmethod
    def from_items(cls, items: tuple[StudyItem, ...], system_a: str, system_b: str) -> Study:
        """A study made in memory (e.g. by :func:`~quals.annotate.build.build_study`)."""
        _check_systems(system_a, system_b)
        if not items:
            raise ValueError("a study needs at least one item")
        text = _serialise(items, system_a, system_b)
        return cls(tuple(items), system_a, system_b, hashlib.sha256(text.encode("utf-8")).hexdigest())

    def to_jsonl(self) -> str:
        return _serialise(self.items, self.system_a, self.system_b)


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


def read_study(path: str | Path) -> Study:
    """Read and check a study file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line is not a well-formed item (the message names the line), ids repeat,
            the file is empty, or items name different systems.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"study file {path} does not exist")
    data = path.read_bytes()
    items: list[StudyItem] = []
    systems: tuple[str, str] | None = None
    seen: dict[str, int] = {}
    lines = io.StringIO(data.decode("utf-8"), newline="\n")
    for number, record in strict_json_lines(lines, str(path)):
        item, pair = _parse_record(record, f"{path}:{number}")
        if systems is None:
            systems = pair
        elif pair != systems:
            raise ValueError(f"{path}:{number}: systems {pair} differ from {systems} of the first item; "
                             "a study compares one system A with one system B")
        if item.id in seen:
            raise ValueError(f"{path}:{number}: id {item.id!r} already used on line {seen[item.id]}")
        seen[item.id] = number
        items.append(item)
    if systems is None:
        raise ValueError(f"study file {path} has no items")
    _check_systems(*systems)
    return Study(tuple(items), systems[0], systems[1], hashlib.sha256(data).hexdigest())


def _parse_record(record: dict, where: str) -> tuple[StudyItem, tuple[str, str]]:
    missing = [key for key in ("id", "document", "summary_a", "summary_b") if key not in record]
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing}; an item has id, document, summary_a, summary_b")
    item_id = record["id"]
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)) or str(item_id) == "":
        raise ValueError(f"{where}: id must be a non-empty string or an integer, got {item_id!r}")
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


def _serialise(items: tuple[StudyItem, ...], system_a: str, system_b: str) -> str:
    return "".join(json.dumps({"id": item.id, "document": item.document,
                               "summary_a": {"system": system_a, "text": item.summary_a},
                               "summary_b": {"system": system_b, "text": item.summary_b}}, ensure_ascii=False) + "\n"
                   for item in items)
