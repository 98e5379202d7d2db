"""Readers for extractive QA data, the training data of a QAGen (Nan et al. 2021, section 2).

Three formats, each plain or gzip-compressed (``.gz``):

- **SQuAD** v1.1 / v2.0 JSON: ``{"data": [{"paragraphs": [{"context", "qas": [{"id", "question",
  "answers": [{"text", "answer_start"}], "is_impossible"?}]}]}]}``. v2.0 unanswerable questions
  (``is_impossible`` true, or no answers) are skipped; their ``plausible_answers`` are never used.
- **NewsQA** combined JSON (Maluuba's ``combined-newsqa-data-v1.json``): ``{"data": [{"storyId",
  "text", "type", "questions": [{"q", "consensus": {"s", "e"} | {"badQuestion": true} |
  {"noAnswer": true}}]}]}``. Only the consensus span is used, as in the paper; questions whose
  consensus is a bad question or no answer are skipped. ``type`` (train/dev/test) can be filtered.
- **JSONL**, one object per line: ``context``, ``question``, ``answer`` and optionally
  ``answer_start`` and ``id``.

The paper builds one training example per *distinct* answer text of a question, so the readers
return one :class:`QAExample` per (question, distinct stripped answer text).

Answer offsets are checked against the context. When ``context[start:start + len(answer)]`` is
not the answer, the offset is repaired to the occurrence of the answer text nearest to the given
offset (the usual cause is an offset counted in bytes or before whitespace normalisation, which
moves it a little); when the answer text does not occur in the context at all the answer is
skipped. Both cases are counted in :class:`ReadStats` and logged. A JSONL answer without
``answer_start`` is located at its first occurrence; one that does not occur is kept with
``answer_start=None`` (abstractive QA data), and counted as ``not_span``.

Example:
    >>> examples, stats = read_qa_file("squad-v1.1-dev.json.gz")   # doctest: +SKIP
    >>> examples[0].question, examples[0].answer, stats.examples     # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from quals.data.readers import strict_json_lines

logger = logging.getLogger(__name__)

QA_FORMATS = ("auto", "squad", "newsqa", "jsonl")


@dataclass(frozen=True)
class QAExample:
    """One (passage, question, answer) training or evaluation example.

    Attributes:
        id: question id in its source (SQuAD ``id``, NewsQA ``storyId#index``, JSONL ``id`` or line).
        context: the passage.
        question: the question text, stripped.
        answer: the answer text, stripped.
        answer_start: character offset of the answer in ``context``, or None when the answer is
            not a span of the context (JSONL only).
        source: the file it came from.
    """

    id: str
    context: str
    question: str
    answer: str
    answer_start: int | None
    source: str = ""

    @property
    def answer_end(self) -> int | None:
        return None if self.answer_start is None else self.answer_start + len(self.answer)


@dataclass
class ReadStats:
    """What a reader kept and skipped, per reason."""

    questions: int = field(default=0, metadata={"help": "Questions read."})
    examples: int = field(default=0, metadata={"help": "Examples kept (one per distinct answer)."})
    duplicate_answers: int = field(default=0, metadata={
        "help": "Answers equal to an earlier one of the same question."})
    unanswerable: int = field(default=0, metadata={"help": "SQuAD v2 impossible questions / NewsQA noAnswer."})
    bad_questions: int = field(default=0, metadata={"help": "NewsQA consensus badQuestion."})
    no_consensus: int = field(default=0, metadata={"help": "NewsQA questions without a usable consensus span."})
    other_split: int = field(default=0, metadata={"help": "NewsQA questions of a story outside the asked split."})
    empty: int = field(default=0, metadata={"help": "Empty context, question or answer."})
    repaired_offsets: int = field(default=0, metadata={"help": "Offsets moved to the nearest occurrence."})
    unlocatable_answers: int = field(default=0, metadata={
        "help": "Answers that do not occur in the context (skipped)."})
    not_span: int = field(default=0, metadata={"help": "JSONL answers kept without a span."})

    def add(self, other: ReadStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_dict(self) -> dict:
        return asdict(self)


def locate_answer(context: str, answer: str, start: int | None) -> int | None:
    """Character offset of ``answer`` in ``context``: ``start`` if it is right, else the occurrence
    nearest to ``start`` (the first one when ``start`` is None); None if it does not occur.

    >>> locate_answer("a cat and a cat", "cat", 11)
    12
    >>> locate_answer("a cat", "dog", 2) is None
    True
    """
    if start is not None and context[start:start + len(answer)] == answer:
        return start
    occurrences = []
    found = context.find(answer)
    while found != -1:
        occurrences.append(found)
        found = context.find(answer, found + 1)
    if not occurrences:
        return None
    if start is None:
        return occurrences[0]
    return min(occurrences, key=lambda offset: (abs(offset - start), offset))


def _strip_answer(text: str, start: int | None) -> tuple[str, int | None]:
    """Strip whitespace from an answer and move its offset past the leading part."""
    lead = len(text) - len(text.lstrip())
    return text.strip(), None if start is None else start + lead


class _Builder:
    """Dedupes answers per question, checks offsets and counts what it skips."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.stats = ReadStats()

    def question(self, qid: str, context: str, question: str,
                 answers: Iterable[tuple[str, int | None]], *, span_required: bool = True) -> Iterator[QAExample]:
        self.stats.questions += 1
        question = question.strip()
        if not context.strip() or not question:
            self.stats.empty += 1
            return
        seen: set[str] = set()
        for raw_text, raw_start in answers:
            text, start = _strip_answer(raw_text or "", raw_start)
            if not text:
                self.stats.empty += 1
                continue
            if text in seen:
                self.stats.duplicate_answers += 1
                continue
            located = locate_answer(context, text, start)
            if located is None:
                if span_required or start is not None:
                    self.stats.unlocatable_answers += 1
                    continue
                self.stats.not_span += 1
            elif start is not None and located != start:
                self.stats.repaired_offsets += 1
            seen.add(text)
            self.stats.examples += 1
            yield QAExample(qid, context, question, text, located, self.source)


def _open(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _read_squad(document: dict, builder: _Builder) -> Iterator[QAExample]:
    for article in document["data"]:
        for paragraph in article.get("paragraphs", []):
            context = paragraph.get("context", "")
            for number, qa in enumerate(paragraph.get("qas", [])):
                answers = qa.get("answers") or []
                if qa.get("is_impossible") or not answers:
                    builder.stats.questions += 1
                    builder.stats.unanswerable += 1
                    continue
                qid = str(qa.get("id", f"{article.get('title', '')}#{number}"))
                yield from builder.question(
                    qid, context, qa.get("question", ""),
                    ((a.get("text", ""), a.get("answer_start")) for a in answers))


def _read_newsqa(document: dict, builder: _Builder, split: str | None) -> Iterator[QAExample]:
    for story in document["data"]:
        text = story.get("text", "")
        story_id = str(story.get("storyId", ""))
        for number, question in enumerate(story.get("questions", [])):
            consensus = question.get("consensus") or {}
            if split is not None and story.get("type") != split:
                builder.stats.questions += 1
                builder.stats.other_split += 1
                continue
            if consensus.get("badQuestion"):
                builder.stats.questions += 1
                builder.stats.bad_questions += 1
                continue
            if consensus.get("noAnswer"):
                builder.stats.questions += 1
                builder.stats.unanswerable += 1
                continue
            start, end = consensus.get("s"), consensus.get("e")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
                builder.stats.questions += 1
                builder.stats.no_consensus += 1
                continue
            # The span's own text is the answer, so its offset is right by construction.
            yield from builder.question(f"{story_id}#{number}", text, question.get("q", ""),
                                        [(text[start:end], start)])


def _read_jsonl(handle, builder: _Builder) -> Iterator[QAExample]:
    for number, row in strict_json_lines(handle, builder.source, ("context", "question", "answer"), kind=str):
        start = row.get("answer_start")
        if start is not None and not isinstance(start, int):
            raise ValueError(f"{builder.source} line {number}: answer_start must be an integer, got {start!r}")
        yield from builder.question(str(row.get("id", number)), row["context"], row["question"],
                                    [(row["answer"], start)], span_required=False)


def detect_qa_format(path: Path, document: dict | None) -> str:
    """``jsonl`` for ``.jsonl``/``.ndjson`` names, else from the JSON structure."""
    if document is None:
        return "jsonl"
    data = document.get("data") if isinstance(document, dict) else None
    if isinstance(data, list) and data:
        if "paragraphs" in data[0]:
            return "squad"
        if "questions" in data[0] and "text" in data[0]:
            return "newsqa"
    raise ValueError(f"{path}: not SQuAD JSON (data[].paragraphs) nor NewsQA JSON (data[].text/questions); "
                     "pass the format explicitly (squad, newsqa or jsonl)")


def _is_jsonl_name(path: Path) -> bool:
    return any(s in (".jsonl", ".ndjson") for s in path.suffixes)


def read_qa_file(path: str | Path, qa_format: str = "auto", *,
                 newsqa_split: str | None = None) -> tuple[list[QAExample], ReadStats]:
    """Read one QA file.

    Args:
        path: SQuAD/NewsQA JSON or JSONL file, optionally gzip-compressed.
        qa_format: ``auto`` (``.jsonl`` names are JSONL, JSON is told apart by its structure),
            ``squad``, ``newsqa`` or ``jsonl``.
        newsqa_split: keep only NewsQA stories of this ``type`` (``train``, ``dev``, ``test``);
            None keeps all.

    Returns:
        The examples in file order and what was kept and skipped.

    Raises:
        ValueError: unknown format, malformed file, or a structure that does not match the format.
        FileNotFoundError: no such file.
    """
    if qa_format not in QA_FORMATS:
        raise ValueError(f"QA format must be one of {', '.join(QA_FORMATS)}; got {qa_format!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such QA file: {path}")
    builder = _Builder(str(path))
    with _open(path) as handle:
        if qa_format == "jsonl" or (qa_format == "auto" and _is_jsonl_name(path)):
            examples = list(_read_jsonl(handle, builder))
        else:
            try:
                document = json.load(handle)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: malformed JSON ({err.msg}); JSONL files need a .jsonl name "
                                 "or the jsonl format") from err
            fmt = detect_qa_format(path, document) if qa_format == "auto" else qa_format
            if not isinstance(document, dict) or not isinstance(document.get("data"), list):
                raise ValueError(f"{path}: {fmt} JSON needs a top-level 'data' list")
            reader = _read_squad(document, builder) if fmt == "squad" else _read_newsqa(document, builder, newsqa_split)
            examples = list(reader)
    stats = builder.stats
    if stats.repaired_offsets or stats.unlocatable_answers:
        logger.warning("%s: %d answer offsets repaired to the nearest occurrence, %d answers not found in "
                       "their context and skipped", path, stats.repaired_offsets, stats.unlocatable_answers)
    skipped = {k: v for k, v in stats.to_dict().items() if v and k not in ("examples", "questions")}
    logger.info("%s: %d examples from %d questions%s", path, stats.examples, stats.questions,
                "".join(f", {k} {v}" for k, v in skipped.items()))
    return examples, stats


def read_qa_files(paths: Iterable[str | Path], qa_format: str = "auto", *,
                  newsqa_split: str | None = None) -> tuple[list[QAExample], ReadStats]:
    """Read several QA files (same format rules as :func:`read_qa_file`), concatenated in order."""
    examples: list[QAExample] = []
    total = ReadStats()
    for path in paths:
        found, stats = read_qa_file(path, qa_format, newsqa_split=newsqa_split)
        examples.extend(found)
        total.add(stats)
    return examples, total
