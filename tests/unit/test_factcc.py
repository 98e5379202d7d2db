"""FactCC-style scoring: chunks and aggregation by hand, label mapping, and the scorer on a tiny BERT."""

from __future__ import annotations

import itertools

import pytest
import torch
from fixtures.tiny_models import build_bert_classifier

from quals.metrics.factcc import FactCC, consistent_label, split_sentences
from quals.metrics.factcc_chunks import aggregate, best_chunks, chunk_spans, claim_budget, document_budget


def test_chunks_cover_the_document_with_the_overlap_and_end_at_its_end():
    assert chunk_spans(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert chunk_spans(10, 4, 3) == [(0, 4), (2, 6), (4, 8), (6, 10)]  # overlap capped at half a chunk
    assert chunk_spans(3, 8, 2) == [(0, 3)] and chunk_spans(0, 8, 2) == [(0, 0)]
    spans = chunk_spans(1000, 61, 16)
    assert spans[0][0] == 0 and spans[-1][1] == 1000 and all(b - a <= 61 for a, b in spans)
    assert all(b1 - a2 == 16 for (_, b1), (a2, _) in itertools.pairwise(spans) if b1 < 1000)
    with pytest.raises(ValueError):
        chunk_spans(5, 0, 0)


def test_budgets_leave_room_for_the_longest_claim_and_the_special_tokens():
    assert claim_budget(512, 3) == 254
    assert document_budget(512, 3, [10, 40, 7]) == 469
    with pytest.raises(ValueError, match="no room"):
        document_budget(16, 3, [13])


def test_best_chunk_per_sentence_then_mean_or_min_over_sentences():
    grid = [[0.2, 0.9, 0.9], [0.1, 0.3, 0.05]]
    assert best_chunks(grid) == [(1, 0.9), (1, 0.3)]  # the first of equal chunks
    assert aggregate([0.9, 0.3], "mean") == pytest.approx(0.6)
    assert aggregate([0.9, 0.3], "min") == 0.3
    with pytest.raises(ValueError):
        aggregate([0.5], "max")


def test_the_consistent_label_comes_from_label_names_or_is_named():
    assert consistent_label({0: "CORRECT", 1: "INCORRECT"}) == 0  # FactCC's own checkpoint
    assert consistent_label({"0": "entailment", "1": "neutral", "2": "contradiction"}) == 0
    assert consistent_label({0: "inconsistent", 1: "consistent"}) == 1
    with pytest.raises(ValueError, match="cannot tell"):
        consistent_label({0: "LABEL_0", 1: "LABEL_1"})
    assert consistent_label({0: "LABEL_0", 1: "LABEL_1"}, override=1) == 1
    with pytest.raises(ValueError, match="not an output"):
        consistent_label({0: "a", 1: "b"}, override=2)


def test_sentences_split_on_cased_and_lowercased_text():
    assert split_sentences("The cat sat. The dog ran!  ") == ["The cat sat.", "The dog ran!"]
    assert split_sentences("police said 12 were hurt . the mayor spoke .") == [
        "police said 12 were hurt .", "the mayor spoke ."]
    assert split_sentences("   ") == []


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    return build_bert_classifier(tmp_path_factory.mktemp("bert") / "clf", max_positions=32)


def test_scores_are_the_best_chunk_probabilities_averaged_and_match_a_direct_forward(classifier_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    scorer = FactCC(str(classifier_dir), device="cpu", dtype="float32", batch_size=3, chunk_overlap=4)
    document = " ".join(["the cat sat on the mat in paris on monday ."] * 6)  # > one chunk of 32 tokens
    summary = "the cat sat on the mat . scientists found water on mars ."
    result = scorer.score([document, document], [summary, ""])
    example = result.examples[0]
    assert example.n_chunks > 1 and len(example.sentences) == 2
    assert example.score == pytest.approx(sum(max(s.chunk_scores) for s in example.sentences) / 2)
    assert result.examples[1].score is None and result.examples[1].reason == "empty summary"
    # one (chunk, sentence) input by hand, through the plain HF model
    tokenizer = AutoTokenizer.from_pretrained(classifier_dir)
    model = AutoModelForSequenceClassification.from_pretrained(classifier_dir).eval()
    doc_ids = tokenizer(document, add_special_tokens=False)["input_ids"]
    claim = tokenizer(example.sentences[0].text, add_special_tokens=False)["input_ids"]
    budget = 32 - 3 - max(len(tokenizer(s.text, add_special_tokens=False)["input_ids"]) for s in example.sentences)
    encoded = tokenizer(tokenizer.decode(doc_ids[:budget]), example.sentences[0].text, return_tensors="pt")
    assert encoded["input_ids"].shape[1] == budget + len(claim) + 3
    with torch.no_grad():
        expected = torch.softmax(model(**encoded).logits, -1)[0, 1].item()
    assert example.sentences[0].chunk_scores[0] == pytest.approx(expected, abs=1e-5)
    # the batch size changes nothing, and min aggregation is the worse sentence
    again = FactCC(str(classifier_dir), device="cpu", dtype="float32", batch_size=64, chunk_overlap=4)
    assert again.score([document], [summary]).scores[0] == pytest.approx(example.score, abs=1e-6)
    worst = FactCC(str(classifier_dir), device="cpu", dtype="float32", sentence_aggregation="min", chunk_overlap=4)
    assert worst.score([document], [summary]).scores[0] == pytest.approx(min(s.score for s in example.sentences))
    assert "factcc:" in result.signature and f"label:{scorer.label}" in result.signature


def test_a_long_sentence_is_cut_to_its_budget_and_says_so(classifier_dir):
    scorer = FactCC(str(classifier_dir), device="cpu", dtype="float32")
    long_sentence = " ".join(["the cat sat on the mat"] * 10) + " ."
    example = scorer.score(["the cat sat ."], [long_sentence]).examples[0]
    assert example.sentences[0].truncated and example.to_dict()["n_truncated_sentences"] == 1
    assert example.score is not None


def test_generic_labels_are_refused_until_named(tmp_path):
    directory = build_bert_classifier(tmp_path / "generic", id2label={0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(ValueError, match="cannot tell"):
        FactCC(str(directory), device="cpu")
    scorer = FactCC(str(directory), device="cpu", consistent_label=0)
    assert scorer.label == 0 and scorer.run_info()["models"]["classifier"]["consistent_label"] == 0


@pytest.mark.parametrize("source", ["tiny", "packaged"])
def test_the_pair_layout_places_ids_as_the_tokenizer_would_place_texts(classifier_dir, source):
    from transformers import AutoTokenizer

    from quals.metrics.factcc import PairLayout
    from quals.models.packaged import packaged_model_dir

    path = classifier_dir if source == "tiny" else packaged_model_dir("packaged:minilm-l6")
    tokenizer = AutoTokenizer.from_pretrained(path)
    first, second = "the cat sat on the mat in paris .", "who sat on the mat ?"
    expected = tokenizer(first, second, return_token_type_ids=True)
    built = PairLayout.of(tokenizer).build(tokenizer(first, add_special_tokens=False)["input_ids"],
                                           tokenizer(second, add_special_tokens=False)["input_ids"])
    assert built["input_ids"] == expected["input_ids"]
    assert built["token_type_ids"] == expected["token_type_ids"] and set(built["token_type_ids"]) == {0, 1}
