"""On-disk cache of generated QA hypotheses, keyed by (text, model fingerprint, decoding settings).

Generation is the expensive half of QUALS; caching it lets a corpus be re-scored against other
documents, or a run be repeated, without decoding again. One JSON file per key, written
atomically, so a crash never leaves a half-written entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from quals.types import Hypothesis

_VERSION = 1


class GenerationCache:
    """Maps a key to a list of hypotheses. ``directory=None`` disables caching."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(text: str, fingerprint: str, settings: dict) -> str:
        payload = json.dumps({"v": _VERSION, "text": text, "model": fingerprint, "settings": settings},
                             sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> list[Hypothesis] | None:
        if self.directory is None:
            return None
        try:
            rows = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return [Hypothesis(**{**row, "token_ids": tuple(row["token_ids"]),
                              "token_logprobs": tuple(row["token_logprobs"]),
                              "beam_token_scores": tuple(row["beam_token_scores"])}) for row in rows]

    def put(self, key: str, hypotheses: list[Hypothesis]) -> None:
        if self.directory is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps([dataclasses.asdict(h) for h in hypotheses]))
        os.replace(tmp, path)
