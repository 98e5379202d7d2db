"""The three models ``quals train-qagen`` trains from one kind of QA data, and their token layouts.

One (passage, question, answer) example teaches any of:

- ``qagen`` (QUALS): passage -> ``question SEP answer EOS`` (:func:`examples.build_feature`).
- ``qg`` (QAGS's question generator, the QAGS paper's BART QG): (passage, answer) -> ``question
  EOS``. The input is :class:`~quals.metrics.qags_questions.QGPrompt` with the prompt recorded
  in the run (:class:`QGPromptRecord`): for a chat model the same instruction that prompted QAGS
  uses, so training fine-tunes exactly what QAGS asks, and QAGS reads the record back when it loads
  the adapter.
- ``qa`` (QAGS's answerer, generative with the same backbone): the QAGen layout with the question
  and separator forced (:func:`~quals.metrics.qags_answering.forced_question_ids`, what QAGS
  forces) and the loss on ``answer EOS`` only, so the model answers greedily as QAGS decodes it.

Each layout is built by the functions scoring uses, so training text equals scoring text token for
token. A passage longer than the budget keeps a window centred on the answer, as for the QAGen.
"""

from __future__ import annotations

from quals.data.qa_datasets import QAExample
from quals.metrics.qags_answering import forced_question_ids
from quals.metrics.qags_questions import QGPrompt
from quals.training.qagen.config import TASKS
from quals.training.qagen.examples import (
    IGNORE_INDEX,
    QAFeature,
    answer_token_span,
    build_feature,
    context_window,
    passage_prompt,
)



def qg_target(question: str) -> str | None:
    """The question a QG model learns to write, cut after its first ``?`` (QAGS cuts there and
    stops decoding there); None for a question without ``?``, which QAGS's cleaning would drop."""
    mark = question.find("?")
    return None if mark < 0 else question[:mark + 1].strip()


def _window_text(backbone, example: QAExample, budget: int) -> tuple[str, tuple[int, int], bool]:
    """The passage cut to at most ``budget`` tokens around the answer, as text."""
    encoded = backbone.tokenizer(example.context, add_special_tokens=False, return_offsets_mapping=True)
    offsets = encoded["offset_mapping"]
    span = None
    if example.answer_start is not None:
        span = answer_token_span(offsets, example.answer_start, example.answer_end)
    start, end = context_window(len(offsets), span, budget)
    if end - start == len(offsets):
        return example.context, (start, end), False
    return example.context[offsets[start][0]:offsets[end - 1][1]], (start, end), True


def build_qg_feature(backbone, example: QAExample, max_context_tokens: int, prompt: QGPrompt) -> QAFeature | None:
    """(passage, answer) -> question, or None when the question has no ``?``.

    Causal: input = ``prompt.ids(passage, answer) + question + EOS``, labels on the question and
    EOS; seq2seq: encoder input = ``prompt.ids(passage, answer)``, labels = question + EOS.
    """
    question = qg_target(example.question)
    if question is None:
        return None
    causal = backbone.family == "causal"
    target = backbone.tokenize(" " + question if causal else question) + [backbone.eos_token_id]
    overhead = len(prompt.ids("", example.answer))
    budget = min(max_context_tokens, backbone.max_positions - overhead - (len(target) if causal else 0))
    if budget < 16:
        raise ValueError(f"{backbone.model_id}: {backbone.max_positions} positions leave no room for a passage")
    for _ in range(3):  # re-tokenising the cut text can add a token or two at the edges
        text, window, truncated = _window_text(backbone, example, budget)
        ids = prompt.ids(text, example.answer)
        excess = len(ids) + (len(target) if causal else 0) - backbone.max_positions
        if excess <= 0:
            break
        budget -= excess
    else:
        raise ValueError(f"example {example.id}: question-generation input does not fit the model")
    if causal:
        return QAFeature(tuple(ids + target), tuple([IGNORE_INDEX] * len(ids) + target), window, truncated)
    return QAFeature(tuple(ids), tuple(target), window, truncated)


def build_qa_feature(backbone, example: QAExample, max_context_tokens: int) -> QAFeature:
    """The QAGen layout with the loss on ``answer EOS`` only (the question is forced input).

    Causal: input = ``prompt + forced question + answer + EOS``, labels -100 up to the answer.
    Seq2seq: encoder input = prompt; decoder input = ``start + forced question + answer``, labels
    = -100 on the question, then ``answer EOS``.
    """
    forced = forced_question_ids(backbone, example.question)
    whole = backbone.tokenize(backbone.qa_format.qa_text(example.question, example.answer))
    if whole[:len(forced)] == forced:
        answer = whole[len(forced):]
    else:  # the tokenizer merged across the separator: tokenise the answer on its own
        tail = backbone.qa_format.separator[len(backbone.qa_format.separator.rstrip()):]
        answer = backbone.tokenize(tail + example.answer.strip())
    answer = answer + [backbone.eos_token_id]
    prompt, window, truncated = passage_prompt(backbone, example, max_context_tokens, len(forced) + len(answer))
    masked = [IGNORE_INDEX] * len(forced) + answer
    if backbone.family == "seq2seq":
        decoder = [backbone.decoder_start_token_id()] + forced + answer[:-1]
        return QAFeature(tuple(prompt), tuple(masked), window, truncated, tuple(decoder))
    return QAFeature(tuple(prompt + forced + answer), tuple([IGNORE_INDEX] * len(prompt) + masked), window, truncated)


def build_task_feature(task: str, backbone, example: QAExample, max_context_tokens: int,
                       qg_prompt: QGPrompt | None = None) -> QAFeature | None:
    """The feature of ``example`` for ``task`` (one of :data:`TASKS`); None when it teaches nothing
    (a QG question without ``?``)."""
    if task == "qagen":
        return build_feature(backbone, example, max_context_tokens)
    if task == "qa":
        return build_qa_feature(backbone, example, max_context_tokens)
    if task == "qg":
        if qg_prompt is None:
            raise ValueError("task 'qg' needs its QGPrompt")
        return build_qg_feature(backbone, example, max_context_tokens, qg_prompt)
    raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
