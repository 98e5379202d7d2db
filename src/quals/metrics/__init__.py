"""Factuality metrics built on the QAGen engine."""

from quals.metrics.quals import QUALS, QualsConfig, score
from quals.metrics.results import QAPairScore, QualsExample, QualsResult

__all__ = ["QUALS", "QAPairScore", "QualsConfig", "QualsExample", "QualsResult", "score"]
