"""How QUALS turns per-token log-probs into one number: which tokens count, how a pair's token
differences are reduced, and how pairs are combined.

The paper averages LL_D - LL_S over every token of a pair (question, separator, answer, EOS) and
then over pairs. Those parts do not carry the same evidence: the question is written from the
summary's own wording (high LL_S for reasons unrelated to faithfulness), and EOS right after the
answer is unlikely under a document that goes on after it. Each choice is a setting, and all of
them can be recomputed from one scoring run's per-token log-probs (:mod:`quals.metrics.reaggregate`),
so comparing them costs no new generation.

Torch-free: the CLI builds its --help from :class:`AggregationConfig`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

QUESTION, SEPARATOR, ANSWER, EOS = "q", "s", "a", "e"
TOKEN_SETS: dict[str, frozenset[str]] = {
    "all": frozenset({QUESTION, SEPARATOR, ANSWER, EOS}),
    "answer": frozenset({ANSWER}),
    "answer_eos": frozenset({ANSWER, EOS}),
    "question": frozenset({QUESTION}),
}
PAIR_REDUCTIONS = ("mean", "sum")
PAIR_AGGREGATIONS = ("mean", "min", "lowest_k")


@dataclass(frozen=True)
class AggregationConfig:
    """From per-token log-probs to a score. Defaults are the paper's (all tokens, means)."""

    token_set: str = field(
        default="all",
        metadata={"help": "Tokens of each QA pair that count: all (paper: question, separator, answer, EOS), "
                          "answer, answer_eos or question.", "choices": tuple(TOKEN_SETS)})
    pair_reduction: str = field(
        default="mean",
        metadata={"help": "Per pair, mean (paper) or sum of the token differences LL_D - LL_S.",
                  "choices": PAIR_REDUCTIONS})
    pair_aggregation: str = field(
        default="mean",
        metadata={"help": "Over kept pairs: mean (paper), min (the worst pair), or lowest_k (mean of the k "
                          "lowest).", "choices": PAIR_AGGREGATIONS})
    lowest_k: int = field(default=3, metadata={"help": "k of pair_aggregation=lowest_k."})

    def __post_init__(self) -> None:
        if self.token_set not in TOKEN_SETS:
            raise ValueError(f"token_set must be one of {tuple(TOKEN_SETS)}, got {self.token_set!r}")
        if self.pair_reduction not in PAIR_REDUCTIONS:
            raise ValueError(f"pair_reduction must be one of {PAIR_REDUCTIONS}, got {self.pair_reduction!r}")
        if self.pair_aggregation not in PAIR_AGGREGATIONS:
            raise ValueError(f"pair_aggregation must be one of {PAIR_AGGREGATIONS}, got {self.pair_aggregation!r}")
        if self.lowest_k < 1:
            raise ValueError(f"lowest_k must be >= 1, got {self.lowest_k}")

    def pair_value(self, document: Sequence[float], summary: Sequence[float], roles: Sequence[str]) -> float:
        """One pair's contribution: the reduced LL_D - LL_S over the tokens of ``token_set``."""
        if not len(document) == len(summary) == len(roles):
            raise ValueError(f"{len(document)} document, {len(summary)} summary log-probs and {len(roles)} roles")
        wanted = TOKEN_SETS[self.token_set]
        differences = [d - s for d, s, r in zip(document, summary, roles, strict=True) if r in wanted]
        if not differences:
            raise ValueError(f"the pair has no {self.token_set} tokens (roles {''.join(roles)!r})")
        total = math.fsum(differences)
        return total / len(differences) if self.pair_reduction == "mean" else total

    def combine(self, values: Sequence[float]) -> float:
        """The example's score from its pairs' values."""
        if not values:
            raise ValueError("no pair values to combine")
        if self.pair_aggregation == "min":
            return min(values)
        if self.pair_aggregation == "lowest_k":
            values = sorted(values)[:self.lowest_k]
        return math.fsum(values) / len(values)

    def to_dict(self) -> dict:
        return asdict(self)


def token_roles(token_ids: Sequence[int], decode: Callable[[Sequence[int]], str], separator: str,
                eos_token_id: int) -> tuple[str, ...]:
    """Role of every token of a QA sequence: question, separator, answer or EOS.

    A generated sequence need not be the canonical tokenization of its text, so roles come from
    where each token's decoded text falls, not from re-tokenizing the parts: token k covers the
    characters between the decoded lengths of the first k and k+1 tokens. No tokenizer offers
    offsets for decoding, hence this by hand.

    Raises:
        ValueError: the decoded text does not hold the separator exactly once.
    """
    text = decode(token_ids)
    mark = separator.strip()
    if text.count(mark) != 1:
        raise ValueError(f"separator {mark!r} must occur once in {text!r}")
    answer_start = text.index(mark) + len(mark)
    question_end = text.index(mark)
    while question_end > 0 and text[question_end - 1].isspace():  # whitespace before the mark is separator
        question_end -= 1
    roles, previous = [], 0
    for k, token in enumerate(token_ids):
        if token == eos_token_id and k == len(token_ids) - 1:
            roles.append(EOS)
            continue
        end = max(previous, len(decode(token_ids[:k + 1])))
        # the answer starts at its first visible character and runs to the end
        if (roles and roles[-1] == ANSWER) or (end > answer_start and text[max(previous, answer_start):end].strip()):
            roles.append(ANSWER)
        elif previous < question_end:
            roles.append(QUESTION)
        else:
            roles.append(SEPARATOR)
        previous = end
    return tuple(roles)


def rounds_within(rounds: Sequence[int], max_pairs: int) -> list[bool]:
    """Which pairs a smaller cap keeps, from the filter round each pair was kept in.

    The filter checks its cap only at the start of a round (:mod:`quals.metrics.filtering`), so
    a cap keeps every round that starts with fewer than ``max_pairs`` pairs kept: a prefix of the
    rounds of any larger cap.
    """
    kept_before: dict[int, int] = {}
    for r in sorted(set(rounds)):
        kept_before[r] = sum(1 for other in rounds if other < r)
    return [kept_before[r] < max_pairs for r in rounds]
