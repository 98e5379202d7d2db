"""``quals factcc-claims DOCUMENTS -o CLAIMS``: FactCC-style synthetic claims, resumably.

Every field of :class:`~quals.training.factcc.claims.ClaimConfig` is a kebab-case flag
(:mod:`quals.cli.config_flags`); ``--transformation-weights name=w,...`` sets the one dict field.
An interrupted build continues from its last finished document; a finished one returns at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from quals.cli.config_flags import add_config_flags, config_from_args

HELP = "Make FactCC-style synthetic claims (consistent sentences and their corruptions) from documents."


def _weights(text: str) -> dict[str, float]:
    from quals.training.factcc.claims import TRANSFORMATIONS

    weights = dict.fromkeys(TRANSFORMATIONS, 0.0)
    try:
        for item in text.split(","):
            name, _, value = item.partition("=")
            weights[name.strip()] = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected name=weight,name=weight, got {text!r}") from None
    return weights


def register(parser: argparse.ArgumentParser) -> None:
    from quals.training.factcc.claims import ClaimConfig

    parser.add_argument("input", type=Path, help="JSONL (.gz too) documents with fields id and document.")
    parser.add_argument("-o", "--output", type=Path, required=True, help="JSONL (.gz) claims to write.")
    parser.add_argument("--limit", type=int, default=None, help="The first N documents only.")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="Progress bar on stderr (default: on).")
    group = add_config_flags(parser, ClaimConfig, skip=("transformation_weights",), title="claim settings")
    group.add_argument("--transformation-weights", type=_weights, default=None,
                       help="Relative chance of each transformation, as name=w,name=w (unnamed ones get 0; "
                            "default: 1 each).")


def run(args: argparse.Namespace) -> int:
    from quals.training.factcc.claims import ClaimConfig, build_claims

    config = config_from_args(ClaimConfig, args, extra={"transformation_weights": args.transformation_weights})
    stats = build_claims(args.input, args.output, config=config, limit=args.limit, progress=args.progress)
    print(json.dumps(stats, indent=1))
    print(f"claims -> {args.output} ({stats['documents']} documents)", file=sys.stderr)
    return 0
