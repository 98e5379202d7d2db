"""QAGen example construction: windows around the answer, labels, collation, splits, and the
invariant that the training loss equals the scoring log-likelihood token for token."""

from __future__ import annotations

import pytest
import torch

from quals.data.qa_datasets import QAExample
from quals.training.qagen.trainer import causal_qa_loss, labelled_tail
from quals.training.qagen.config import QAGenTrainingConfig
from quals.training.qagen.examples import (
    IGNORE_INDEX,
    QACollator,
    answer_token_span,
    build_feature,
    context_window,
    seeded_subset,
    split_by_passage,
)

PASSAGE = "The cat sat on the mat in Paris on Monday. Officials said 12 people were hurt near Leeds."
EXAMPLE = QAExample("q", PASSAGE, "How many people were hurt?", "12", PASSAGE.index("12"))


@pytest.mark.parametrize("n, span, budget, expected", [
    (10, (8, 9), 4, (6, 10)),    # centred, then clamped to the end
    (10, (4, 5), 3, (3, 6)),     # centred
    (10, (0, 1), 4, (0, 4)),     # clamped to the start
    (10, (2, 9), 4, (2, 6)),     # answer longer than the budget: its start is kept
    (10, None, 4, (0, 4)),       # no span: the start of the passage
    (3, (1, 2), 8, (0, 3)),      # fits: everything
])
def test_context_window(n, span, budget, expected):
    start, end = context_window(n, span, budget)
    assert (start, end) == expected and end - start == min(n, budget)
    if span is not None and span[1] - span[0] <= budget:
        assert start <= span[0] and span[1] <= end


def test_context_window_rejects_empty_budget():
    with pytest.raises(ValueError, match="budget"):
        context_window(5, None, 0)


def test_answer_token_span_covers_partial_tokens():
    offsets = [(0, 3), (3, 7), (7, 9), (9, 12)]
    assert answer_token_span(offsets, 4, 8) == (1, 3)
    assert answer_token_span(offsets, 3, 7) == (1, 2)
    assert answer_token_span(offsets, 20, 25) is None


def test_causal_feature_is_prompt_plus_qa_with_prompt_masked(tiny_backbones):
    backbone = tiny_backbones["llama"]
    feature = build_feature(backbone, EXAMPLE, 1023)
    qa = backbone.qa_token_ids(EXAMPLE.question, EXAMPLE.answer)
    prompt = backbone.prompt_ids(backbone.tokenize(PASSAGE))
    assert list(feature.input_ids) == prompt + qa
    assert list(feature.labels) == [IGNORE_INDEX] * len(prompt) + qa
    assert qa[-1] == backbone.eos_token_id and not feature.truncated


@pytest.mark.parametrize("kind", ["bart", "t5"])
def test_seq2seq_feature_is_passage_in_question_sep_answer_eos_out(tiny_backbones, kind):
    backbone = tiny_backbones[kind]
    feature = build_feature(backbone, EXAMPLE, 1023)
    assert list(feature.input_ids) == backbone.prompt_ids(backbone.tokenize(PASSAGE))
    assert list(feature.labels) == backbone.qa_token_ids(EXAMPLE.question, EXAMPLE.answer)
    assert backbone.decode(feature.labels) .replace(" ", "") == "Howmanypeoplewerehurt?<sep>12"


@pytest.mark.parametrize("kind", ["llama", "bart"])
def test_long_passage_keeps_a_window_around_the_answer(tiny_backbones, kind):
    backbone = tiny_backbones[kind]
    filler = "The company reported profits of 3 billion dollars. " * 12
    context = filler + "Scientists found water on Mars, NASA announced." + " " + filler
    example = QAExample("m", context, "What did scientists find?", "water", context.index("water"))
    feature = build_feature(backbone, example, 24)
    start, end = feature.window
    assert feature.truncated and end - start == 24
    kept = backbone.tokenizer.decode(backbone.tokenize(context)[start:end])
    assert "water" in kept


def test_collator_left_pads_causal_rows_with_positions_of_real_tokens():
    rows = [{"input_ids": [5, 6, 7, 8], "labels": [-100, -100, 7, 8]}, {"input_ids": [5, 9], "labels": [-100, 9]}]
    batch = QACollator(pad_token_id=0, family="causal")(rows)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8], [0, 0, 5, 9]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [0, 0, 1, 1]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3], [0, 0, 0, 1]]
    assert batch["labels"].tolist() == [[-100, -100, 7, 8], [-100, -100, -100, 9]]
    assert labelled_tail(batch["labels"]) == 3


def test_collator_right_pads_seq2seq_rows():
    rows = [{"input_ids": [0, 5, 2], "labels": [7, 8, 2]}, {"input_ids": [0, 2], "labels": [9, 2]}]
    batch = QACollator(pad_token_id=1, family="seq2seq")(rows)
    assert batch["input_ids"].tolist() == [[0, 5, 2], [0, 2, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [[7, 8, 2], [9, 2, -100]]
    assert "position_ids" not in batch


def test_causal_qa_loss_by_hand():
    # One row, vocab 2, last 3 positions: logits predict tokens 2 and 3 (the last logit is unused).
    logits = torch.tensor([[[0.0, 0.0], [0.0, 10.0], [5.0, 5.0]]])
    labels = torch.tensor([[-100, -100, 0, 1]])
    # token at position 2 (id 0) from logits[0]: log 0.5; position 3 (id 1) from logits[1]: log sigmoid(10)
    expected = -(torch.log(torch.tensor(0.5)) + torch.nn.functional.logsigmoid(torch.tensor(10.0))) / 2
    assert causal_qa_loss(logits, labels).item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError):
        causal_qa_loss(logits[:, :1], labels)


def test_training_loss_equals_scoring_logprob(tiny_backbones):
    """What training optimises is exactly minus what QAGen.score measures (left padding included)."""
    from quals.models.scoring import score_sequences

    examples = [EXAMPLE, QAExample("c", "The cat sat on the mat.", "Who sat?", "The cat", 0)]
    for kind in ("llama", "bart", "t5"):
        backbone = tiny_backbones[kind]
        features = [build_feature(backbone, e, 1023) for e in examples]
        batch = QACollator(backbone.pad_token_id, backbone.family)(
            [{"input_ids": list(f.input_ids), "labels": list(f.labels)} for f in features])
        with torch.no_grad():
            if backbone.family == "causal":
                out = backbone.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                     position_ids=batch["position_ids"], logits_to_keep=labelled_tail(batch["labels"]))
                loss = causal_qa_loss(out.logits, batch["labels"]).item()
            else:
                loss = backbone.model(**batch).loss.item()
        scores = score_sequences(backbone, [backbone.tokenize(e.context) for e in examples],
                                 [[backbone.qa_token_ids(e.question, e.answer)] for e in examples], window_tokens=200)
        values = [v for context in scores for v in context.sequences[0].by_window[0]]
        assert loss == pytest.approx(-sum(values) / len(values), rel=1e-5), kind


def _examples(n_passages: int, per_passage: int) -> list[QAExample]:
    return [QAExample(f"{p}-{q}", f"passage {p}", f"question {q}?", "passage", 0)
            for p in range(n_passages) for q in range(per_passage)]


def test_split_by_passage_never_shares_a_passage_and_is_seeded():
    examples = _examples(10, 3)
    train, heldout = split_by_passage(examples, eval_size=5, seed=1)
    assert len(heldout) == 6 and len(train) == 24
    assert not {e.context for e in train} & {e.context for e in heldout}
    assert split_by_passage(examples, 5, seed=1) == (train, heldout)
    assert split_by_passage(examples, 0, seed=1) == (examples, [])
    with pytest.raises(ValueError, match="every passage"):
        split_by_passage(examples, 100, seed=1)


def test_seeded_subset_is_reproducible_and_nested():
    examples = _examples(20, 2)
    small, large = seeded_subset(examples, 5, seed=3), seeded_subset(examples, 10, seed=3)
    assert small == seeded_subset(examples, 5, seed=3) and large[:5] == small
    assert len(seeded_subset(examples, None, seed=3)) == 40
    assert seeded_subset(examples, 5, seed=4) != small


def test_config_checks_and_lora_choice(tmp_path):
    config = QAGenTrainingConfig(train_files=("a.json",), output_dir="out")
    assert config.use_lora("causal") and not config.use_lora("seq2seq")
    assert config.resolved_learning_rate(True) == 2e-4 and config.resolved_learning_rate(False) == 3e-5
    with pytest.raises(ValueError, match="--no-lora"):
        QAGenTrainingConfig(lora=True).use_lora("seq2seq")
    for bad in ({"data_format": "csv"}, {"lora_dropout": 1.0}, {"max_steps": 0}, {"max_examples": 0},
                {"newsqa_split": "val"}, {"batch_size": 0}):
        with pytest.raises(ValueError):
            QAGenTrainingConfig(**bad)
    path = tmp_path / "config.json"
    path.write_text('{"seed": 7, "max_examples": 100}')
    loaded = QAGenTrainingConfig.from_file(path, max_examples=50)
    assert (loaded.seed, loaded.max_examples) == (7, 50)
    path.write_text('{"sede": 7}')
    with pytest.raises(ValueError, match="sede"):
        QAGenTrainingConfig.from_file(path)
    from quals.training.run import changed_settings

    assert changed_settings({**loaded.to_dict(), "max_steps": 99}, loaded.to_dict()) == []
    assert changed_settings({**loaded.to_dict(), "seed": 8}, loaded.to_dict()) == ["seed"]
    assert changed_settings({"config": {"seed": 8, "max_steps": 1}}, {"config": {"seed": 9, "max_steps": 2}}) \
        == ["config.seed"]
    # a setting a newer version added (absent from an older run's record) is the old behaviour
    assert changed_settings({"seed": 8}, {"seed": 8, "new_flag": True}) == []
