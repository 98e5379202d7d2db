"""``quals eval-qagen HELDOUT... -o RESULT.json``: held-out QA log-likelihood and generation yield."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from quals.cli.config_flags import add_config_flags, config_from_args
from quals.cli.runtime import add_runtime_flags

HELP = "Evaluate a QAGen on held-out QA data: QA log-likelihood, answer-span share, distinct pairs."
_RUNTIME = ("device", "dtype", "batch_size", "seed")  # fields the shared flags set


def register(parser: argparse.ArgumentParser) -> None:
    from quals.data.qa_datasets import QA_FORMATS
    from quals.training.qagen.eval import QAGenEvalConfig

    parser.add_argument("input", nargs="+", type=Path,
                        help="Held-out QA data: SQuAD v1.1/v2.0 JSON, NewsQA combined JSON or JSONL (.gz too).")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="JSON result: summary numbers, signature and per-passage generated pairs.")
    defaults = QAGenEvalConfig()
    add_runtime_flags(parser, batch="QA-pair sequences, scored or generated (diverse beams)",
                      batch_size=defaults.batch_size, seed="the seeded subsets of QA pairs and passages",
                      seed_default=defaults.seed, from_config=("batch_size", "seed"))
    add_config_flags(parser, QAGenEvalConfig, skip=("files", *_RUNTIME), title="evaluation settings",
                     choices={"data_format": QA_FORMATS, "newsqa_split": ("train", "dev", "test", "all")})


def run(args: argparse.Namespace) -> int:
    from quals.training.qagen.eval import QAGenEvalConfig, evaluate_qagen

    config = config_from_args(QAGenEvalConfig, args, extra={"files": tuple(str(p) for p in args.input)})
    result = evaluate_qagen(config)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    loglik, generation = result.loglik, result.generation
    parts = []
    if loglik.get("token_logprob") is not None:
        parts.append(f"QA log-prob/token {loglik['token_logprob']:.4f} (per pair {loglik['pair_logprob']:.4f}; "
                     f"{loglik['pair_total_logprob']:.2f} nats per pair, {loglik['pairs']} pairs)")
    if generation.get("passages"):
        parts.append(f"span share {generation['span_share']:.3f}, distinct pairs/passage "
                     f"{generation['distinct_pairs_per_passage']:.1f}, kept/passage "
                     f"{generation['kept_pairs_per_passage']:.1f}, {generation['seconds_per_passage']:.1f} s/passage")
    print("; ".join(parts) + f" -> {args.output}", file=sys.stderr)
    return 0
