"""Where quals writes: one user cache directory, overridable for CI and shared clusters."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "QUALS_CACHE_DIR"


def cache_dir() -> Path:
    """``$QUALS_CACHE_DIR``, else ``$XDG_CACHE_HOME/quals``, else ``~/.cache/quals``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "quals"
