"""On-disk cache of generated QA hypotheses, keyed by (text, model fingerprint, decoding settings).

Generation is the expensive half of QUALS; caching it lets a corpus be re-scored against other
documents, or a run be repeated, without decoding again. One JSON file per key, written
atomically, so a crash never leaves a half-written entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from pathlib import Path

from quals.files import atomic_write_text
from quals.types import Hypothesis

_VERSION = 1
logger = logging.getLogger(__name__)
_FIELDS = {f.name for f in dataclasses.fields(Hypothesis)}


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
        path = self._path(key)
        try:
            rows = json.loads(path.read_text())
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError) as err:
            return self._bad(path, f"unreadable ({err})")
        problem = _problem(rows)
        if problem:
            return self._bad(path, problem)
        self.hits += 1
        return [Hypothesis(**{**row, "token_ids": tuple(row["token_ids"]),
                              "token_logprobs": tuple(row["token_logprobs"]),
                              "beam_token_scores": tuple(row["beam_token_scores"])}) for row in rows]

    def _bad(self, path: Path, why: str) -> None:
        """A damaged entry is a miss (generated again and rewritten), never a wrong score."""
        logger.warning("generation cache entry %s is %s: generating again", path, why)
        self.misses += 1
        return None

    def put(self, key: str, hypotheses: list[Hypothesis]) -> None:
        """Store ``hypotheses`` (a non-empty list: generation always returns some)."""
        if self.directory is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps([dataclasses.asdict(h) for h in hypotheses]))


def _problem(rows) -> str | None:
    """Why ``rows`` is not a list of hypotheses as :meth:`GenerationCache.put` writes them."""
    if not isinstance(rows, list) or not rows:
        return "not a non-empty list of hypotheses"
    for k, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != _FIELDS:
            found = sorted(row) if isinstance(row, dict) else type(row).__name__
            return f"malformed at hypothesis {k} (fields {found})"
        ids, logprobs, scores = row["token_ids"], row["token_logprobs"], row["beam_token_scores"]
        if not (isinstance(ids, list) and all(isinstance(t, int) and t >= 0 for t in ids) and ids
                and isinstance(logprobs, list) and isinstance(scores, list) and len(logprobs) == len(scores) == len(ids)
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in [*logprobs, *scores])):
            return f"malformed at hypothesis {k} (token ids and scores)"
    return None
