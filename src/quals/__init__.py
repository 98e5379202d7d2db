"""quals: QA-based factual consistency of summaries (QUALS, QAGS) and ConSeq training.

Heavy modules (torch, transformers) load on first use, so ``quals --help`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("quals")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

_EXPORTS = {
    "QAGen": "quals.qagen",
    "QUALS": "quals.metrics.quals",
    "QualsConfig": "quals.metrics.quals",
    "QualsResult": "quals.metrics.results",
    "score": "quals.metrics.quals",
    "QAGS": "quals.metrics.qags",
    "QagsConfig": "quals.metrics.qags_config",
    "QagsResult": "quals.metrics.qags_results",
    "GenerationConfig": "quals.generation.config",
    "QAFormat": "quals.models.formats",
    "DEFAULT_MODEL": "quals.models.packaged",
    "Hypothesis": "quals.types",
    "QAHypothesis": "quals.types",
    "ContextScores": "quals.types",
    "WindowedLogprobs": "quals.types",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'quals' has no attribute {name!r}")
