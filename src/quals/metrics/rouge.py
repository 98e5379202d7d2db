"""ROUGE through ``rouge-score`` (Lin 2004; Google's reimplementation of the Perl script), with the
Porter stemmer everywhere: one scorer per set of ROUGE types, built once.

Used by the lexical baselines (precision against the document), summary evaluation (F1 against
the reference) and ConSeq's ROUGE selection. :func:`rouge_signature` is how every output names
this ROUGE; those strings are recorded in run sidecars, which resume compares, so they must not
change for the same settings.
"""

from __future__ import annotations

import functools

from quals.provenance import signature

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def rouge_scorer(types: tuple[str, ...] = ROUGE_TYPES):
    """The shared ``rouge_score.rouge_scorer.RougeScorer`` for ``types`` (stemmed); it keeps no
    state between calls, so one instance serves every caller."""
    return _scorer(tuple(types))


@functools.lru_cache(maxsize=None)
def _scorer(types: tuple[str, ...]):
    from rouge_score import rouge_scorer as rouge

    return rouge.RougeScorer(list(types), use_stemmer=True)


def rouge_f(reference: str, summary: str) -> dict[str, float]:
    """ROUGE-1/2/L F1 of ``summary`` against ``reference`` (values in [0, 1])."""
    scores = rouge_scorer().score(reference, summary)  # rouge-score takes (target, prediction)
    return {name: scores[name].fmeasure for name in ROUGE_TYPES}


def rouge_signature(*parts: str, **fields) -> str:
    """``rouge-score:<version>|stemmer:true``, then ``parts`` and ``fields`` as in
    :func:`quals.provenance.signature`."""
    from importlib.metadata import version

    return signature(f"rouge-score:{version('rouge-score')}", "stemmer:true", *parts, **fields)
