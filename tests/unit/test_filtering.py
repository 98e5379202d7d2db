"""The official QA-pair filter: substring rule, ordering, round-robin, cap quirk, duplicates."""

from __future__ import annotations

import pytest

from quals.metrics.filtering import Candidate, answer_span, select_pairs

SUMMARY = "The Mayor of Leeds opened a bridge on Friday."


def c(question, answer, score):
    return Candidate(question, answer, score)


def test_keeps_only_summary_substrings_case_insensitively():
    cands = [c("Who opened it?", "the mayor", -1.0), c("When?", "Saturday", -0.5), c("Where?", "LEEDS", -2.0),
             c(None, None, 0.0), c("What?", "", -0.1)]
    assert select_pairs(cands, SUMMARY) == [0, 2]


def test_sorted_by_score_then_round_robin_over_answers():
    cands = [
        c("q1", "Leeds", -3.0), c("q2", "Friday", -1.0), c("q3", "Leeds", -0.5),
        c("q4", "Friday", -2.0), c("q5", "bridge", -4.0),
    ]
    # sorted: q3(Leeds) q2(Friday) q4(Friday) q1(Leeds) q5(bridge); groups Leeds, Friday, bridge
    assert select_pairs(cands, SUMMARY) == [2, 1, 4, 0, 3]


def test_cap_is_checked_only_at_round_start():
    answers = ["The", "Mayor", "of", "Leeds", "opened", "a", "bridge", "on", "Friday", "Mayor of Leeds",
               "a bridge", "on Friday"]
    cands = [c(f"q{i}", a, -float(i)) for i, a in enumerate(answers)]
    cands += [c("second question", "The", -100.0)]
    kept = select_pairs(cands, SUMMARY, max_pairs=10)
    assert len(kept) == 12  # the first round keeps one pair per distinct answer, beyond the cap
    assert len(select_pairs(cands, SUMMARY, max_pairs=13)) == 13  # a second round starts under the cap


def test_second_round_stops_at_cap():
    cands = [c(f"q{i}", a, -float(i)) for i, a in enumerate(["Leeds", "Friday"] * 5)]
    kept = select_pairs(cands, SUMMARY, max_pairs=3)
    assert len(kept) == 4  # rounds of 2: 2 < 3 starts a second round, 4 >= 3 stops


def test_exact_duplicates_are_skipped_lowercased():
    cands = [c("Who opened it?", "The Mayor", -1.0), c("who opened it?", "the mayor", -2.0),
             c("Who opened the bridge?", "the Mayor", -3.0)]
    assert select_pairs(cands, SUMMARY) == [0, 2]


def test_no_candidates_survive():
    assert select_pairs([c("q", "London", 0.0)], SUMMARY) == []
    assert select_pairs([], SUMMARY) == []


def test_bad_cap():
    with pytest.raises(ValueError, match="max_pairs"):
        select_pairs([], SUMMARY, max_pairs=0)


def test_answer_span():
    assert answer_span("leeds", SUMMARY) == (13, 18)
    assert SUMMARY[slice(*answer_span("FRIDAY", SUMMARY))] == "Friday"
    with pytest.raises(ValueError):
        answer_span("London", SUMMARY)
