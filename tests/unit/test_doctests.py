"""The examples in the docstrings run and print what they claim.

Run from here rather than with ``--doctest-modules`` so that the session fixtures (an isolated
cache) apply and the examples that load the packaged model are marked slow.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src"
# Their examples load the packaged model and generate with it.
REAL_MODEL = {"quals.qagen", "quals.metrics.qags", "quals.metrics.quals"}


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted((SOURCE / "quals").rglob("*.py")):
        if ">>> " in path.read_text(encoding="utf-8"):
            parts = path.relative_to(SOURCE).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = _modules_with_examples()


def test_the_examples_are_found():
    assert "quals.training.qagen.eval" in MODULES and REAL_MODEL <= set(MODULES)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in REAL_MODEL else n
                                  for n in MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    if result.attempted == 0:
        pytest.skip(f"every example in {name} is marked +SKIP")
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (output above)"
