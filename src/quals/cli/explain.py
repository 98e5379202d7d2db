"""``quals explain``: an HTML page and a figure showing why one summary got its score."""

from __future__ import annotations

import argparse

HELP = "Explain the QUALS score of one (document, summary): HTML page + per-token figure."


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--not-yet", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    raise ValueError("quals explain is not built yet")
