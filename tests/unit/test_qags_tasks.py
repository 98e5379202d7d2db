"""Token layouts of QAGS's two trained components (``train-qagen --task qg|qa``): what is input,
what is scored, and that it is exactly what QAGS feeds the models at scoring time."""

from __future__ import annotations

import pytest

from quals.data.qa_datasets import QAExample
from quals.metrics.qags_answering import BackboneAnswerer
from quals.metrics.qags_questions import QGPrompt, QGPromptRecord
from quals.training.qagen.examples import IGNORE_INDEX, QACollator, QAFeatureDataset, build_feature
from quals.training.qagen.tasks import build_qa_feature, build_qg_feature, build_task_feature, qg_target

CONTEXT = "Officials said 12 people were hurt when a bus crashed near Leeds on Friday evening."
EXAMPLE = QAExample("1", CONTEXT, "How many people were hurt? (bus)", "12", CONTEXT.index("12"))


def _labelled(feature) -> list[int]:
    return [t for t in feature.labels if t != IGNORE_INDEX]


@pytest.mark.parametrize("question, expected", [
    ("Who won?", "Who won?"), ("Who won? and why", "Who won?"), ("  who won  ?", "who won  ?"), ("Name him", None)])
def test_qg_target_cuts_after_the_first_question_mark(question, expected):
    assert qg_target(question) == expected


@pytest.mark.parametrize("kind", ["llama", "bart", "t5"])
def test_qa_feature_forces_the_question_as_qags_does_and_scores_only_the_answer(tiny_backbones, kind):
    backbone = tiny_backbones[kind]
    feature = build_qa_feature(backbone, EXAMPLE, 512)
    forced = BackboneAnswerer(backbone, lambda n: 512).question_ids(EXAMPLE.question)
    answer = _labelled(feature)
    assert answer[-1] == backbone.eos_token_id and backbone.decode(answer).strip() == "12"
    qagen = build_feature(backbone, EXAMPLE, 512)  # the QAGen's layout: same passage, same pair
    if kind == "llama":
        prompt = list(qagen.input_ids[:len(qagen.input_ids) - len(qagen.labels) + qagen.labels.count(IGNORE_INDEX)])
        assert list(feature.input_ids) == prompt + forced + answer
        assert feature.labels == (IGNORE_INDEX,) * (len(prompt) + len(forced)) + tuple(answer)
        assert feature.decoder_input_ids is None
    else:
        assert feature.input_ids == qagen.input_ids  # encoder reads the passage only
        assert feature.labels == (IGNORE_INDEX,) * len(forced) + tuple(answer)
        # the decoder reads start + question + answer: the labels shifted right, question unmasked
        assert feature.decoder_input_ids == (backbone.decoder_start_token_id(), *forced, *answer[:-1])
        assert len(feature.decoder_input_ids) == len(feature.labels)
    # QAGen layout and QA layout score the same answer tokens
    assert tuple(answer) == tuple(_labelled(qagen)[-len(answer):])


@pytest.mark.parametrize("kind", ["llama", "bart"])
def test_qg_feature_is_the_qags_prompt_then_the_question(tiny_backbones, kind):
    backbone = tiny_backbones[kind]
    prompt = QGPromptRecord().prompt(backbone)
    feature = build_qg_feature(backbone, EXAMPLE, 512, prompt)
    question = _labelled(feature)
    assert question[-1] == backbone.eos_token_id
    assert backbone.decode(question).strip() == "How many people were hurt?"  # cut after the '?'
    expected_input = prompt.ids(CONTEXT, "12")
    if kind == "llama":
        assert list(feature.input_ids) == expected_input + question
        assert feature.labels.count(IGNORE_INDEX) == len(expected_input)
    else:
        assert list(feature.input_ids) == expected_input and list(feature.labels) == question
    unanswerable = QAExample("2", CONTEXT, "Name the city", "Leeds", CONTEXT.index("Leeds"))
    assert build_qg_feature(backbone, unanswerable, 512, prompt) is None


def test_qg_prompt_record_rebuilds_the_same_prompt(tiny_backbones):
    backbone = tiny_backbones["llama"]
    record = QGPromptRecord("Q for {answer} in {context}", None)
    again = QGPromptRecord(**record.to_dict())
    assert again.prompt(backbone).ids("a text", "x") == QGPrompt(backbone, record.template, None).ids("a text", "x")
    assert backbone.decode(again.prompt(backbone).ids("a text", "x")).strip() == "Q for x in a text"


@pytest.mark.parametrize("task", ["qg", "qa"])
def test_long_passages_keep_a_window_around_the_answer(tiny_backbones, task):
    backbone = tiny_backbones["llama"]
    filler = "It was calm. " * 4
    context = filler + "The bus crashed near Leeds. " + filler
    example = QAExample("3", context, "Where did the bus crash?", "Leeds", context.index("Leeds"))
    prompt = QGPromptRecord().prompt(backbone)
    feature = build_task_feature(task, backbone, example, 16, prompt)
    whole = build_task_feature(task, backbone, example, 100_000, prompt)
    assert feature.truncated and not whole.truncated
    assert len(feature.input_ids) < len(whole.input_ids)
    assert "Leeds" in backbone.decode(list(feature.input_ids))


def test_unknown_task_and_missing_prompt_are_errors(tiny_backbones):
    with pytest.raises(ValueError, match="task must be one of"):
        build_task_feature("summarize", tiny_backbones["llama"], EXAMPLE, 64)
    with pytest.raises(ValueError, match="QGPrompt"):
        build_task_feature("qg", tiny_backbones["llama"], EXAMPLE, 64)


def test_collator_pads_decoder_inputs_beside_the_labels(tiny_backbones):
    backbone = tiny_backbones["bart"]
    short = QAExample("4", "The cat sat.", "Who sat?", "The cat", 0)
    features = [build_qa_feature(backbone, e, 512) for e in (EXAMPLE, short)]
    rows = QAFeatureDataset(features)
    batch = QACollator(pad_token_id=backbone.pad_token_id, family="seq2seq")([rows[0], rows[1]])
    assert batch["decoder_input_ids"].shape == batch["labels"].shape
    n = len(features[1].labels)
    assert batch["decoder_input_ids"][1, :n].tolist() == list(features[1].decoder_input_ids)
    assert set(batch["decoder_input_ids"][1, n:].tolist()) <= {backbone.pad_token_id}
    assert set(batch["labels"][1, n:].tolist()) <= {IGNORE_INDEX}
