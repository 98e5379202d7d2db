"""Which generated QA pairs QUALS keeps: the filtering of Nan et al. (2021)'s released code, step by step.

1. drop malformed pairs (no separator, empty question or answer, unfinished);
2. keep a pair only if ``answer.lower()`` is a substring of ``summary.lower()``;
3. sort by summed generation score, best first (stable: earlier hypotheses win ties);
4. group by ``answer.lower()`` in first-seen order;
5. round-robin over the groups, one next-best question per group per round, skipping exact
   (answer, question) duplicates (lowercased). The cap is checked only at the start of a round,
   so the first round keeps one pair per distinct answer even beyond the cap (official quirk).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from quals.metrics.answers import normalize_answer


# The null reason when answer_types='entities' left no pair (a fresh run and re-aggregation give the same).
NO_ENTITY_ANSWER = "no generated answer is a named entity, noun chunk or number of the summary"


@dataclass(frozen=True)
class Candidate:
    """A generated QA pair as the filter sees it."""

    question: str | None
    answer: str | None
    score: float


def select_pairs(candidates: Sequence[Candidate], summary: str, max_pairs: int = 10,
                 allowed_answers: Collection[str] | None = None) -> list[int]:
    """Indices of the kept candidates, in the order QUALS reports them."""
    return [i for i, _ in select_pairs_with_rounds(candidates, summary, max_pairs, allowed_answers)]


def select_pairs_with_rounds(candidates: Sequence[Candidate], summary: str, max_pairs: int = 10,
                             allowed_answers: Collection[str] | None = None) -> list[tuple[int, int]]:
    """(index, round) of the kept candidates: the round lets a smaller cap be applied later
    without filtering again (:func:`quals.metrics.aggregation.rounds_within`).

    ``allowed_answers`` (SQuAD-normalised texts, e.g. the summary's entities) also drops every
    pair whose normalised answer is not among them, before anything else.
    """
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
    lowered = summary.lower()
    eligible = [
        i for i, c in enumerate(candidates)
        if c.question is not None and c.answer is not None and c.answer.strip()
        and c.answer.lower() in lowered
        and (allowed_answers is None or normalize_answer(c.answer) in allowed_answers)
    ]
    eligible.sort(key=lambda i: -candidates[i].score)
    groups: dict[str, list[int]] = {}
    for i in eligible:
        groups.setdefault(candidates[i].answer.lower(), []).append(i)
    queues = [list(members) for members in groups.values()]
    kept: list[tuple[int, int]] = []
    seen: set[tuple[str, str]] = set()
    round_ = 0
    while any(queues) and len(kept) < max_pairs:
        for queue in queues:
            while queue:
                i = queue.pop(0)
                key = (candidates[i].answer.lower(), candidates[i].question.lower())
                if key not in seen:
                    seen.add(key)
                    kept.append((i, round_))
                    break
        round_ += 1
    return kept


def answer_span(answer: str, summary: str) -> tuple[int, int]:
    """Character span of the first case-insensitive occurrence of ``answer`` in ``summary``."""
    found = re.search(re.escape(answer), summary, flags=re.IGNORECASE)
    if found is None:
        raise ValueError(f"answer {answer!r} does not occur in the summary")
    return found.start(), found.end()
