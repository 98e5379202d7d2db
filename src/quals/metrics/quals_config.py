"""QUALS settings, importable without torch (the CLI builds its --help from them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from quals.generation.config import GenerationConfig
from quals.metrics.aggregation import AggregationConfig

SUMMARY_LIKELIHOODS = ("rescore", "beam")
DEFAULT_NUM_GROUPS = 60  # the paper's; chosen over 10 by the pre-registered rule of docs/agreement.md
ANSWER_CONSTRAINTS = ("none", "summary_span")
PRESETS = ("default", "paper")
ANSWER_TYPES = ("any", "entities")


@dataclass(frozen=True)
class QualsConfig:
    """Settings of the QUALS metric (the generation settings live in ``generation``)."""

    generation: GenerationConfig = field(
        default_factory=lambda: GenerationConfig(num_groups=DEFAULT_NUM_GROUPS),
        metadata={"help": "Diverse beam search with the paper's settings, 60 groups: they agreed better with "
                          "people than 10 on the dev sets (criterion +0.053 [+0.01, +0.10], docs/agreement.md); "
                          "--num-groups 10 is about 2x faster."},
    )
    max_pairs: int = field(default=10, metadata={"help": "Cap checked at each filter round (paper: 10)."})
    summary_likelihood: str = field(
        default="rescore",
        metadata={"help": "'rescore': teacher-forced under the summary; 'beam': the generation score "
                          "with its diversity penalty, as the authors' code did.", "choices": SUMMARY_LIKELIHOODS},
    )
    answer_constraint: str = field(
        default="summary_span",
        metadata={"help": "'summary_span' (default) or 'none' (paper): answers can only be summary substrings. "
                          "With 'none' the packaged model kept a QA pair for 5% of QAGS summaries "
                          "(docs/meta-eval.md).", "choices": ANSWER_CONSTRAINTS},
    )
    answer_types: str = field(
        default="any",
        metadata={"help": "'any' (paper): every kept answer counts; 'entities': only answers that are a named "
                          "entity, noun chunk or number of the summary (spaCy, SQuAD-normalised match), "
                          "QAGS's answer kinds.", "choices": ANSWER_TYPES},
    )
    aggregation: AggregationConfig = field(
        default_factory=AggregationConfig,
        metadata={"help": "From per-token log-probs to a score: which tokens, per-pair reduction, over pairs."},
    )
    window_tokens: int | None = field(
        default=None, metadata={"help": "Document tokens per window (default: model limit, at most 1024)."}
    )
    window_overlap: int | None = field(
        default=None,
        metadata={"help": "Tokens shared by consecutive windows (default: 128, at most half the window)."})
    cache_generations: bool = field(default=True, metadata={"help": "Reuse generated QA pairs from disk."})

    def __post_init__(self) -> None:
        if self.summary_likelihood not in SUMMARY_LIKELIHOODS:
            raise ValueError(f"summary_likelihood must be one of {SUMMARY_LIKELIHOODS}, "
                             f"got {self.summary_likelihood!r}")
        if self.answer_constraint not in ANSWER_CONSTRAINTS:
            raise ValueError(f"answer_constraint must be one of {ANSWER_CONSTRAINTS}, got {self.answer_constraint!r}")
        if self.answer_types not in ANSWER_TYPES:
            raise ValueError(f"answer_types must be one of {ANSWER_TYPES}, got {self.answer_types!r}")
        if self.max_pairs < 1:
            raise ValueError(f"max_pairs must be >= 1, got {self.max_pairs}")

    @classmethod
    def paper(cls) -> QualsConfig:
        """The published method as the authors' code runs it: 60 groups, no answer constraint,
        LL_S from the beam scores (diversity penalty included), all tokens, means, 10 pairs.

        Spelled out field by field, so that changing a default never changes this preset.
        """
        return cls(generation=GenerationConfig(num_groups=60, group_width=1, diversity_penalty=0.5,
                                               min_length=8, max_length=60, length_penalty=1.0),
                   max_pairs=10, summary_likelihood="beam", answer_constraint="none", answer_types="any",
                   aggregation=AggregationConfig(token_set="all", pair_reduction="mean", pair_aggregation="mean"))

    def generation_settings(self) -> dict:
        """What determines the generated hypotheses (the generation cache key)."""
        return {"generation": self.generation.to_dict(), "answer_constraint": self.answer_constraint}

    def to_dict(self) -> dict:
        return asdict(self)


def preset_config(name: str) -> QualsConfig:
    """``default``: the measured default; ``paper``: :meth:`QualsConfig.paper`."""
    if name not in PRESETS:
        raise ValueError(f"unknown QUALS preset {name!r}; known: {', '.join(PRESETS)}")
    return QualsConfig.paper() if name == "paper" else QualsConfig()
