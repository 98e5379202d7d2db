"""Answer comparison as in the official SQuAD v1.1/v2.0 evaluation script (and QAGS's ``qa_utils``).

Normalisation: lowercase, drop ASCII punctuation (``string.punctuation``), drop the articles
``a``/``an``/``the`` as whole words, collapse whitespace. Token F1 compares the bags of
whitespace tokens of the two normalised answers; when either answer normalises to nothing the F1
is 1 if both do and 0 otherwise (SQuAD 2.0's no-answer rule).

>>> normalize_answer("The  Eiffel Tower!")
'eiffel tower'
>>> token_f1("the cat sat", "a cat")
0.6666666666666666
"""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower, remove punctuation, remove articles, fix whitespace."""
    lowered = text.lower()
    no_punctuation = "".join(ch for ch in lowered if ch not in _PUNCTUATION)
    no_articles = _ARTICLES.sub(" ", no_punctuation)
    return " ".join(no_articles.split())


def answer_tokens(text: str) -> list[str]:
    """Whitespace tokens of the normalised answer (empty for an empty or all-punctuation text)."""
    return normalize_answer(text).split() if text else []


def exact_match(prediction: str, reference: str) -> bool:
    """SQuAD exact match: equal after normalisation."""
    return normalize_answer(prediction) == normalize_answer(reference)


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token-level F1 between two answers, in [0, 1]; symmetric in its arguments.

    Returns:
        2PR/(P+R) over the normalised token bags; 1.0 if both answers are empty after
        normalisation, 0.0 if exactly one is.
    """
    predicted, expected = answer_tokens(prediction), answer_tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision = common / len(predicted)
    recall = common / len(expected)
    return 2 * precision * recall / (precision + recall)
