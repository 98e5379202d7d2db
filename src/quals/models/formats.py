"""How a context and a QA pair become tokens, for each model family.

Seq2seq (the paper): the context is the encoder input, the target is
``question <SEP> answer <EOS>`` with a separator that never occurs in normal text.

Decoder-only: the context is wrapped in a prompt that ends with ``Question:`` and the QA pair is
the continuation `` {question}\\nAnswer: {answer}<EOS>``. Ending the prompt with the cue keeps
even an untuned chat model in the format, and the scored tokens are then exactly the paper's
``question, SEP, answer, EOS`` with ``\\nAnswer:`` as SEP. The prompt is split into a prefix and
a suffix tokenized apart from the context, so a long context can be cut into token windows without
re-tokenizing the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_INSTRUCTION = (
    "Read the text. Ask one question about it and give the answer, copied word for word "
    "from the text."
)


@dataclass(frozen=True)
class QAFormat:
    """Text layout of QA pairs and prompts. Pick with :func:`default_format`."""

    family: str = field(metadata={"help": "'seq2seq' or 'causal'."})
    separator: str = field(
        default=" <sep> ",
        metadata={"help": "Text between question and answer. Seq2seq default: the paper's <SEP>."},
    )
    question_prefix: str = field(default="", metadata={"help": "Text before the question."})
    prompt_prefix: str = field(default="", metadata={"help": "Causal only: text before the context."})
    prompt_suffix: str = field(default="", metadata={"help": "Causal only: text after the context."})

    def __post_init__(self) -> None:
        if self.family not in ("seq2seq", "causal"):
            raise ValueError(f"family must be 'seq2seq' or 'causal', got {self.family!r}")
        if not self.separator.strip():
            raise ValueError("separator must contain a visible character")

    def qa_text(self, question: str, answer: str) -> str:
        """The QA pair as the model writes it, without EOS."""
        return f"{self.question_prefix}{question.strip()}{self.separator}{answer.strip()}"

    def parse(self, text: str) -> tuple[str, str] | None:
        """Split generated text (EOS removed) into (question, answer); None if malformed."""
        if self.question_prefix.strip():
            stripped = text.lstrip()
            if not stripped.startswith(self.question_prefix.strip()):
                return None
            text = stripped[len(self.question_prefix.strip()):]
        sep = self.separator.strip()
        if text.count(sep) != 1:
            return None
        question, answer = (part.strip() for part in text.split(sep))
        if not question or not answer:
            return None
        return question, answer


def seq2seq_format(separator: str = " <sep> ") -> QAFormat:
    """The paper's target layout: ``question <SEP> answer``."""
    return QAFormat(family="seq2seq", separator=separator)


def causal_format(tokenizer: Any = None, instruction: str = DEFAULT_INSTRUCTION) -> QAFormat:
    """Plain-text template for decoder-only models.

    With a chat tokenizer the prompt is the model's own chat template (user turn = instruction
    and text, assistant turn = the QA pair), which instruction-tuned models follow far better;
    otherwise a plain ``Text: ...`` prompt.
    """
    user = f"{instruction}\n\nText: "
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        marker = "\x00CONTEXT\x00"
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": user + marker}],
            tokenize=False,
            add_generation_prompt=True,
        )
        if rendered.count(marker) == 1:
            prefix, suffix = rendered.split(marker)
            return QAFormat(
                family="causal",
                separator="\nAnswer: ",
                question_prefix=" ",
                prompt_prefix=prefix,
                prompt_suffix=suffix + "Question:",
            )
    return QAFormat(
        family="causal",
        separator="\nAnswer: ",
        question_prefix=" ",
        prompt_prefix=user,
        prompt_suffix="\n\nQuestion:",
    )
