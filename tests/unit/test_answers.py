"""SQuAD answer normalisation and token F1 against the official definition; answer candidates."""

from __future__ import annotations

import re
import string
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quals.metrics.answer_extraction import select_candidates
from quals.metrics.answers import answer_tokens, exact_match, normalize_answer, token_f1


def _official_normalize(s):
    """Verbatim logic of SQuAD's evaluate-v2.0.py ``normalize_answer``."""
    def remove_articles(text):
        return re.sub(re.compile(r"\b(a|an|the)\b", re.UNICODE), " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def _official_f1(a_gold, a_pred):
    """Verbatim logic of SQuAD's evaluate-v2.0.py ``compute_f1``."""
    gold_toks = _official_normalize(a_gold).split() if a_gold else []
    pred_toks = _official_normalize(a_pred).split() if a_pred else []
    common = Counter(gold_toks) & Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


@pytest.mark.parametrize("text, expected", [
    ("The Eiffel Tower", "eiffel tower"),
    ("  a   cat,  an apple!  ", "cat apple"),
    ("U.S. Army", "us army"),
    ("theatre of the absurd", "theatre of absurd"),  # articles only as whole words
    ("Anthem", "anthem"),
    ("The", ""),
    ("...", ""),
    ("", ""),
    ("Rock–and–roll", "rock–and–roll"),  # the en dash is not ASCII punctuation: SQuAD keeps it
    ("THE\tcat\nsat", "cat sat"),
])
def test_normalize_known_cases(text, expected):
    assert normalize_answer(text) == expected == _official_normalize(text)


@pytest.mark.parametrize("prediction, reference, expected", [
    ("the cat sat", "a cat", 2 / 3),           # P = 1/2, R = 1
    ("cat", "the cat sat", 2 / 3),             # symmetric
    ("Paris", "paris.", 1.0),
    ("cat cat", "cat", 2 / 3),                 # bags, not sets: common = 1
    ("cat dog", "dog cat", 1.0),               # order does not matter
    ("in Paris on Monday", "on Monday in London", 0.75),  # common = 3 of 4 and 4
    ("Leeds", "Paris", 0.0),
    ("", "", 1.0),                             # both unanswered
    ("The", "", 1.0),                          # normalises to no answer
    ("", "cat", 0.0),
    ("cat", "", 0.0),
])
def test_token_f1_known_cases(prediction, reference, expected):
    assert token_f1(prediction, reference) == pytest.approx(expected)
    assert token_f1(prediction, reference) == pytest.approx(_official_f1(reference, prediction))


def test_exact_match_and_tokens():
    assert exact_match("The Cat!", "cat")
    assert not exact_match("cat sat", "sat cat")
    assert answer_tokens("A big, big cat.") == ["big", "big", "cat"]
    assert answer_tokens("") == []


_text = st.lists(st.sampled_from(["a", "an", "the", "The", "cat", "Cat", "sat", " ", ",", ".", "!", "?", "b"]),
                 max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(_text, _text)
def test_token_f1_matches_official_script_and_stays_in_range(prediction, reference):
    value = token_f1(prediction, reference)
    assert value == pytest.approx(_official_f1(reference, prediction))
    assert value == pytest.approx(token_f1(reference, prediction))
    assert 0.0 <= value <= 1.0
    assert normalize_answer(prediction) == _official_normalize(prediction)


def test_candidates_deduplicate_by_normalised_text_in_first_seen_order():
    entities = ["Paris", "Monday", "paris"]
    chunks = ["The cat", "the mat", "Paris", "the cat", "it", "The"]
    assert select_candidates(entities, chunks, 10, "text") == ["Paris", "Monday", "The cat", "the mat", "it"]


def test_candidates_sample_is_seeded_by_text_and_keeps_order():
    chunks = [f"word{i}" for i in range(30)]
    first = select_candidates([], chunks, 10, "a summary", seed=0)
    assert len(first) == 10 and first == sorted(first, key=chunks.index)
    assert select_candidates([], chunks, 10, "a summary", seed=0) == first
    assert select_candidates([], chunks, 10, "another summary", seed=0) != first
    assert select_candidates([], chunks, 10, "a summary", seed=1) != first
    with pytest.raises(ValueError, match="n must be >= 1"):
        select_candidates([], chunks, 0, "x")
