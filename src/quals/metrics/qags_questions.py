"""QAGS question generation: answer-conditional questions by beam search, and the authors' cleaning.

Two model paths share one generator. By default the QUALS backbone is prompted (a chat prompt
for decoder-only models: the summary, the answer, and "write a question whose answer is X"; the
continuation is the question). ``--qg-model`` names any Hugging Face seq2seq (or causal)
question-generation model, fed ``qg_template`` (default ``answer: {answer}  context: {context}``,
the input of common T5 answer-aware QG models). Either way every (summary, answer) pair is one input
of our batched beam search (``diverse_beam_search`` with one group of width B = plain beam search,
KV cache shared by a prompt's beams), and all B finished hypotheses are returned with their
fairseq scores (summed log-prob / length).

Generation of a hypothesis stops at its first ``?`` (only EOS is allowed after it): the authors'
cleaning cuts every question at its first ``?`` anyway, so the tokens after it would be decoded
only to be thrown away. The hypothesis score still includes the model's own log-prob of EOS there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from quals.generation.config import GenerationConfig
from quals.generation.diverse_beam import diverse_beam_search
from quals.metrics.qags_config import DEFAULT_QG_INSTRUCTION, DEFAULT_QG_TEMPLATE
from quals.models.backbone import Backbone


@dataclass(frozen=True)
class GeneratedQuestion:
    """One beam-search hypothesis: its text, fairseq score (mean token log-prob) and EOS status."""

    text: str
    score: float
    finished: bool


def clean_question(text: str, min_words: int = 3) -> str | None:
    """The authors' cleaning of one question (``qa_utils.filter_qsts``): cut after the first
    ``?``; None when there is no ``?`` or fewer than ``min_words`` whitespace tokens remain."""
    mark = text.find("?")
    if mark < 0:
        return None
    cleaned = text[:mark + 1].strip()
    return cleaned if len(cleaned.split()) >= min_words else None


@dataclass(frozen=True)
class QuestionCandidate:
    """A cleaned question, its generation score and the answer candidate it was generated for."""

    question: str
    score: float
    candidate: int


def select_questions(questions: Sequence[QuestionCandidate], consistent, k: int) -> list[QuestionCandidate]:
    """The authors' selection: keep answer-consistent questions, sort them by score (best first,
    stable), drop repeats of an earlier question text, take the first ``k``.

    Args:
        questions: cleaned questions of one summary.
        consistent: ``consistent(q) -> bool``, the answer-consistency test.
        k: most questions kept (authors: 20).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    kept: list[QuestionCandidate] = []
    seen: set[str] = set()
    for q in sorted((q for q in questions if consistent(q)), key=lambda q: -q.score):
        if q.question in seen:
            continue
        seen.add(q.question)
        kept.append(q)
        if len(kept) == k:
            break
    return kept


def unanswered_questions(questions: Sequence[QuestionCandidate], answered) -> list[str]:
    """Distinct question texts not in ``answered``, ordered by their best score (best first)."""
    out: dict[str, None] = {}
    for q in sorted(questions, key=lambda q: -q.score):
        if q.question not in answered:
            out.setdefault(q.question)
    return list(out)


def selection_settled(questions: Sequence[QuestionCandidate], answered, consistent, k: int) -> bool:
    """True when answering the remaining questions cannot change :func:`select_questions`:
    everything is answered, or ``k`` distinct answered questions are consistent with a score
    strictly above the best score of any unanswered question (on a tie the stable sort may put the
    unanswered one first).

    Args:
        questions: cleaned questions of one summary.
        answered: the question texts answered so far (``consistent`` is only asked about those).
        consistent: ``consistent(q) -> bool``.
        k: most questions kept.
    """
    remaining = max((q.score for q in questions if q.question not in answered), default=None)
    if remaining is None:
        return True
    settled = {q.question for q in questions
               if q.question in answered and q.score > remaining and consistent(q)}
    return len(settled) >= k


class QGPrompt:
    """Builds the model input for (context, answer).

    Args:
        backbone: the model the prompt is for.
        template: plain text with ``{context}`` and ``{answer}``; the input of seq2seq models
            (wrapped in their special tokens) and, when ``instruction`` is None, of causal ones.
        instruction: for a causal model, ask in words: the instruction, the context and the
            answer, in the model's chat template when it has one (the assistant turn then starts
            with ``Question:``), else as plain text ending with ``Question:``.
    """

    def __init__(self, backbone: Backbone, template: str = DEFAULT_QG_TEMPLATE,
                 instruction: str | None = DEFAULT_QG_INSTRUCTION) -> None:
        for field in ("{context}", "{answer}"):
            if field not in template:
                raise ValueError(f"QG template must contain {field}, got {template!r}")
        self.backbone = backbone
        self.template = template
        self.instruction = instruction if backbone.family == "causal" else None
        self._bos = _bos_ids(backbone.tokenizer) if backbone.family == "causal" else []
        self._wrap = None
        if self.instruction is not None:
            self._wrap = _chat_wrapper(backbone.tokenizer) or ("", "\n\nQuestion:")

    def text(self, context: str, answer: str) -> str:
        if self._wrap is not None:
            prefix, suffix = self._wrap
            return f"{prefix}{self.instruction}\n\nText: {context}\n\nAnswer: {answer}{suffix}"
        return self.template.format(context=context, answer=answer)

    def ids(self, context: str, answer: str) -> list[int]:
        ids = self.backbone.tokenize(self.text(context, answer))
        if self.backbone.family == "seq2seq":
            return self.backbone.prompt_ids(ids)
        if self._bos and ids[:len(self._bos)] != self._bos:
            ids = self._bos + ids
        return ids


@dataclass(frozen=True)
class QGPromptRecord:
    """How a trained question generator's input is built (kept in ``quals_qagen.json``).

    Attributes:
        template: text with ``{context}`` and ``{answer}`` (seq2seq models; causal ones without
            an instruction).
        instruction: causal models: the request in words, inside the chat template (None: plain
            ``template``).
    """

    template: str = DEFAULT_QG_TEMPLATE
    instruction: str | None = DEFAULT_QG_INSTRUCTION

    def prompt(self, backbone) -> QGPrompt:
        return QGPrompt(backbone, self.template, self.instruction)

    def to_dict(self) -> dict:
        return asdict(self)


def _bos_ids(tokenizer) -> list[int]:
    """Special tokens the tokenizer puts before a text (e.g. a Llama ``<s>``)."""
    plain = tokenizer("quals", add_special_tokens=False)["input_ids"]
    full = tokenizer("quals")["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start:start + len(plain)] == plain:
            return list(full[:start])
    return []


def _chat_wrapper(tokenizer) -> tuple[str, str] | None:
    """(text before the user message, text after it up to ``Question:``) of the chat template."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    marker = "\x00USER\x00"
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": marker}], tokenize=False,
                                             add_generation_prompt=True)
    if rendered.count(marker) != 1:
        return None
    prefix, suffix = rendered.split(marker)
    return prefix, suffix + "Question:"


class QuestionGenerator:
    """Answer-conditional question generation with batched beam search.

    Args:
        backbone: the QG model.
        prompt: builds its inputs.
        beam_size: beam width B (authors: 10).
        questions_per_answer: hypotheses kept per (context, answer), best first (authors: 10).
        max_question_tokens: most generated tokens, EOS included.
        batch_size: most beams per forward pass (``batch_size // beam_size`` inputs per search).
    """

    def __init__(self, backbone: Backbone, prompt: QGPrompt, *, beam_size: int = 10,
                 questions_per_answer: int = 10, max_question_tokens: int = 32, batch_size: int = 64) -> None:
        if not 1 <= questions_per_answer <= beam_size:
            raise ValueError(f"questions_per_answer must be in [1, beam_size={beam_size}], got {questions_per_answer}")
        self.backbone = backbone
        self.prompt = prompt
        self.questions_per_answer = questions_per_answer
        self.batch_size = batch_size
        self.config = GenerationConfig(num_groups=1, group_width=beam_size, diversity_penalty=0.0,
                                       min_length=1, max_length=max_question_tokens, length_penalty=1.0)
        tokenizer = backbone.tokenizer
        special = set(tokenizer.all_special_ids)
        self._question_marks = frozenset(
            i for i in range(len(tokenizer)) if i not in special and "?" in tokenizer.decode([i]))

    def _after_question_mark(self, index: int, prefix: Sequence[int]) -> list[int] | None:
        if any(token in self._question_marks for token in prefix):
            return [self.backbone.eos_token_id]
        return None

    def generate(self, contexts: Sequence[str],
                 answers: Sequence[Sequence[str]]) -> list[list[list[GeneratedQuestion]]]:
        """Questions for every answer of every context: ``out[c][a]`` lists up to
        ``questions_per_answer`` hypotheses for ``answers[c][a]``, best first.

        Raises:
            ValueError: an input is longer than the model allows (named by context index).
        """
        if len(contexts) != len(answers):
            raise ValueError(f"{len(contexts)} contexts but {len(answers)} answer lists")
        limit = self.backbone.max_positions - (self.config.max_length if self.backbone.family == "causal" else 0)
        inputs: list[tuple[int, int, list[int]]] = []
        for c, (context, context_answers) in enumerate(zip(contexts, answers, strict=True)):
            for a, answer in enumerate(context_answers):
                ids = self.prompt.ids(context, answer)
                if len(ids) > limit:
                    raise ValueError(f"context {c}: question-generation input has {len(ids)} tokens; "
                                     f"the model allows {limit}")
                inputs.append((c, a, ids))
        out: list[list[list[GeneratedQuestion]]] = [[[] for _ in a] for a in answers]
        inputs.sort(key=lambda item: len(item[2]))  # similar lengths share a batch: less padding
        per_batch = max(1, self.batch_size // self.config.beams)
        for start in range(0, len(inputs), per_batch):
            batch = inputs[start:start + per_batch]
            results = diverse_beam_search(self.backbone, [ids for _, _, ids in batch], self.config,
                                          self._after_question_mark)
            for (c, a, _), hyps in zip(batch, results, strict=True):
                ranked = sorted(hyps, key=lambda h: -h.score)[:self.questions_per_answer]
                out[c][a] = [GeneratedQuestion(self.backbone.decode(h.token_ids).strip(), h.score, h.finished)
                             for h in ranked]
        return out
