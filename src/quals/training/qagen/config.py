"""Settings of QAGen training (``quals train-qagen``). Importing this module never imports torch.

Defaults follow the paper where it fixes them (Nan et al. 2021: BART-large fully fine-tuned on
SQuAD + NewsQA, passage truncated to 1023 tokens, target ``question <SEP> answer <EOS>``) and
standard LoRA practice where it does not (decoder-only backbones, which the paper did not use).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from quals.metrics.qags_config import DEFAULT_QG_INSTRUCTION, DEFAULT_QG_TEMPLATE
from quals.models.packaged import DEFAULT_BASE_MODEL

ADAPTER_DTYPES = ("float32", "float16", "bfloat16")
TASKS = ("qagen", "qg", "qa")  # layouts in quals.training.qagen.tasks


@dataclass
class QAGenTrainingConfig:
    """Everything that determines a QAGen training run.

    Example:
        >>> config = QAGenTrainingConfig(train_files=("train.json.gz",), output_dir="qagen-out",
        ...                              max_examples=2000, seed=13)
        >>> config.use_lora("causal")
        True
    """

    # ----- model ---------------------------------------------------------------------------
    model: str = field(default=DEFAULT_BASE_MODEL, metadata={
        "help": "Base model: packaged:NAME, a local directory or a hub id (seq2seq or decoder-only)."})
    lora: bool | None = field(default=None, metadata={
        "help": "Train a LoRA adapter instead of all weights. Default: LoRA for decoder-only models, "
                "full fine-tuning for encoder-decoder models (the paper's setting)."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha; the update is scaled by alpha/r."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    lora_target_modules: str = field(default="all-linear", metadata={
        "help": "Comma-separated module names, or all-linear (every linear layer but the output head: "
                "q,k,v,o,gate,up,down projections on Llama/Gemma)."})
    adapter_dtype: str = field(default="float32", metadata={
        "help": "Dtype of the saved LoRA weights: float32, float16 (half the size; the shipped adapters) "
                "or bfloat16. Training itself is unaffected."})
    add_separator_token: bool = field(default=True, metadata={
        "help": "Seq2seq full fine-tuning: add the separator as one new special token when the tokenizer "
                "splits it (paper: SEP is a single token never seen in text)."})

    # ----- task ----------------------------------------------------------------------------
    task: str = field(default="qagen", metadata={
        "help": "What to train: qagen (QUALS: passage -> question SEP answer), qg (QAGS's question "
                "generator: passage and answer -> question) or qa (QAGS's answerer: passage and question "
                "-> answer)."})
    qg_template: str = field(default=DEFAULT_QG_TEMPLATE, metadata={
        "help": "Task qg: input text with {context} and {answer} (seq2seq models; causal ones when "
                "--qg-instruction is empty)."})
    qg_instruction: str = field(default=DEFAULT_QG_INSTRUCTION, metadata={
        "help": "Task qg, causal models: the request in the chat template, as prompted QAGS asks it "
                "('' for the plain template)."})

    # ----- data ----------------------------------------------------------------------------
    train_files: tuple[str, ...] = field(default=(), metadata={
        "help": "Training data: SQuAD v1.1/v2.0 JSON, NewsQA combined JSON or JSONL (.gz too)."})
    heldout_files: tuple[str, ...] = field(default=(), metadata={
        "help": "Held-out data for the evaluation loss; default: passages split off the training data."})
    data_format: str = field(default="auto", metadata={"help": "auto, squad, newsqa or jsonl."})
    newsqa_split: str = field(default="train", metadata={
        "help": "NewsQA stories (type) used for training: train, dev, test or all."})
    heldout_newsqa_split: str = field(default="dev", metadata={
        "help": "NewsQA stories used from held-out files: train, dev, test or all."})
    max_examples: int | None = field(default=None, metadata={
        "help": "Train on a seeded random subset of this many examples (default: all)."})
    eval_size: int = field(default=200, metadata={
        "help": "Held-out examples for the evaluation loss (whole passages when split off the training data)."})
    max_context_tokens: int = field(default=1023, metadata={
        "help": "Most passage tokens per example; longer passages keep a window around the answer "
                "(paper: 1023 BPE tokens)."})
    seed: int = field(default=0, metadata={"help": "Seed of the data subset, the split, the order and the init."})

    # ----- optimisation --------------------------------------------------------------------
    learning_rate: float | None = field(default=None, metadata={
        "help": "Peak learning rate (default: 2e-4 with LoRA, 3e-5 full fine-tuning)."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs over the training examples."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1: use epochs)."})
    batch_size: int = field(default=8, metadata={"help": "Examples per device per forward pass."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Forward passes per optimizer step."})
    eval_batch_size: int = field(default=8, metadata={"help": "Examples per device per evaluation pass."})
    warmup_steps: float = field(default=0.03, metadata={
        "help": "Linear warm-up: steps, or a fraction of all steps when below 1."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    lr_scheduler_type: str = field(default="linear", metadata={"help": "transformers scheduler name."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm."})
    bf16: bool | None = field(default=None, metadata={
        "help": "bf16 mixed precision (default: on for CUDA devices that support it)."})
    group_by_length: bool = field(default=True, metadata={
        "help": "Batch examples of similar length (less padding; order stays seeded)."})

    # ----- run -----------------------------------------------------------------------------
    output_dir: str = field(default="", metadata={"help": "Where the model/adapter and checkpoints go."})
    save_steps: int = field(default=50, metadata={"help": "Checkpoint every this many steps."})
    eval_steps: int = field(default=50, metadata={"help": "Held-out loss every this many steps."})
    logging_steps: int = field(default=10, metadata={"help": "Log the training loss every this many steps."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept."})
    resume: bool = field(default=True, metadata={"help": "Resume from the last checkpoint in the output directory."})
    overwrite: bool = field(default=False, metadata={
        "help": "Start over when the output directory already holds checkpoints or a trained model."})
    progress: bool = field(default=True, metadata={"help": "Progress bar on stderr."})

    def __post_init__(self) -> None:
        self.train_files = tuple(str(p) for p in self.train_files)
        self.heldout_files = tuple(str(p) for p in self.heldout_files)
        from quals.data.qa_datasets import QA_FORMATS

        if self.data_format not in QA_FORMATS:
            raise ValueError(f"data_format must be one of {', '.join(QA_FORMATS)}; got {self.data_format!r}")
        for name in ("newsqa_split", "heldout_newsqa_split"):
            if getattr(self, name) not in ("train", "dev", "test", "all"):
                raise ValueError(f"{name} must be train, dev, test or all; got {getattr(self, name)!r}")
        for name in ("lora_r", "lora_alpha", "batch_size", "gradient_accumulation_steps", "eval_batch_size",
                     "save_steps", "eval_steps", "logging_steps", "save_total_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.adapter_dtype not in ADAPTER_DTYPES:
            raise ValueError(f"adapter_dtype must be one of {', '.join(ADAPTER_DTYPES)}; got {self.adapter_dtype!r}")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.max_examples is not None and self.max_examples < 1:
            raise ValueError(f"max_examples must be >= 1 or None, got {self.max_examples}")
        if self.eval_size < 0:
            raise ValueError(f"eval_size must be >= 0, got {self.eval_size}")
        if self.max_context_tokens < 16:
            raise ValueError(f"max_context_tokens must be >= 16, got {self.max_context_tokens}")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be -1 (use epochs) or >= 1, got {self.max_steps}")
        if self.max_steps == -1 and self.num_train_epochs <= 0:
            raise ValueError(f"num_train_epochs must be > 0, got {self.num_train_epochs}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}; got {self.task!r}")
        for name in ("{context}", "{answer}"):
            if name not in self.qg_template:
                raise ValueError(f"qg_template must contain {name}, got {self.qg_template!r}")
        if not self.lora_target_modules.strip():
            raise ValueError("lora_target_modules must name modules or be all-linear")

    def use_lora(self, family: str) -> bool:
        """Whether this run trains a LoRA adapter for a model of ``family`` (seq2seq or causal)."""
        if self.lora is None:
            return family == "causal"
        if self.lora and family == "seq2seq":
            raise ValueError("LoRA is supported for decoder-only models; encoder-decoder models are fine-tuned "
                             "fully (the paper's setting): pass --no-lora")
        return self.lora

    def resolved_learning_rate(self, lora: bool) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 2e-4 if lora else 3e-5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_file(cls, path: str | Path, **overrides) -> QAGenTrainingConfig:
        """A config from a JSON file of its fields, with ``overrides`` applied on top.

        Raises:
            ValueError: a key that is not a field.
        """
        values = json.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{path}: unknown config field(s) {', '.join(unknown)}")
        return cls(**{**values, **overrides})
