"""Flags shared by commands, with the same meaning everywhere."""

from __future__ import annotations

import argparse
import dataclasses

from quals.generation.config import GenerationConfig


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    from quals.models.packaged import DEFAULT_BASE_MODEL, DEFAULT_MODEL

    group = parser.add_argument_group("model")
    group.add_argument("--model", default=None,
                       help=f"Hub id, local directory, QAGen adapter directory or packaged:NAME: the QAGen of QUALS "
                            f"(default: {DEFAULT_MODEL}) and the backbone of QAGS and of the likelihood baselines "
                            f"(default: {DEFAULT_BASE_MODEL}).")
    group.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default: auto).")
    group.add_argument("--dtype", default="auto", help="auto, float32, bfloat16 or float16 (default: auto).")
    group.add_argument("--batch-size", type=int, default=64, help="Sequences per forward pass (default: 64).")


def add_quals_flags(parser: argparse.ArgumentParser) -> None:
    from quals.metrics.aggregation import PAIR_AGGREGATIONS, PAIR_REDUCTIONS, TOKEN_SETS, AggregationConfig
    from quals.metrics.quals_config import PRESETS, QualsConfig

    group = parser.add_argument_group(
        "QUALS settings", "Flags override the preset; --preset paper is the published method (docs/agreement.md).")
    group.add_argument("--preset", choices=PRESETS, default=None,
                       help="default (the measured default) or paper (60 groups, no answer constraint, beam-score "
                            "LL_S, all tokens, means) (default: default).")
    defaults = QualsConfig()
    for f in dataclasses.fields(GenerationConfig):
        flag = "--" + f.name.replace("_", "-")
        group.add_argument(flag, type=type(getattr(defaults.generation, f.name)), default=None,
                           help=f"{f.metadata['help']} (default: {getattr(defaults.generation, f.name)})")
    choices = {"token_set": tuple(TOKEN_SETS), "pair_reduction": PAIR_REDUCTIONS, "pair_aggregation": PAIR_AGGREGATIONS}
    for f in dataclasses.fields(AggregationConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults.aggregation, f.name)
        group.add_argument(flag, type=type(default), choices=choices.get(f.name), default=None,
                           help=f"{f.metadata['help']} (default: {default})")
    group.add_argument("--max-pairs", type=int, default=None, help="Kept QA pairs cap (default: 10).")
    group.add_argument("--summary-likelihood", choices=("rescore", "beam"), default=None,
                       help="LL_S by teacher forcing (rescore, default) or the beam score (beam, the authors').")
    group.add_argument("--answer-constraint", choices=("none", "summary_span"), default=None,
                       help="Constrain answers to summary substrings while decoding (default: summary_span; "
                            "the paper: none).")
    group.add_argument("--answer-types", choices=("any", "entities"), default=None,
                       help="Keep every answer (any, default) or only named entities, noun chunks and numbers "
                            "of the summary (entities; spaCy).")
    group.add_argument("--window-tokens", type=int, default=None,
                       help="Document tokens per window (default: model limit, at most 1024).")
    group.add_argument("--window-overlap", type=int, default=None,
                       help="Tokens shared by windows (default: 128, at most half the window).")
    group.add_argument("--cache-generations", action=argparse.BooleanOptionalAction, default=None,
                       help="Reuse generated QA pairs from the on-disk cache (default: on).")


_SHARED_SETTINGS = ("window_tokens", "window_overlap")


def _quals_only_settings() -> list[str]:
    from quals.metrics.aggregation import AggregationConfig

    return [f.name for f in dataclasses.fields(GenerationConfig)] + [
        f.name for f in dataclasses.fields(AggregationConfig)] + [
        "max_pairs", "summary_likelihood", "answer_constraint", "answer_types", "cache_generations"]


def quals_settings(args: argparse.Namespace) -> dict:
    names = [*_quals_only_settings(), *_SHARED_SETTINGS]
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def add_metric_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metric", choices=("quals", "qags"), default="quals",
                        help="quals (default) or qags (Wang et al. 2020, on the same backbone unless "
                             "--qg-model/--qa-model name other models).")


def add_qags_flags(parser: argparse.ArgumentParser) -> None:
    """QAGS settings (``--metric qags``); --window-tokens/--window-overlap are shared with QUALS."""
    from quals.metrics.qags_config import QagsConfig

    group = parser.add_argument_group(
        "QAGS settings (--metric qags; defaults: the authors')",
        "--window-tokens and --window-overlap apply to QAGS's document answering too.")
    group.add_argument("--qg-model", default=None,
                       help="Hugging Face question-generation model (seq2seq, fed --qg-template; "
                            "default: the --model backbone, prompted).")
    group.add_argument("--qa-model", default=None,
                       help="Hugging Face extractive QA model (AutoModelForQuestionAnswering; "
                            "default: the --model backbone, answering greedily).")
    defaults = QagsConfig()
    for f in dataclasses.fields(QagsConfig):
        if f.name in _SHARED_SETTINGS:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        help_text = f"{f.metadata['help']} (default: {default!r})".replace("%", "%%")
        if isinstance(default, bool):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            group.add_argument(flag, type=type(default), default=None, help=help_text)


def qags_settings(args: argparse.Namespace) -> dict:
    from quals.metrics.qags_config import QagsConfig

    names = [f.name for f in dataclasses.fields(QagsConfig)]
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _flags(names) -> str:
    return ", ".join("--" + name.replace("_", "-") for name in names)


def scorer_options(args: argparse.Namespace, show_progress: bool = False, *, metric: str = "quals"):
    """The :class:`quals.metrics.registry.ScorerOptions` of a command's flags."""
    from quals.metrics.registry import ScorerOptions

    settings = quals_settings(args)
    if metric != "quals":  # only the window settings are shared with QAGS's backbone
        settings = {k: v for k, v in settings.items() if k in _SHARED_SETTINGS}
    return ScorerOptions(model=args.model, device=launcher_device(args.device), dtype=args.dtype,
                         batch_size=args.batch_size, quals_preset=getattr(args, "preset", None) or "default",
                         quals_settings=settings, qags_settings=qags_settings(args),
                         qg_model=getattr(args, "qg_model", None), qa_model=getattr(args, "qa_model", None),
                         show_progress=show_progress)


def build_scorer(args: argparse.Namespace, show_progress: bool = True):
    """The scorer ``--metric`` names; flags of the other metric are an error, not ignored."""
    from quals.metrics.registry import ScorerFactory

    metric = getattr(args, "metric", "quals")
    if metric == "quals":
        from quals.metrics.qags_config import QagsConfig

        qags_only = [f.name for f in dataclasses.fields(QagsConfig) if f.name not in _SHARED_SETTINGS]
        given = [n for n in [*qags_only, "qg_model", "qa_model"] if getattr(args, n, None) is not None]
        if given:
            raise ValueError(f"{_flags(given)} only apply to --metric qags")
        return build_quals(args, show_progress=show_progress)
    given = [n for n in [*_quals_only_settings(), "preset"] if getattr(args, n, None) is not None]
    if given:
        raise ValueError(f"{_flags(given)} only apply to --metric quals")
    return ScorerFactory(scorer_options(args, show_progress, metric="qags")).build("qags")


def build_quals(args: argparse.Namespace, show_progress: bool = True):
    from quals.metrics.registry import ScorerFactory

    return ScorerFactory(scorer_options(args, show_progress)).build("quals")


def launcher_device(device: str) -> str:
    """Under a distributed launcher each process takes its own GPU."""
    import os

    if device == "auto" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device
