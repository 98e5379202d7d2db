"""``quals`` command line: one subcommand per module, each imported only when run.

``main(argv) -> int`` runs in-process (tests call it); ``--help`` never imports torch.

Exit status: 0 done, 1 some rows failed (or a bug: an uncaught exception, such as a library
TypeError, with its traceback), 2 a usage error (argparse's, or a ValueError / missing or existing
file, printed as one line; ``-v`` adds the traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

from quals.cli import annotate as annotate_cmd
from quals.cli import conseq as conseq_cmd
from quals.cli import eval_qa as eval_qa_cmd
from quals.cli import eval_qagen as eval_qagen_cmd
from quals.cli import evaluate_summaries as evaluate_summaries_cmd
from quals.cli import explain as explain_cmd
from quals.cli import factcc_claims as factcc_claims_cmd
from quals.cli import meta_eval as meta_eval_cmd
from quals.cli import score as score_cmd
from quals.cli import summarize as summarize_cmd
from quals.cli import train_factcc as train_factcc_cmd
from quals.cli import train_qagen as train_qagen_cmd
from quals.cli import train_summarizer as train_summarizer_cmd

# In pipeline order: score and explain, meta-evaluate, train a QAGen (or QAGS's QG and QA models, and
# evaluate the QA one), summarize and train summarizers (MLE, ConSeq), evaluate them (and train the
# FactCC-style classifier they are evaluated with), and run a human study.
COMMANDS = {
    "score": score_cmd, "explain": explain_cmd, "meta-eval": meta_eval_cmd,
    "train-qagen": train_qagen_cmd, "eval-qagen": eval_qagen_cmd, "eval-qa": eval_qa_cmd,
    "summarize": summarize_cmd, "train-summarizer": train_summarizer_cmd, "conseq": conseq_cmd,
    "evaluate-summaries": evaluate_summaries_cmd, "factcc-claims": factcc_claims_cmd,
    "train-factcc": train_factcc_cmd, "annotate": annotate_cmd,
}


def build_parser() -> argparse.ArgumentParser:
    from quals import __version__

    parser = argparse.ArgumentParser(
        prog="quals", description="QA-based factual consistency of summaries (QUALS, Nan et al. 2021)."
    )
    parser.add_argument("--version", action="version", version=f"quals {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="Log progress details to stderr.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.register(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not getattr(args, "progress", True):  # --no-progress also silences transformers' loading bars
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    try:
        return COMMANDS[args.command].run(args)
    except (ValueError, FileNotFoundError, FileExistsError) as err:  # usage errors; a TypeError is a bug: traceback
        if args.verbose:
            traceback.print_exc()
        print(f"quals {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"quals {args.command}: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


def entry() -> None:
    sys.exit(main())
