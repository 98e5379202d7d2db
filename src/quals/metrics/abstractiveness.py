"""How much a summary copies: the share of its n-grams that are not in the document, and its length.

Factuality gains can come from copying more (a summary that repeats the document is trivially
faithful), so the ConSeq tables report these beside the factuality metrics (See et al. 2017's
novel n-grams; Nan et al. 2021 discuss the same trade-off). Tokens are ``rouge-score``'s
(lowercased, alphanumeric runs), so the numbers sit on the same footing as ROUGE. Counting the
n-grams is a few lines over ``collections.Counter``; no maintained library computes novel n-grams.
"""

from __future__ import annotations

from collections.abc import Sequence

ORDERS = (1, 2, 3)


def _tokenizer():
    from rouge_score import tokenizers

    return tokenizers.DefaultTokenizer(use_stemmer=False)


def _ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def novel_ngram_shares(document_tokens: Sequence[str], summary_tokens: Sequence[str],
                       orders: Sequence[int] = ORDERS) -> dict[int, float | None]:
    """For each n: the share of the summary's n-grams (counted with repeats) absent from the
    document; None when the summary has no n-gram of that order.

    >>> novel_ngram_shares("the cat sat on the mat".split(), "the cat ran".split())
    {1: 0.3333333333333333, 2: 0.5, 3: 1.0}
    """
    shares: dict[int, float | None] = {}
    for n in orders:
        grams = _ngrams(summary_tokens, n)
        if not grams:
            shares[n] = None
            continue
        seen = set(_ngrams(document_tokens, n))
        shares[n] = sum(g not in seen for g in grams) / len(grams)
    return shares


class Abstractiveness:
    """Per (document, summary): ``novel_1``, ``novel_2``, ``novel_3`` (shares) and ``summary_tokens``."""

    columns = ("novel_1", "novel_2", "novel_3", "summary_tokens")

    def __init__(self) -> None:
        self.tokenizer = _tokenizer()

    @property
    def version(self) -> str:
        from importlib.metadata import version

        return f"novel-ngrams:rouge-score-{version('rouge-score')}-tokens:1,2,3"

    def __call__(self, document: str, summary: str) -> dict[str, float | int | None]:
        doc, summ = self.tokenizer.tokenize(document), self.tokenizer.tokenize(summary)
        shares = novel_ngram_shares(doc, summ)
        return {**{f"novel_{n}": shares[n] for n in ORDERS}, "summary_tokens": len(summ)}
