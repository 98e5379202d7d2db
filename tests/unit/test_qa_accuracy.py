"""SQuAD EM/F1 of ``quals eval-qa``: best over gold answers, one question per id."""

from __future__ import annotations

import pytest

from quals.data.qa_datasets import QAExample
from quals.evaluation.qa_accuracy import group_questions, squad_scores


def test_scores_take_the_best_gold_answer():
    assert squad_scores("the Eiffel Tower", ["Eiffel Tower", "tower"]) == (1.0, 1.0)
    em, f1 = squad_scores("Eiffel", ["Eiffel Tower", "the tower of Paris"])
    assert em == 0.0 and f1 == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="gold answer"):
        squad_scores("x", [])


def test_questions_are_grouped_by_source_and_id():
    rows = [QAExample("a", "ctx", "q?", "x", 0, "f1"), QAExample("a", "ctx", "q?", "y", 0, "f1"),
            QAExample("a", "ctx2", "q2?", "z", 0, "f2"), QAExample("a", "ctx", "q?", "x", 0, "f1")]
    grouped = group_questions(rows)
    assert [(q.context, q.answers) for q in grouped] == [("ctx", ("x", "y")), ("ctx2", ("z",))]
