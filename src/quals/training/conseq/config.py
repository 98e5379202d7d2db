"""Settings of ConSeq: candidate sampling, S+/S- selection and contrastive training. Torch-free,
so the CLI can build its flags from them.

Every default is the official setting of ConSeq (Nan et al. 2021, "Improving Factual Consistency
of Abstractive Summarization via Question Answering", ACL, and the authors' released code) unless
its help says otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from quals.training.summarizer.config import TrainingSettings

SELECTION_METRICS = ("quals", "rouge")


@dataclass(frozen=True)
class CandidateConfig:
    """Candidate summaries sampled from the MLE model for every training document."""

    num_candidates: int = field(default=6, metadata={"help": "Samples per document (paper: 6)."})
    top_k: int = field(default=50, metadata={"help": "Top-k sampling (paper: 50)."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus mass (paper: off, 1.0)."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature (paper: 1.0)."})
    max_new_tokens: int = field(default=60, metadata={"help": "Most sampled tokens (paper, XSum: 60)."})
    min_new_tokens: int = field(default=10, metadata={"help": "EOS blocked before this many tokens (paper: 10)."})
    seed: int = field(default=0, metadata={"help": "Sampling seed; each (document, sample) gets its own stream."})

    def __post_init__(self) -> None:
        if self.num_candidates < 1:
            raise ValueError(f"num_candidates must be >= 1, got {self.num_candidates}")

    def decoding(self):
        """The equivalent :class:`quals.training.summarizer.config.DecodingConfig`."""
        from quals.training.summarizer.config import DecodingConfig

        return DecodingConfig(num_beams=1, do_sample=True, top_k=self.top_k, top_p=self.top_p,
                              temperature=self.temperature, num_return_sequences=self.num_candidates,
                              max_new_tokens=self.max_new_tokens, min_new_tokens=self.min_new_tokens)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SelectionConfig:
    """How S+ and S- are chosen from scored references and candidates."""

    by: str = field(default="quals", metadata={"help": "'quals' (ConSeq) or 'rouge' (the paper's ConSeq-ROUGE "
                                                      "baseline: mean ROUGE-1/2/L F1 against the reference)."})
    negative_share: float = field(default=0.3, metadata={"help": "S-: documents whose worst candidate is among "
                                                                 "this lowest share (paper: 0.3)."})
    positive_share: float = field(default=0.3, metadata={"help": "S+: documents whose reference is among this "
                                                                 "highest share (paper: 0.3; not used by rouge)."})

    def __post_init__(self) -> None:
        if self.by not in SELECTION_METRICS:
            raise ValueError(f"by must be one of {SELECTION_METRICS}, got {self.by!r}")
        for name in ("negative_share", "positive_share"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ConseqConfig(TrainingSettings):
    """Contrastive fine-tuning from the MLE model (``quals conseq train``)."""

    learning_rate: float = field(default=3e-6, metadata={"help": "Peak learning rate (paper: 3e-6)."})
    num_train_epochs: float = field(default=2.0, metadata={"help": "Epochs over the triples (paper: 2)."})
    warmup_steps: int = field(default=0, metadata={"help": "Linear warm-up steps (paper: none)."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay (paper: 0.01)."})
    max_grad_norm: float = field(default=0.1, metadata={"help": "Gradient clipping norm (paper: 0.1)."})
    label_smoothing: float = field(default=0.1, metadata={"help": "Epsilon on both loss terms (paper: 0.1)."})
    batch_size: int = field(default=4, metadata={"help": "Documents per device and step; each brings its "
                                                         "positive and its negative, so 2x sequences."})
    lora: bool | None = field(default=None, metadata={"help": "Train a LoRA adapter (default: yes when the "
                                                              "MLE model is an adapter, which is trained further; "
                                                              "paper: full fine-tuning)."})
    max_source_tokens: int | None = field(default=None, metadata={"help": "Document tokens kept (default: the MLE "
                                                                          "model's setting)."})
    max_summary_tokens: int | None = field(default=None, metadata={"help": "Summary tokens kept, EOS included "
                                                                           "(default: the MLE model's setting)."})
    clamp_min: float = field(default=1e-20, metadata={"help": "Lower bound of 1 - p in the unlikelihood term "
                                                              "(paper: 1e-20)."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.clamp_min < 1.0:
            raise ValueError(f"clamp_min must be in (0, 1), got {self.clamp_min}")
