"""Flags shared by commands, with the same meaning everywhere."""

from __future__ import annotations

import argparse
import dataclasses

from quals.cli.config_flags import add_config_flags, given_values
from quals.cli.runtime import SCORING_BATCH, add_overwrite_flag, add_runtime_flags, launcher_device
from quals.generation.config import GenerationConfig

SCORING_SEED = "the answer-candidate sample of QAGS (QUALS is deterministic and ignores it)"


def add_model_flags(parser: argparse.ArgumentParser, *, seed: str = SCORING_SEED) -> None:
    """``--model`` of the scorers and the shared flags (``seed``: what the seed decides here)."""
    from quals.models.packaged import DEFAULT_BASE_MODEL, DEFAULT_MODEL

    group = parser.add_argument_group("model")
    group.add_argument("--model", default=None,
                       help=f"Hub id, local directory, QAGen adapter directory or packaged:NAME: the QAGen of QUALS "
                            f"(default: {DEFAULT_MODEL}) and the backbone of QAGS and of the likelihood baselines "
                            f"(default: {DEFAULT_BASE_MODEL}).")
    add_runtime_flags(parser, batch=SCORING_BATCH, batch_size=64, seed=seed)


def add_quals_flags(parser: argparse.ArgumentParser) -> None:
    """``--preset`` and one flag per QUALS setting; the help shows the default preset's values."""
    from quals.metrics.aggregation import AggregationConfig
    from quals.metrics.quals_config import PRESETS, QualsConfig

    group = parser.add_argument_group(
        "QUALS settings", "Flags override the preset; --preset paper is the published method (docs/agreement.md).")
    group.add_argument("--preset", choices=PRESETS, default=None,
                       help="default (the measured default) or paper (60 groups, no answer constraint, beam-score "
                            "LL_S, all tokens, means) (default: default).")
    defaults = QualsConfig()
    add_config_flags(group, GenerationConfig, defaults=defaults.generation)
    add_config_flags(group, AggregationConfig, defaults=defaults.aggregation)
    add_config_flags(group, QualsConfig, defaults=defaults)  # its nested generation/aggregation: above


_SHARED_SETTINGS = ("window_tokens", "window_overlap")


_QAGS_SHARED = (*_SHARED_SETTINGS, "seed")  # QagsConfig fields set by flags that are not QAGS's own


def _quals_only_settings() -> list[str]:
    from quals.metrics.aggregation import AggregationConfig
    from quals.metrics.quals_config import QualsConfig

    names = [f.name for cls in (GenerationConfig, AggregationConfig, QualsConfig) for f in dataclasses.fields(cls)]
    return [n for n in names if n not in ("generation", "aggregation", *_SHARED_SETTINGS)]


def quals_settings(args: argparse.Namespace) -> dict:
    """The QUALS settings given on the command line (flat, as ``QUALS(**settings)`` takes them)."""
    from quals.metrics.aggregation import AggregationConfig
    from quals.metrics.quals_config import QualsConfig

    return {k: v for cls in (GenerationConfig, AggregationConfig, QualsConfig)
            for k, v in given_values(args, cls).items()}


def add_io_flags(parser: argparse.ArgumentParser, *, summary: bool = True, summary_help: str | None = None) -> None:
    """Input format and field names of a row file (as :class:`quals.data.FieldMap` takes them)."""
    parser.add_argument("--input-format", choices=("jsonl", "csv", "parquet"), default=None,
                        help="Input format (default: from the file name).")
    parser.add_argument("--document-field", default="document", help="Field with the document (default: document).")
    if summary:
        parser.add_argument("--summary-field", default="summary",
                            help=summary_help or "Field with the reference summary (default: summary).")
    parser.add_argument("--id-field", default="id", help="Optional field with a row id (default: id).")


def add_common_run_flags(parser: argparse.ArgumentParser,
                         overwrite: str = "Discard an existing output instead of resuming.") -> None:
    """``--overwrite/--no-overwrite`` and ``--progress/--no-progress`` of a resumable command."""
    add_overwrite_flag(parser, overwrite)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="Progress bars on stderr (default: on).")


def add_metric_flag(parser: argparse.ArgumentParser, *, factcc: bool = False) -> None:
    choices = ("quals", "qags", "factcc") if factcc else ("quals", "qags")
    extra = ("; factcc (a FactCC-style classifier: --model names any HF sequence classifier, default the "
             "shipped one, docs/factcc.md)") if factcc else ""
    parser.add_argument("--metric", choices=choices, default="quals",
                        help="quals (default) or qags (Wang et al. 2020, on the same backbone unless "
                             f"--qg-model/--qa-model name other models){extra}.")


def add_factcc_flags(parser: argparse.ArgumentParser, *, model_flag: bool = False) -> None:
    """FactCC settings; ``model_flag`` adds ``--factcc-model`` for commands whose ``--model`` is the QAGen."""
    from quals.metrics.factcc import FactccConfig

    group = parser.add_argument_group("FactCC settings (--metric factcc; docs/factcc.md)")
    if model_flag:
        group.add_argument("--factcc-model", default=None,
                           help="HF sequence-classification model of the factcc metric (default: the shipped "
                                "FactCC-style classifier).")
    add_config_flags(group, FactccConfig)


def factcc_settings(args: argparse.Namespace) -> dict:
    from quals.metrics.factcc import FactccConfig

    return given_values(args, FactccConfig)


def add_qags_flags(parser: argparse.ArgumentParser) -> None:
    """QAGS settings (``--metric qags``); --window-tokens/--window-overlap are shared with QUALS."""
    from quals.metrics.qags_config import QagsConfig
    from quals.models.packaged import DEFAULT_QAGS_QA, DEFAULT_QAGS_QG

    group = parser.add_argument_group(
        "QAGS settings (--metric qags; defaults: the authors')",
        "--window-tokens and --window-overlap apply to QAGS's document answering too.")
    group.add_argument("--qg-model", default=None,
                       help="Question generator: a `quals train-qagen --task qg` run or any Hugging Face QG model "
                            f"(fed --qg-template). Default: {DEFAULT_QAGS_QG}; with --model, that "
                            "backbone, prompted.")
    group.add_argument("--qa-model", default=None,
                       help="Answerer: a `--task qa` run, a QAGen, or an extractive QA model "
                            f"(AutoModelForQuestionAnswering). Default: {DEFAULT_QAGS_QA}, answering greedily; "
                            "with --model, that backbone.")
    add_config_flags(group, QagsConfig, skip=_QAGS_SHARED)  # --seed is the shared flag


def qags_settings(args: argparse.Namespace) -> dict:
    """The QAGS settings given on the command line, the shared window flags and --seed included."""
    from quals.metrics.qags_config import QagsConfig

    return given_values(args, QagsConfig)


def _flags(names) -> str:
    return ", ".join("--" + name.replace("_", "-") for name in names)


def scorer_options(args: argparse.Namespace, show_progress: bool = False, *, metric: str = "quals"):
    """The :class:`quals.metrics.registry.ScorerOptions` of a command's flags."""
    from quals.metrics.registry import ScorerOptions

    settings = quals_settings(args)
    if metric != "quals":  # only the window settings are shared with QAGS's backbone
        settings = {k: v for k, v in settings.items() if k in _SHARED_SETTINGS}
    factcc_model = getattr(args, "factcc_model", None) or (args.model if metric == "factcc" else None)
    return ScorerOptions(model=args.model, device=launcher_device(args.device), dtype=args.dtype,
                         batch_size=args.batch_size, quals_preset=getattr(args, "preset", None) or "default",
                         quals_settings=settings, qags_settings=qags_settings(args),
                         qg_model=getattr(args, "qg_model", None), qa_model=getattr(args, "qa_model", None),
                         factcc_model=factcc_model, factcc_settings=factcc_settings(args), show_progress=show_progress)


def build_scorer(args: argparse.Namespace, show_progress: bool = True):
    """The scorer ``--metric`` names; flags of the other metric are an error, not ignored."""
    from quals.metrics.registry import ScorerFactory

    from quals.metrics.factcc import FactccConfig
    from quals.metrics.qags_config import QagsConfig

    metric = getattr(args, "metric", "quals")
    only = {"qags": [*(f.name for f in dataclasses.fields(QagsConfig) if f.name not in _QAGS_SHARED),
                     "qg_model", "qa_model"],
            "quals": [*_quals_only_settings(), "preset"],
            "factcc": [f.name for f in dataclasses.fields(FactccConfig)]}
    for other, names in only.items():
        given = [n for n in names if other != metric and getattr(args, n, None) is not None]
        if metric == "factcc" and other != "factcc":  # the window flags belong to QUALS and QAGS
            given += [n for n in _SHARED_SETTINGS if getattr(args, n, None) is not None and n not in given]
        if given:
            raise ValueError(f"{_flags(dict.fromkeys(given))} only apply to --metric {other}")
    if metric == "quals":
        return build_quals(args, show_progress=show_progress)
    return ScorerFactory(scorer_options(args, show_progress, metric=metric)).build(metric)


def build_quals(args: argparse.Namespace, show_progress: bool = True):
    from quals.metrics.registry import ScorerFactory

    return ScorerFactory(scorer_options(args, show_progress)).build("quals")
