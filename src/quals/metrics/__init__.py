"""Factuality metrics built on the QAGen engine (torch loads on first use, so the CLI's flag
definitions can import the torch-free config modules of this package)."""

from importlib import import_module

_EXPORTS = {
    "QUALS": "quals.metrics.quals",
    "QualsConfig": "quals.metrics.quals",
    "score": "quals.metrics.quals",
    "QAPairScore": "quals.metrics.results",
    "QualsExample": "quals.metrics.results",
    "QualsResult": "quals.metrics.results",
    "QAGS": "quals.metrics.qags",
    "QagsConfig": "quals.metrics.qags_config",
    "QagsExample": "quals.metrics.qags_results",
    "QagsQuestion": "quals.metrics.qags_results",
    "QagsResult": "quals.metrics.qags_results",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'quals.metrics' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
