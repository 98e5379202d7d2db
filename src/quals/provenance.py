"""What a result was computed with: package versions and one-line signatures.

Two builders, used by every output:

- :func:`versions` gives the versions of the stack under one key spelling,
  ``{"quals": ..., "python": ..., "torch": ..., "transformers": ...}`` (plus any packages named),
  for run records: training runs, benchmark reports.
- :func:`signature` joins the parts of a signature line, ``head|part|key:value|...``: the line
  written beside scores, explanations and reports.

Score and summary sidecars written so far spell versions ``quals_version``, ``torch_version``, ...
(in :class:`quals.qagen.ModelInfo`, the QAGS run info and summary generation). A resumed run
compares its sidecar with the old one as a whole, so renaming those keys would make every existing
output refuse to resume: they keep that spelling, built from the same numbers by
:func:`version_fields`. Signature strings likewise stay the same for the same settings.

>>> signature("lexical", "rouge-score:0.1.2", "stemmer:true", rouge="precision")
'lexical|rouge-score:0.1.2|stemmer:true|rouge:precision'
"""

from __future__ import annotations

import platform

__all__ = ["CORE", "signature", "version_fields", "versions"]

CORE = ("quals", "python", "torch", "transformers")


def _version(name: str) -> str:
    if name == "quals":
        from quals import __version__

        return __version__
    if name == "python":
        return platform.python_version()
    if name in ("torch", "transformers"):  # the modules' own strings, as every signature has recorded them
        import importlib

        return importlib.import_module(name).__version__
    from importlib.metadata import version

    return version(name)


def versions(*packages: str) -> dict[str, str]:
    """Versions of quals, Python, torch and transformers, then of each of ``packages`` (installed
    distribution names, e.g. ``"peft"``, ``"accelerate"``), keyed by those names.

    >>> sorted(versions())
    ['python', 'quals', 'torch', 'transformers']
    """
    return {name: _version(name) for name in dict.fromkeys((*CORE, *packages))}


def version_fields(*names: str) -> dict[str, str]:
    """``{"<name>_version": ...}`` for ``names`` (default: :data:`CORE`): the spelling of score and
    summary sidecars, which resume compares whole (see the module docstring)."""
    return {f"{name}_version": _version(name) for name in (names or CORE)}


def signature(head: str, *parts: str, **fields) -> str:
    """``head|part|...|key:value|...``: ``parts`` as given, then ``fields`` in order, values as ``str()``.

    Callers put the identity first (``"quals:<version>"``), then the model and settings, then the
    library versions, so two signatures compare by eye from the left.
    """
    return "|".join([head, *parts, *(f"{key}:{value}" for key, value in fields.items())])
