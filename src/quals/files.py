"""Writes that never leave a half-written file behind.

The new content goes to a temporary file beside the target (same folder, so the same file
system) and is renamed over it with :func:`os.replace`, which is atomic: a reader, or a run
resumed after a crash, sees the old file or the new one, never a mix. A write that fails removes
its temporary file and leaves the old target as it was.

The temporary name is hidden, unique per process and call (concurrent runs may write the same
file: the last rename wins, each rename a whole file) and ends in ``.tmp``, so globs for outputs
(``*.jsonl``, weights) never pick one up. No ``fsync``: this guards against interrupted writes,
not power loss, and caches write many small files.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["atomic_open", "atomic_path", "atomic_write_json", "atomic_write_text", "dumps_json", "strict_json"]


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write (by any means, e.g. a database); on a clean exit
    it replaces ``path``, on an exception it is removed and ``path`` is untouched."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """``open(path, mode)`` for streaming writes (``"w"`` or ``"wb"``); the file appears at
    ``path`` only when the block ends without an exception."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a whole new file: mode 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as temporary:
        with open(temporary, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding=encoding)


def strict_json(value):
    """``value`` with every NaN or infinity as None: JSON has no such numbers, and strict parsers
    (``jq``, JavaScript, Go) refuse the bare ``NaN`` Python would write. An undefined interval
    reads as ``null``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def dumps_json(value) -> str:
    """Indented strict JSON, keys sorted, with a final newline: the layout of run sidecars and
    reports (stable, so equal records are equal files)."""
    return json.dumps(strict_json(value), indent=2, sort_keys=True, allow_nan=False) + "\n"


def atomic_write_json(path: str | Path, value) -> None:
    """Replace ``path`` with ``value`` as :func:`dumps_json` writes it."""
    atomic_write_text(path, dumps_json(value))
