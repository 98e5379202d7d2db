"""Per-row metrics of ``evaluate-summaries`` without a model: ROUGE-L vs ROUGE-Lsum, entity precision,
joining test and system rows."""

import json

import pytest

from quals.evaluation.summaries import RougeLsum, SummaryEvaluator, entity_precision, join_rows
from quals.metrics.rouge import rouge_f


@pytest.fixture(scope="module")
def lsum():
    return RougeLsum()


def test_rouge_lsum_matches_sentences_in_any_order_where_rouge_l_does_not(lsum):
    reference = "The council approved the budget on Monday. Protesters gathered outside the hall."
    swapped = "Protesters gathered outside the hall. The council approved the budget on Monday."
    assert lsum(reference, swapped) == pytest.approx(1.0)
    assert rouge_f(reference, swapped)["rougeL"] < 0.7


def test_rouge_lsum_splits_on_sentences_not_on_stray_newlines(lsum):
    assert lsum.lines("Dr. Smith went to\nWashington. He met Mr. Jones!") == \
        "Dr. Smith went to Washington.\nHe met Mr. Jones!"
    # one sentence broken by a newline scores as that sentence, not as two fragments
    assert lsum("Dr. Smith went to Washington.", "Dr. Smith went to\nWashington.") == pytest.approx(1.0)


def test_rouge_lsum_is_rouge_l_for_single_sentences(lsum):
    reference, summary = "The mayor opened a new bridge in Leeds.", "A bridge in Leeds was opened by the mayor."
    assert lsum(reference, summary) == pytest.approx(rouge_f(reference, summary)["rougeL"])


def test_rougelsum_metric_adds_its_column_and_records_the_splitter():
    evaluator = SummaryEvaluator(["rougelsum", "rouge"])
    assert evaluator.columns == ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    assert "sentencizer" in evaluator.run_info()["rougelsum"]
    with pytest.raises(ValueError, match="subset"):
        SummaryEvaluator(["rougeLsum"])  # the column name is not a metric name


def test_entity_precision_needs_whole_words_and_ignores_case():
    assert entity_precision(["Leeds", "Bradford"], "Flights from LEEDS were cancelled.") == 0.5
    assert entity_precision(["Lee"], "Flights from Leeds were cancelled.") == 0.0
    assert entity_precision([], "anything") is None


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_join_rows_flags_bad_rows_and_refuses_misaligned_files(tmp_path):
    test = _jsonl(tmp_path / "test.jsonl", [{"id": "a", "document": "D1", "summary": "R1"},
                                            {"id": "b", "document": "D2", "summary": "R2"}])
    system = _jsonl(tmp_path / "sys.jsonl", [{"id": "a", "summary": "S1"}, {"id": "b", "summary": " "}])
    rows = join_rows(test, system)
    assert rows[0].error is None and rows[0].summary == "S1"
    assert "summary" in rows[1].error  # empty summary: this row flagged, the other still scored
    _jsonl(system, [{"id": "b", "summary": "S1"}, {"id": "a", "summary": "S2"}])
    with pytest.raises(ValueError, match="row 0: id 'b'"):
        join_rows(test, system)
    _jsonl(system, [{"id": "a", "summary": "S1"}])
    with pytest.raises(ValueError, match="1 rows but"):
        join_rows(test, system)


def test_evaluate_summaries_has_a_factcc_column_from_its_own_classifier(tmp_path, capsys):
    from fixtures.tiny_models import build_bert_classifier

    from quals.cli.main import main
    from quals.metrics.factcc import FactCC

    classifier = build_bert_classifier(tmp_path / "clf", max_positions=64)
    test = _jsonl(tmp_path / "test.jsonl", [{"id": "a", "document": "the cat sat on the mat .", "summary": "a cat ."},
                                            {"id": "b", "document": "scientists found water on mars .",
                                             "summary": "water on mars ."}])
    system = _jsonl(tmp_path / "sys.jsonl", [{"id": "a", "summary": "the cat sat ."},
                                             {"id": "b", "summary": "nasa found water ."}])
    out = tmp_path / "eval"
    assert main(["evaluate-summaries", str(system), "--test", str(test), "-o", str(out), "--metrics", "rouge,factcc",
                 "--factcc-model", str(classifier), "--device", "cpu", "--bootstrap-resamples", "100",
                 "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["columns"] == ["rouge1", "rouge2", "rougeL", "factcc"]
    rows = [json.loads(line) for line in (out / "sys.jsonl").read_text().splitlines()]
    expected = FactCC(str(classifier), device="cpu").score([r["document"] for r in json.loads(
        "[" + ",".join(test.read_text().splitlines()) + "]")], ["the cat sat .", "nasa found water ."]).scores
    assert [r["factcc"] for r in rows] == pytest.approx(expected)
    assert "FactCC" in capsys.readouterr().out


def test_novel_ngrams_count_repeats_and_use_rouge_tokens():
    from quals.metrics.abstractiveness import Abstractiveness, novel_ngram_shares

    doc = "the cat sat on the mat".split()
    assert novel_ngram_shares(doc, "the mat sat".split()) == {1: 0.0, 2: 0.5, 3: 1.0}
    assert novel_ngram_shares(doc, "dog dog cat".split(), orders=(1,)) == {1: pytest.approx(2 / 3)}
    assert novel_ngram_shares(doc, ["cat"]) == {1: 0.0, 2: None, 3: None}  # no bigram to count
    measure = Abstractiveness()
    copied = measure("The cat sat on the mat.", "The CAT sat, on the mat!")  # case and punctuation: rouge tokens
    assert copied == {"novel_1": 0.0, "novel_2": 0.0, "novel_3": 0.0, "summary_tokens": 6}


def test_abstractiveness_metric_adds_its_columns_to_the_table(tmp_path):
    from quals.evaluation.summaries import evaluate_systems

    test = tmp_path / "test.jsonl"
    test.write_text(json.dumps({"id": "a", "document": "The cat sat on the mat in Paris.", "summary": "A cat sat."})
                    + "\n")
    copy, novel = tmp_path / "copy.jsonl", tmp_path / "novel.jsonl"
    copy.write_text(json.dumps({"id": "a", "summary": "The cat sat on the mat."}) + "\n")
    novel.write_text(json.dumps({"id": "a", "summary": "A dog ran in Leeds."}) + "\n")
    evaluator = SummaryEvaluator(["abstractiveness"])
    assert evaluator.columns == ["novel_1", "novel_2", "novel_3", "summary_tokens"]
    assert evaluator.run_info()["abstractiveness"].startswith("novel-ngrams:rouge-score-")
    systems = evaluate_systems(evaluator, test, [("copy", copy), ("novel", novel)], tmp_path / "out")
    copied, written = (s.means for s in systems)
    assert copied["novel_1"] == 0.0 and copied["summary_tokens"] == 6
    assert written["novel_1"] == pytest.approx(4 / 5) and written["novel_3"] == 1.0
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| novel 1-grams | novel 2-grams | novel 3-grams | length (tokens) |" in table
    assert "| copy | 1 | 0.00 | 0.00 | 0.00 | 6.0 |" in table and "| novel | 1 | 80.00 " in table
