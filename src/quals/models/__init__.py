"""Backbone loading, device/dtype, packaged models, batched sequence log-probs.

Exports load on first use, so torch-free submodules (``quals.models.packaged``, whose default
model names the CLI shows in ``--help``) import without torch.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "Backbone": "quals.models.backbone",
    "DecodeState": "quals.models.backbone",
    "QAFormat": "quals.models.formats",
    "causal_format": "quals.models.formats",
    "seq2seq_format": "quals.models.formats",
    "load_backbone": "quals.models.loading",
    "save_format": "quals.models.loading",
    "DEFAULT_MODEL": "quals.models.packaged",
    "DEFAULT_BASE_MODEL": "quals.models.packaged",
    "score_sequences": "quals.models.scoring",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'quals.models' has no attribute {name!r}")
