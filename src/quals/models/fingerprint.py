"""A model fingerprint: a hash of the weight files, so outputs say exactly which weights made them.

Hashing a large checkpoint takes seconds, so digests are memoised per file on
(real path, size, mtime) in the user cache.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from quals.files import atomic_write_text
from quals.paths import cache_dir

_WEIGHT_SUFFIXES = (".safetensors",)


def _memo_path() -> Path:
    return cache_dir() / "fingerprints.json"


def _file_digest(path: Path, memo: dict[str, str]) -> str:
    from quals.models.packaged import sha256_file

    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    if key not in memo:
        memo[key] = sha256_file(path)
    return memo[key]


def _load_memo() -> dict[str, str]:
    try:
        return json.loads(_memo_path().read_text())
    except (OSError, ValueError):
        return {}


def _save_memo(memo: dict[str, str]) -> None:
    try:  # memo is an optimisation: a failed write costs only time
        memo_file = _memo_path()
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(memo_file, json.dumps(memo))
    except OSError:
        pass


def file_sha256(path: Path) -> str:
    """The sha256 of one file, memoised like the directory fingerprints."""
    memo = _load_memo()
    digest = _file_digest(path, memo)
    _save_memo(memo)
    return digest


def directory_fingerprint(directory: Path) -> str:
    """sha256 over the names and contents of the weight files in ``directory`` (recursively)."""
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)
    if not files:
        raise ValueError(f"no safetensors weights in {directory}")
    memo = _load_memo()
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(_file_digest(path, memo).encode())
    _save_memo(memo)
    return "sha256:" + digest.hexdigest()
