"""Train the FactCC-style classifier: (document chunk, claim) -> consistent / inconsistent.

FactCC (Kryscinski et al. 2020) fine-tuned BERT-base on synthetic claims of CNN/DM articles
(:mod:`quals.training.factcc.claims`). Here any encoder with a sequence-classification head
trains the same way, fully or as a LoRA adapter whose new head is saved with it (the default: the
packaged MiniLM-L6 and a few-MB adapter). The input is built exactly as scoring builds it
(:class:`quals.metrics.factcc.PairLayout`, same ``max_length``): a document longer than one
chunk contributes the chunk that shares most words with the claim, a rule that ignores the label
(the claim's own source sentence for a positive, the sentence it was corrupted from for a
negative). The run directory, resume and precision are :mod:`quals.training.run`'s.

Example:
    >>> from quals.training.factcc.trainer import FactccTrainingConfig, train_factcc
    >>> train_factcc(FactccTrainingConfig(train_file="claims/train.jsonl", eval_file="claims/dev.jsonl",
    ...                                   output_dir="runs/factcc"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from quals.metrics.factcc import CLASSIFIER_INFO_FILE, PairLayout
from quals.metrics.factcc_chunks import chunk_spans, claim_budget, document_budget
from quals.models.packaged import PACKAGED_PREFIX
from quals.training import run as runs

logger = logging.getLogger(__name__)

ID2LABEL = {0: "inconsistent", 1: "consistent"}
DEFAULT_ENCODER = PACKAGED_PREFIX + "minilm-l6"


@dataclass(frozen=True)
class FactccTrainingConfig:
    """Settings of a classifier run (defaults: LoRA on the packaged MiniLM-L6)."""

    train_file: str = field(default="", metadata={"help": "Claims JSONL (quals factcc claims) to train on."})
    output_dir: str = field(default="", metadata={"help": "Where the classifier (or adapter) goes."})
    eval_file: str | None = field(default=None, metadata={"help": "Held-out claims JSONL (accuracy, loss)."})
    model: str = field(default=DEFAULT_ENCODER, metadata={
        "help": "Encoder to start from (its 2-way head is new), or a classifier trained here to train further "
                "(a LoRA directory continues its adapter and head: a second stage, e.g. NLI pairs then claims)."})
    max_examples: int | None = field(default=None, metadata={"help": "Seeded subset of the training claims."})
    max_eval_examples: int | None = field(default=2000, metadata={"help": "Seeded subset of the held-out claims."})
    max_length: int = field(default=256, metadata={"help": "Tokens per (chunk, claim) input; scoring uses the same."})
    chunk_overlap: int = field(default=64, metadata={"help": "Document tokens shared by consecutive chunks."})
    lora: bool = field(default=True, metadata={"help": "Train a LoRA adapter and the head, not every weight."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling alpha."})
    lora_dropout: float = field(default=0.1, metadata={"help": "LoRA dropout."})
    lora_modules_to_save: str = field(default="", metadata={
        "help": "Comma-separated modules trained in full beside the adapter and the head (e.g. pooler: "
                "a sentence-embedding encoder's pooler was never trained for classification)."})
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate (FactCC, full BERT: 2e-5)."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs over the training claims."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many steps (-1: use epochs)."})
    batch_size: int = field(default=16, metadata={"help": "Examples per device and forward pass."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Forward passes per optimiser step."})
    warmup_steps: int = field(default=0, metadata={"help": "Linear warm-up steps."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay."})
    lr_scheduler_type: str = field(default="linear", metadata={"help": "HF scheduler name."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm."})
    seed: int = field(default=13, metadata={"help": "Seed of the subsets, the data order and the initialisation."})
    logging_steps: int = field(default=10, metadata={"help": "Log the loss every this many steps."})
    eval_steps: int = field(default=200, metadata={"help": "Held-out accuracy every this many steps."})
    save_steps: int = field(default=50, metadata={"help": "Checkpoint (the resume point) every this many steps."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept."})
    adapter_dtype: str = field(default="float16", metadata={"help": "Stored adapter weights: float32 or float16."})
    overwrite: bool = field(default=False, metadata={"help": "Discard an existing run in output_dir."})
    progress: bool = field(default=True, metadata={"help": "Progress bar on stderr."})

    def __post_init__(self) -> None:
        if self.max_length < 16:
            raise ValueError(f"max_length must be >= 16, got {self.max_length}")
        if self.adapter_dtype not in ("float32", "float16", "bfloat16"):
            raise ValueError(f"adapter_dtype must be float32, float16 or bfloat16, got {self.adapter_dtype!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FactccTrainingResult:
    output_dir: str
    global_step: int
    train_loss: float | None
    eval_accuracy: float | None
    eval_balanced_accuracy: float | None
    n_train: int
    n_eval: int
    train_seconds: float


# ----- data ----------------------------------------------------------------------------------
# NLI pairs (``../shared/data/nli``: premise, hypothesis, entailed) are claims too: the premise is
# the document, the hypothesis the claim, entailment the consistent label. A first training stage
# on them teaches the alignment that the synthetic claims need (docs/factcc.md).
NLI_FIELDS = {"premise": "document", "hypothesis": "claim", "entailed": "label"}


def read_claims(path: str | Path, limit: int | None, seed: int) -> list[dict]:
    """The claim records of a JSONL file (a seeded subset of ``limit``), each with document,
    claim and a 0/1 label; a file of NLI records (premise, hypothesis, entailed) is read as claims.

    Raises:
        ValueError: a line is not JSON or lacks a text field, or a label is not 0/1.
    """
    import random

    from quals.data.readers import open_text, strict_json_lines

    records = []
    with open_text(path) as handle:
        lines = handle.readlines()  # the records are all kept anyway
        nli = "premise" in _json_keys(next((line for line in lines if line.strip()), ""))
        required = ("premise", "hypothesis") if nli else ("document", "claim")
        label = "entailed" if nli else "label"
        for number, record in strict_json_lines(lines, str(path), required, kind=str):
            if record.get(label) not in (0, 1):
                raise ValueError(f"{path}:{number}: {label} must be 0 (inconsistent) or 1 (consistent)")
            if nli:
                record = {**{k: v for k, v in record.items() if k not in NLI_FIELDS},
                          **{ours: record[theirs] for theirs, ours in NLI_FIELDS.items()}}
            records.append(record)
    if limit is not None and len(records) > limit:
        records = random.Random(seed).sample(records, limit)
    return records


def _json_keys(line: str) -> set[str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return set()  # strict_json_lines reports it with its line number
    return set(record) if isinstance(record, dict) else set()


def best_overlap_chunk(document: list[int], claim: list[int], budget: int, overlap: int) -> tuple[int, int]:
    """The chunk span that shares the most tokens with the claim (first on ties)."""
    spans = chunk_spans(len(document), budget, overlap)
    if len(spans) == 1:
        return spans[0]
    wanted = Counter(claim)
    return max(spans, key=lambda s: (sum((Counter(document[s[0]:s[1]]) & wanted).values()), -s[0]))


def encode_claims(records: list[dict], tokenizer, layout: PairLayout, max_length: int, overlap: int
                  ) -> list[dict]:
    """Model inputs with ``labels``, as scoring builds them."""
    cap = claim_budget(max_length, layout.n_special)
    features = []
    for record in records:
        claim = list(tokenizer(record["claim"], add_special_tokens=False)["input_ids"])[:cap]
        document = list(tokenizer(record["document"], add_special_tokens=False, verbose=False)["input_ids"])  # chunked
        budget = document_budget(max_length, layout.n_special, [len(claim)])
        start, end = best_overlap_chunk(document, claim, budget, overlap)
        feature = layout.build(document[start:end], claim)
        feature["labels"] = int(record["label"])
        features.append(feature)
    return features


def accuracy_metrics(eval_prediction) -> dict:
    """Accuracy and balanced accuracy (mean of per-class recall) of the argmax."""
    import numpy as np

    logits, labels = eval_prediction.predictions, eval_prediction.label_ids
    predicted = np.asarray(logits).argmax(-1)
    labels = np.asarray(labels)
    recalls = [float((predicted[labels == c] == c).mean()) for c in (0, 1) if (labels == c).any()]
    return {"accuracy": float((predicted == labels).mean()), "balanced_accuracy": float(np.mean(recalls))}


# ----- the run -------------------------------------------------------------------------------
def _load(config: FactccTrainingConfig):
    from quals.models.weights import load_model
    from quals.training.lora import add_lora, log_trainable

    from quals.models.weights import adapter_directory

    continued = adapter_directory(config.model) is not None  # a stage trained here, to train further
    if continued and not config.lora:
        raise ValueError(f"{config.model} is a LoRA adapter: continue it with LoRA (drop --no-lora), or fine-tune "
                         "its base model in full")
    loaded = load_model(config.model, device=None, dtype="float32", allow_adapter=config.lora,
                        trainable_adapter=True, head="sequence-classification")
    network = loaded.network
    if network.config.num_labels != 2:
        raise ValueError(f"{config.model} has {network.config.num_labels} outputs; the classifier needs 2 "
                         "(inconsistent, consistent)")
    network.config.id2label, network.config.label2id = dict(ID2LABEL), {v: k for k, v in ID2LABEL.items()}
    if continued:  # its own rank, targets and saved modules carry on; the lora_* settings do not apply
        log_trainable(network, f"{config.model}: LoRA adapter continued")
    elif config.lora:
        extra = tuple(name.strip() for name in config.lora_modules_to_save.split(",") if name.strip())
        network = add_lora(network, "classifier", r=config.lora_r, alpha=config.lora_alpha,
                           dropout=config.lora_dropout, modules_to_save=extra)
    else:
        log_trainable(network, f"{config.model}: full fine-tuning")
    return loaded, network


def train_factcc(config: FactccTrainingConfig, *, use_cpu: bool = False, dtype: str = "auto") -> FactccTrainingResult:
    """Train the classifier as ``config`` says; rerunning resumes (or returns a finished run).

    ``use_cpu`` trains on the CPU even when a GPU is there; ``dtype`` auto: bf16 mixed precision on
    GPUs that support it (``bfloat16``/``float32`` force it on/off).

    Raises:
        ValueError: no claims, a malformed claim file, or settings that changed since the checkpoints.
        FileExistsError: ``output_dir`` holds another run (pass ``overwrite``).
    """
    from accelerate import PartialState
    from transformers import DataCollatorWithPadding, Trainer, set_seed

    from quals.models.device import bf16_setting

    if not config.train_file or not config.output_dir:
        raise ValueError("train_file and output_dir are required")
    run = runs.RunDirectory(Path(config.output_dir), CLASSIFIER_INFO_FILE, config.to_dict())
    state = PartialState()
    with state.main_process_first():
        done, last = run.prepare(overwrite=config.overwrite, is_main=state.is_main_process)
    if done is not None:
        logger.info("%s already holds this finished run", run.output)
        return FactccTrainingResult(**done["result"])
    train_records = read_claims(config.train_file, config.max_examples, config.seed)
    eval_records = read_claims(config.eval_file, config.max_eval_examples, config.seed) if config.eval_file else []
    if not train_records:
        raise ValueError(f"{config.train_file} holds no claims")
    set_seed(config.seed)  # the new head and the adapter initialise from the seed
    loaded, network = _load(config)
    layout = PairLayout.of(loaded.tokenizer)
    train = encode_claims(train_records, loaded.tokenizer, layout, config.max_length, config.chunk_overlap)
    held = encode_claims(eval_records, loaded.tokenizer, layout, config.max_length, config.chunk_overlap)
    args = runs.training_arguments(run, config, learning_rate=config.learning_rate, has_eval=bool(held),
                                   eval_steps=config.eval_steps, show_progress=config.progress, use_cpu=use_cpu,
                                   bf16=bf16_setting(dtype), label_names=["labels"])
    clock = runs.elapsed_clock(last)
    trainer = Trainer(model=network, args=args, train_dataset=train, eval_dataset=held or None,
                      data_collator=DataCollatorWithPadding(loaded.tokenizer),
                      compute_metrics=accuracy_metrics if held else None, callbacks=[clock])
    outcome = runs.train(trainer, last)
    metrics = runs.finite(trainer.evaluate()) if held else {}
    result = FactccTrainingResult(
        output_dir=str(run.output), global_step=trainer.state.global_step, train_loss=outcome.training_loss,
        eval_accuracy=metrics.get("eval_accuracy"), eval_balanced_accuracy=metrics.get("eval_balanced_accuracy"),
        n_train=len(train), n_eval=len(held), train_seconds=round(clock.total, 1))
    if run.save_weights(trainer):
        if config.lora:
            from quals.training.lora import finalize_adapter

            finalize_adapter(run.output, loaded.base_model, config.adapter_dtype)  # the plain base, not a stage
        else:
            loaded.tokenizer.save_pretrained(str(run.output))
        run.complete({"id2label": {str(k): v for k, v in ID2LABEL.items()}, "max_length": config.max_length,
                      "chunk_overlap": config.chunk_overlap, "base_model": loaded.base_model,
                      "base_fingerprint": loaded.base_fingerprint, "lora": config.lora, "result": asdict(result),
                      "labels_train": dict(Counter(r["label"] for r in train_records)),
                      "transformations_train": dict(Counter(r.get("transformation") for r in train_records)),
                      "eval_metrics": metrics, "versions": runs.versions()})
    runs.close_processes()
    return result
