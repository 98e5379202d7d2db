"""SQuAD exact match and F1 of QAGS's answerer (``quals eval-qa``).

The answers come from the same answerer QAGS uses (:func:`quals.metrics.qags.load_answerer`:
greedy answers of a language model after the forced question, or the best span of an extractive
model), reading each passage the way QAGS reads a document, so the numbers describe the component
QAGS scores with. EM and F1 are the SQuAD v1.1 script's: the best over a question's gold answers,
after SQuAD normalisation (:mod:`quals.metrics.answers`), averaged over questions.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from quals.data.qa_datasets import QA_FORMATS, QAExample
from quals.metrics.answers import exact_match, token_f1
from quals.models.packaged import DEFAULT_BASE_MODEL


@dataclass(frozen=True)
class QAEvalConfig:
    """What to answer and with which model."""

    files: tuple[str, ...] = field(default=(), metadata={"help": "SQuAD-format (or NewsQA / JSONL) QA files."})
    model: str = field(default=DEFAULT_BASE_MODEL, metadata={
        "help": "Answerer: a train-qagen --task qa adapter, a QAGen, any LM (greedy), or an extractive QA model."})
    data_format: str = field(default="auto", metadata={"help": "auto, squad, newsqa or jsonl."})
    num_questions: int | None = field(default=1000, metadata={
        "help": "Seeded subset of questions (None: all)."})
    max_answer_tokens: int = field(default=16, metadata={"help": "Most answer tokens (QAGS's default)."})
    seed: int = field(default=0, metadata={"help": "Seed of the question subset."})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda[:N] or mps."})
    dtype: str = field(default="auto", metadata={"help": "auto, float32, bfloat16 or float16."})
    batch_size: int = field(default=64, metadata={"help": "Questions (x windows) per forward pass."})

    def __post_init__(self) -> None:
        if self.data_format not in QA_FORMATS:
            raise ValueError(f"data_format must be one of {', '.join(QA_FORMATS)}; got {self.data_format!r}")
        if self.num_questions is not None and self.num_questions < 1:
            raise ValueError(f"num_questions must be >= 1 or None, got {self.num_questions}")


@dataclass(frozen=True)
class Question:
    """One question with every gold answer its source lists."""

    id: str
    context: str
    question: str
    answers: tuple[str, ...]


def group_questions(examples: Sequence[QAExample]) -> list[Question]:
    """One :class:`Question` per question id (the readers give one example per distinct answer)."""
    grouped: dict[tuple[str, str], list[QAExample]] = {}
    for example in examples:
        grouped.setdefault((example.source, example.id), []).append(example)
    return [Question(rows[0].id, rows[0].context, rows[0].question, tuple(dict.fromkeys(r.answer for r in rows)))
            for rows in grouped.values()]


def squad_scores(prediction: str, answers: Sequence[str]) -> tuple[float, float]:
    """``(exact match, F1)`` of one prediction: the best over the gold answers (SQuAD v1.1)."""
    if not answers:
        raise ValueError("a question needs at least one gold answer")
    return (max(float(exact_match(prediction, a)) for a in answers),
            max(token_f1(prediction, a) for a in answers))


@dataclass
class QAEvalResult:
    """EM/F1 over the questions, the run's identity and every prediction."""

    exact_match: float
    f1: float
    questions: int
    seconds: float
    model: dict
    config: dict
    predictions: list[dict]

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_qa(config: QAEvalConfig, show_progress: bool = True) -> QAEvalResult:
    """Answer a seeded subset of the questions in ``config.files`` and score the answers."""
    from quals.data.qa_datasets import read_qa_files
    from quals.metrics.qags import load_answerer
    from quals.metrics.qags_config import QagsConfig
    from tqdm.auto import tqdm

    if not config.files:
        raise ValueError("give at least one QA file")
    examples, _ = read_qa_files(config.files, config.data_format)
    questions = group_questions(examples)
    if not questions:
        raise ValueError(f"no questions in {', '.join(config.files)}")
    if config.num_questions is not None and config.num_questions < len(questions):
        questions = random.Random(config.seed).sample(questions, config.num_questions)
    answerer = load_answerer(config.model, QagsConfig(max_answer_tokens=config.max_answer_tokens),
                             device=config.device, dtype=config.dtype, batch_size=config.batch_size)
    by_context: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        by_context.setdefault(q.context, []).append(i)
    contexts = list(by_context)
    predictions: list[str] = [""] * len(questions)
    started = time.perf_counter()
    per_call = max(1, config.batch_size // 8)  # passages per answerer call
    with tqdm(total=len(questions), desc=f"answering with {config.model}", disable=not show_progress) as bar:
        for start in range(0, len(contexts), per_call):
            chunk = contexts[start:start + per_call]
            answers = answerer.answer(chunk, [[questions[i].question for i in by_context[c]] for c in chunk])
            for context, context_answers in zip(chunk, answers, strict=True):
                for i, answer in zip(by_context[context], context_answers, strict=True):
                    predictions[i] = answer.text
                bar.update(len(context_answers))
    seconds = time.perf_counter() - started
    scored = [squad_scores(p, q.answers) for p, q in zip(predictions, questions, strict=True)]
    model = getattr(answerer, "backbone", answerer)
    return QAEvalResult(
        exact_match=sum(em for em, _ in scored) / len(scored), f1=sum(f1 for _, f1 in scored) / len(scored),
        questions=len(questions), seconds=round(seconds, 1),
        model={"model": config.model, "weights": model.fingerprint,
               "kind": "extractive" if model is answerer else "backbone-greedy"},
        config=asdict(config),
        predictions=[{"id": q.id, "question": q.question, "prediction": p, "answers": list(q.answers),
                      "exact_match": em, "f1": f1}
                     for q, p, (em, f1) in zip(questions, predictions, scored, strict=True)])
