"""QA readers on small fixtures: SQuAD v1/v2 (incl. gzip), NewsQA combined JSON, JSONL."""

from __future__ import annotations

import gzip
import json

import pytest

from quals.data.qa_datasets import QAExample, locate_answer, read_qa_file, read_qa_files

CONTEXT = "The cat sat on the mat in Paris. The dog sat on the mat in Rome."


def _squad(version: str = "1.1") -> dict:
    qas = [
        {"id": "q1", "question": " Where did the cat sit? ",
         "answers": [{"text": "on the mat", "answer_start": 12},
                     {"text": "on the mat", "answer_start": 12},      # duplicate: one example
                     {"text": "the mat", "answer_start": 15}]},       # distinct: second example
        {"id": "q2", "question": "Where is the dog?",
         "answers": [{"text": "Rome", "answer_start": 40}]},           # offset off by 19: repaired
        {"id": "q3", "question": "What colour is the cat?",
         "answers": [{"text": "black", "answer_start": 3}]},           # not in the text: skipped
    ]
    if version == "2.0":
        qas.append({"id": "q4", "question": "Who owns the cat?", "answers": [], "is_impossible": True,
                    "plausible_answers": [{"text": "Paris", "answer_start": 26}]})
    return {"version": version, "data": [{"title": "Pets", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]}


def _write(path, document) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def test_locate_answer_keeps_right_offsets_and_repairs_to_the_nearest():
    assert locate_answer(CONTEXT, "on the mat", 12) == 12
    assert locate_answer(CONTEXT, "on the mat", 50) == 45      # the second occurrence is nearer
    assert locate_answer(CONTEXT, "on the mat", 0) == 12
    assert locate_answer(CONTEXT, "on the mat", None) == 12
    assert locate_answer(CONTEXT, "black", 3) is None


def test_squad_v1_one_example_per_distinct_answer_with_checked_offsets(tmp_path):
    examples, stats = read_qa_file(_write(tmp_path / "squad.json", _squad()))
    assert [(e.id, e.question, e.answer, e.answer_start) for e in examples] == [
        ("q1", "Where did the cat sit?", "on the mat", 12),
        ("q1", "Where did the cat sit?", "the mat", 15),
        ("q2", "Where is the dog?", "Rome", 59),
    ]
    for example in examples:
        assert example.context[example.answer_start:example.answer_end] == example.answer
    assert (stats.questions, stats.examples, stats.duplicate_answers) == (3, 3, 1)
    assert (stats.repaired_offsets, stats.unlocatable_answers, stats.unanswerable) == (1, 1, 0)


def test_squad_v2_skips_unanswerable_questions_and_reads_gzip(tmp_path):
    path = tmp_path / "squad2.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(_squad("2.0"), handle)
    examples, stats = read_qa_file(path)
    assert "q4" not in {e.id for e in examples} and "Paris" not in {e.answer for e in examples}
    assert stats.unanswerable == 1 and stats.questions == 4 and stats.examples == 3


def test_newsqa_uses_consensus_spans_only(tmp_path):
    text = "Twelve people were hurt when a bus crashed near Leeds on Friday."
    document = {"version": "1", "data": [
        {"storyId": "s1", "type": "train", "text": text, "questions": [
            {"q": "Where did the bus crash?", "consensus": {"s": 48, "e": 53},
             "answers": [{"sourcerAnswers": [{"s": 0, "e": 6}]}]},
            {"q": "What is this?", "consensus": {"badQuestion": True}},
            {"q": "Who drove?", "consensus": {"noAnswer": True}},
            {"q": "When?", "consensus": {}},                              # no consensus at all
            {"q": "Huh?", "consensus": {"s": 60, "e": 500}},              # span outside the text
        ]},
        {"storyId": "s2", "type": "dev", "text": "A story from dev.", "questions": [
            {"q": "What story?", "consensus": {"s": 2, "e": 7}}]},
    ]}
    path = _write(tmp_path / "combined-newsqa-data-v1.json", document)
    examples, stats = read_qa_file(path, newsqa_split="train")
    assert [(e.id, e.question, e.answer, e.answer_start) for e in examples] == [
        ("s1#0", "Where did the bus crash?", "Leeds", 48)]
    assert (stats.bad_questions, stats.unanswerable, stats.no_consensus, stats.other_split) == (1, 1, 2, 1)
    everything, _ = read_qa_file(path, "newsqa")
    assert [e.answer for e in everything] == ["Leeds", "story"]


def test_jsonl_rows_offsets_and_non_span_answers(tmp_path):
    rows = [
        {"context": CONTEXT, "question": "Where is the dog?", "answer": "Rome", "id": "a"},          # located
        {"context": CONTEXT, "question": "Where is the cat?", "answer": "Paris", "answer_start": 0},  # repaired
        {"context": CONTEXT, "question": "Which pets?", "answer": "a cat and a dog"},                # abstractive
        {"context": CONTEXT, "question": "Which pets?", "answer": "a cat and a dog", "answer_start": 3},
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    examples, stats = read_qa_file(path)
    assert [(e.id, e.answer_start) for e in examples] == [("a", 59), ("2", 26), ("3", None)]
    assert examples[2].answer_end is None
    assert (stats.repaired_offsets, stats.not_span, stats.unlocatable_answers) == (1, 1, 1)


def test_several_files_concatenate_and_stats_add_up(tmp_path):
    first = _write(tmp_path / "a.json", _squad())
    second = _write(tmp_path / "b.json", _squad("2.0"))
    examples, stats = read_qa_files([first, second])
    assert len(examples) == 6 and stats.examples == 6 and stats.unanswerable == 1
    assert all(isinstance(e, QAExample) and e.source in (first, second) for e in examples)


def test_bad_inputs_fail_loudly(tmp_path):
    with pytest.raises(ValueError, match="QA format must be one of"):
        read_qa_file(_write(tmp_path / "x.json", _squad()), "csv")
    with pytest.raises(ValueError, match="not SQuAD JSON"):
        read_qa_file(_write(tmp_path / "y.json", {"data": [{"foo": 1}]}))
    with pytest.raises(FileNotFoundError):
        read_qa_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"context": "c", "question": "q"}) + "\n")
    with pytest.raises(ValueError, match=r"jsonl:1: field\(s\) \[.answer.\] missing or not str"):
        read_qa_file(bad)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(ValueError, match="jsonl:1: malformed JSON"):
        read_qa_file(broken)
