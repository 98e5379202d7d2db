"""Which process of a multi-process launch this is (``accelerate launch`` / ``torchrun``).

The launchers export ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; a plain run has none of them and
is process 0 of 1. The variables are read on every call, not cached, because accelerate itself
may set them after import (multi-node setups).

Why not ``accelerate.PartialState``: under a launcher, creating one calls
``torch.distributed.init_process_group``. The sharded file commands (``quals score``,
``summarize``, ``conseq candidates``, ...) never communicate: each process writes its own part
file and the last one merges them, so a process group would only add a rendezvous (which blocks
or times out when one process finishes or dies early) and import torch in code paths (reports,
``--help``) that are torch-free. The HF Trainer still builds its own state for training.
"""

from __future__ import annotations

import os


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def rank() -> int:
    """Global index of this process (0 without a launcher)."""
    return _int_env("RANK", 0)


def world_size() -> int:
    """Number of processes of the launch (1 without a launcher)."""
    return _int_env("WORLD_SIZE", 1)


def local_rank() -> int:
    """Index of this process on its machine: the GPU it takes (0 without a launcher)."""
    return _int_env("LOCAL_RANK", 0)


def is_main_process() -> bool:
    """Whether this process reports and writes the shared outputs (process 0)."""
    return rank() == 0
