"""``quals meta-eval [BENCH ...] -o DIR``: agreement of metrics with human judgments."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from quals.cli.common import (
    add_factcc_flags,
    add_model_flags,
    add_qags_flags,
    add_quals_flags,
    factcc_settings,
    qags_settings,
    quals_settings,
)

HELP = ("Measure how well QUALS, QAGS, FactCC and lexical and likelihood baselines agree with human factuality "
        "judgments.")
DEFAULT_BENCH = Path("../shared/data/bench")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("benchmarks", nargs="*", type=Path,
                        help="Benchmark files (.jsonl/.jsonl.gz in the shared schema) or folders of them "
                             f"(default: {DEFAULT_BENCH} when it exists).")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="Folder for the report, the numbers and the per-row scores; re-running resumes.")
    parser.add_argument("--metrics", default="quals,overlap,rouge1,rouge2,rougeL,loglik,pmi",
                        help="Comma-separated: quals, qags, factcc, overlap, rouge1, rouge2, rougeL, loglik, pmi "
                             "(default: all but qags and factcc).")
    parser.add_argument("--limit", default=None,
                        help="Rows per split of each dataset, seeded: N for every split, or e.g. "
                             "test=400,valid=200 (a split not named keeps all its rows; valid=0 skips the "
                             "validation split, and with it the threshold and balanced accuracy). The rows per "
                             "split are printed before scoring (default: all rows).")
    parser.add_argument("--scorer-limit", default=None,
                        help="Smaller nested subsets for costly scorers: qags=100 (the first 100 seeded rows "
                             "of each split) or qags.test=100 (of the test split only).")
    parser.add_argument("--bootstrap", type=int, default=1000, help="Bootstrap resamples (default: 1000).")
    parser.add_argument("--chunk-size", type=int, default=8, help="Rows per scoring call and resume unit.")
    parser.add_argument("--max-document-tokens", type=int, default=20_000,
                        help="Longer documents get an error record (default: 20000).")
    parser.add_argument("--report-only", action="store_true",
                        help="Score nothing and load no model: report from the score files as they are, "
                             "e.g. while a long run is still writing them (unscored rows are left out and "
                             "the report says how many). With --token-set, --pair-reduction, --pair-aggregation, "
                             "--lowest-k or a smaller --max-pairs, QUALS is re-aggregated from the files' per-token "
                             "log-probs: the numbers a new run with those settings would give, without one.")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="Progress bars on stderr (default: on).")
    _add_benchmark_flags(parser)
    add_model_flags(parser, seed="the seeded row subsets of --limit/--scorer-limit, the bootstrap and QAGS's "
                                 "answer-candidate sample (QUALS is deterministic)")
    add_quals_flags(parser)
    add_qags_flags(parser)
    add_factcc_flags(parser, model_flag=True)


def _add_benchmark_flags(parser: argparse.ArgumentParser) -> None:
    """Field names (as in ``quals score``) and split names of the benchmark files."""
    from quals.data.benchmarks import BenchmarkFields

    group = parser.add_argument_group(
        "benchmark fields and splits",
        "Read files whose fields have other names, e.g. LLM-AggreFact's: --document-field doc --summary-field claim. "
        "A row needs a label or a score (or both).")
    for f in dataclasses.fields(BenchmarkFields):
        group.add_argument(f"--{f.name}-field", default=f.default, metavar="NAME",
                           help=f"{f.metadata['help'].rstrip('.')} (default: {f.default}).")
    group.add_argument("--valid-splits", default="", metavar="NAMES",
                       help="Comma-separated split names to use as validation splits (thresholds), besides valid, "
                            "val, validation and dev.")
    group.add_argument("--test-splits", default="", metavar="NAMES",
                       help="Comma-separated split names to use as test splits besides test. A split no name "
                            "covers (e.g. train) is left out, with a warning naming it.")


def parse_limits(text: str | None, *, allow_bare: bool) -> dict[str, int] | None:
    """``"400"`` -> every split (returned as ``{"*": 400}``); ``"test=400,valid=200"`` -> per name."""
    if not text:
        return None
    try:
        if "=" not in text:
            if not allow_bare:
                raise ValueError
            return {"*": int(text)}
        pairs = (item.split("=", 1) for item in text.split(","))
        return {key.strip(): int(value) for key, value in pairs}
    except ValueError:
        raise ValueError(f"cannot read limit {text!r}: use N or name=N[,name=N]") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def run(args: argparse.Namespace) -> int:
    from quals.batch import RunConfig
    from quals.data.benchmarks import benchmark_files
    from quals.evaluation.metaeval import run_meta_eval, select_meta_eval_rows, write_outputs
    from quals.evaluation.selection import describe_selection

    paths = args.benchmarks or ([DEFAULT_BENCH] if DEFAULT_BENCH.is_dir() else [])
    if not paths:
        raise FileNotFoundError(f"no benchmark given and {DEFAULT_BENCH} does not exist")
    files = benchmark_files(paths)
    config = _config(args)
    run_config = RunConfig(chunk_size=args.chunk_size, details=True, max_document_tokens=args.max_document_tokens)
    reaggregate = _reaggregation(args)
    make_scorer = _scorer_factory(args, config)
    selection = select_meta_eval_rows(files, config)  # read once, announced before anything is scored
    print("\n".join(describe_selection(selection, config.limits, scoring=not args.report_only)), file=sys.stderr)
    result = run_meta_eval(files, args.output, config, make_scorer, run_config=run_config,
                           show_progress=args.progress, report_only=args.report_only, reaggregate=reaggregate,
                           selection=selection)
    paths = write_outputs(result, args.output)
    print(f"meta-evaluation of {', '.join(config.metrics)} -> {paths['markdown']}", file=sys.stderr)
    return 0


def _config(args: argparse.Namespace):
    """The :class:`MetaEvalConfig` of the flags; limits name split roles (``val=0`` is ``valid=0``)."""
    from quals.data.benchmarks import BenchmarkFields
    from quals.evaluation.metaeval import MetaEvalConfig
    from quals.evaluation.selection import canonical_limits, canonical_scorer_limits

    valid_splits, test_splits = _names(args.valid_splits), _names(args.test_splits)
    fields = BenchmarkFields(**{f.name: getattr(args, f"{f.name}_field") for f in dataclasses.fields(BenchmarkFields)})
    limits = canonical_limits(parse_limits(args.limit, allow_bare=True), valid_splits, test_splits)
    scorer_limits = parse_limits(args.scorer_limit, allow_bare=False) or {}
    return MetaEvalConfig(metrics=tuple(m.strip() for m in args.metrics.split(",") if m.strip()), limits=limits,
                          scorer_limits=canonical_scorer_limits(scorer_limits, valid_splits, test_splits),
                          seed=args.seed, n_resamples=args.bootstrap, fields=fields, valid_splits=valid_splits,
                          test_splits=test_splits)


REAGGREGATION_SETTINGS = ("token_set", "pair_reduction", "pair_aggregation", "lowest_k", "max_pairs")


def _reaggregation(args: argparse.Namespace) -> dict | None:
    """Settings a report-only run recomputes QUALS with (None: report the files as scored)."""
    given = {name: getattr(args, name) for name in REAGGREGATION_SETTINGS if getattr(args, name, None) is not None}
    if not args.report_only or not given:
        return None
    others = [n for n in quals_settings(args) if n not in REAGGREGATION_SETTINGS]
    if others or args.preset:
        flags = ", ".join("--" + n.replace("_", "-") for n in [*others, *(["preset"] if args.preset else [])])
        raise ValueError(f"{flags} change generation or scoring: --report-only can only re-aggregate "
                         f"({', '.join('--' + n.replace('_', '-') for n in REAGGREGATION_SETTINGS)})")
    return given


def _scorer_factory(args: argparse.Namespace, config):
    """Build scorers on demand through :class:`quals.metrics.registry.ScorerFactory` (scorers on
    the same model share one loaded backbone), after refusing flags of metrics not in use."""
    from quals.cli.common import scorer_options
    from quals.metrics.registry import ScorerFactory

    if "qags" not in config.scorers:
        given = [n for n in qags_settings(args) if n not in ("seed", "window_tokens", "window_overlap")]
        _reject(args, [*given, *(n for n in ("qg_model", "qa_model") if getattr(args, n))], "qags")
    if "quals" not in config.scorers:
        _reject(args, [n for n in quals_settings(args) if n not in ("window_tokens", "window_overlap")]
                + (["preset"] if args.preset else []), "quals")
    if "factcc" not in config.scorers:
        _reject(args, [*factcc_settings(args), *(["factcc_model"] if args.factcc_model else [])], "factcc")
    return ScorerFactory(scorer_options(args)).build


def _reject(args, given: list[str], metric: str) -> None:
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        raise ValueError(f"{flags} only apply when --metrics includes {metric}")
