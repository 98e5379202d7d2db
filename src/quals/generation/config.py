"""Settings of diverse beam search. Defaults are the paper's (Nan et al. 2021, authors' code)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class GenerationConfig:
    """Diverse beam search (Vijayakumar et al. 2018) with Hamming diversity, fairseq semantics."""

    num_groups: int = field(default=60, metadata={"help": "Diversity groups G (paper: 60)."})
    group_width: int = field(default=1, metadata={"help": "Beams per group B (paper: 1)."})
    diversity_penalty: float = field(
        default=0.5,
        metadata={"help": "Lambda: subtracted from a token's log-prob once per earlier group "
                          "that chose it at the same step (paper: 0.5)."},
    )
    min_length: int = field(
        default=8, metadata={"help": "Tokens before EOS may be emitted (paper: 8)."}
    )
    max_length: int = field(
        default=60,
        metadata={"help": "Most generated tokens, EOS included; longer hypotheses are returned "
                          "unfinished (paper: 60)."},
    )
    length_penalty: float = field(
        default=1.0, metadata={"help": "Final score = summed beam score / length**lp (paper: 1.0)."}
    )

    def __post_init__(self) -> None:
        for name in ("num_groups", "group_width", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.min_length < 0 or self.min_length >= self.max_length:
            raise ValueError(
                f"min_length must be in [0, max_length), got {self.min_length} with max_length {self.max_length}"
            )
        if self.diversity_penalty < 0:
            raise ValueError(f"diversity_penalty must be >= 0, got {self.diversity_penalty}")

    @property
    def beams(self) -> int:
        return self.num_groups * self.group_width

    def to_dict(self) -> dict:
        return asdict(self)
