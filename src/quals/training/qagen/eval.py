"""Evaluate a QAGen on held-out QA data (``quals eval-qagen``).

Two measurements, both with the same :class:`quals.QAGen` calls that QUALS makes:

1. **QA log-likelihood**: teacher-forced log-probs of the held-out ``question, SEP, answer, EOS``
   tokens given their passage, reported per token over all QA pairs (``token_logprob``: minus
   the held-out loss) and as the mean over pairs of each pair's mean token log-prob
   (``pair_logprob``: the LL that QUALS averages), and the mean over pairs of each pair's total
   log-prob (``pair_total_logprob``, nats per QA pair): the per-token numbers depend on the
   tokenizer, so only this one compares backbones with different vocabularies (SmolLM2 vs Gemma).
   A passage longer than one scoring window is
   scored under every window and the best window counts, as QUALS does for documents.
2. **Generation** on held-out passages with diverse beam search (default: the paper's 60 groups):
   the share of generated hypotheses that are well-formed QA pairs, the share whose answer is a
   span of the passage (case-insensitive substring: the paper's filter), the number of distinct
   (question, answer) pairs per passage (lowercased), and the number QUALS's filter keeps
   (:func:`quals.metrics.filtering.select_pairs`, cap 10).

Example:
    >>> from quals.training.qagen.eval import QAGenEvalConfig, evaluate_qagen
    >>> result = evaluate_qagen(QAGenEvalConfig(files=("squad-v1.1-dev.json.gz",), num_passages=5))  # doctest: +SKIP
    >>> result.generation["span_share"]                                                                 # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from quals.data.qa_datasets import QA_FORMATS, QAExample


@dataclass(frozen=True)
class QAGenEvalConfig:
    """What to evaluate and how."""

    model: str | None = field(default=None, metadata={
        "help": "QAGen: packaged:NAME, model or adapter directory, or hub id (default: the default QAGen)."})
    files: tuple[str, ...] = field(default=(), metadata={"help": "Held-out QA files (SQuAD/NewsQA JSON, JSONL)."})
    data_format: str = field(default="auto", metadata={"help": "auto, squad, newsqa or jsonl."})
    newsqa_split: str = field(default="dev", metadata={"help": "NewsQA stories used: train, dev, test or all."})
    max_examples: int = field(default=500, metadata={
        "help": "QA pairs scored for the log-likelihood (seeded subset; 0 skips it)."})
    num_passages: int = field(default=20, metadata={
        "help": "Passages to generate from (seeded subset of distinct passages; 0 skips generation)."})
    num_groups: int = field(default=60, metadata={"help": "Diverse beam groups per passage (paper: 60)."})
    max_length: int = field(default=60, metadata={"help": "Most generated tokens (paper: 60)."})
    min_length: int = field(default=8, metadata={"help": "Tokens before EOS may be emitted (paper: 8)."})
    seed: int = field(default=0, metadata={"help": "Seed of the subsets."})
    batch_size: int = field(default=64, metadata={"help": "Sequences per forward pass."})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda[:N] or mps."})
    dtype: str = field(default="auto", metadata={"help": "auto, float32, bfloat16 or float16."})

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", tuple(str(p) for p in self.files))
        if self.data_format not in QA_FORMATS:
            raise ValueError(f"data_format must be one of {', '.join(QA_FORMATS)}; got {self.data_format!r}")
        if self.newsqa_split not in ("train", "dev", "test", "all"):
            raise ValueError(f"newsqa_split must be train, dev, test or all; got {self.newsqa_split!r}")
        for name in ("max_examples", "num_passages"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("num_groups", "max_length", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PassageGeneration:
    """Generation counts for one passage, with the well-formed pairs."""

    passage_id: str
    hypotheses: int
    well_formed: int
    span: int
    distinct_pairs: int
    distinct_span_pairs: int
    kept: int
    pairs: tuple[dict, ...]


@dataclass(frozen=True)
class QAGenEvalResult:
    """Held-out numbers of a QAGen; ``signature`` names the model and settings."""

    loglik: dict
    generation: dict
    passages: tuple[PassageGeneration, ...]
    signature: str
    model: dict
    config: dict

    def to_dict(self) -> dict:
        return {"signature": self.signature, "model": self.model, "config": self.config, "loglik": self.loglik,
                "generation": self.generation, "passages": [asdict(p) for p in self.passages]}


# ----- pure aggregation ----------------------------------------------------------------------
def loglik_summary(sequences: Sequence[Sequence[float]]) -> dict:
    """Per-token and per-pair mean log-probs of scored QA token sequences.

    >>> loglik_summary([[-1.0, -3.0], [-2.0]])
    {'pairs': 2, 'tokens': 3, 'token_logprob': -2.0, 'pair_logprob': -2.0, 'pair_total_logprob': -3.0}
    """
    tokens = sum(len(s) for s in sequences)
    if not sequences or tokens == 0:
        return {"pairs": 0, "tokens": 0, "token_logprob": None, "pair_logprob": None, "pair_total_logprob": None}
    return {
        "pairs": len(sequences),
        "tokens": tokens,
        "token_logprob": math.fsum(v for s in sequences for v in s) / tokens,
        "pair_logprob": math.fsum(math.fsum(s) / len(s) for s in sequences) / len(sequences),
        "pair_total_logprob": math.fsum(math.fsum(s) for s in sequences) / len(sequences),
    }


def passage_counts(passage_id: str, passage: str, pairs: Sequence[tuple[str | None, str | None, float]],
                   max_pairs: int = 10) -> PassageGeneration:
    """Counts for one passage's generated ``(question, answer, score)`` hypotheses (None if malformed).

    >>> c = passage_counts("p", "The cat sat.", [("Who sat?", "the cat", -1.0), ("Who sat?", "The cat", -2.0),
    ...                                          ("Where?", "mat", -3.0), (None, None, -4.0)])
    >>> (c.hypotheses, c.well_formed, c.span, c.distinct_pairs, c.distinct_span_pairs, c.kept)
    (4, 3, 2, 2, 1, 1)
    """
    from quals.metrics.filtering import Candidate, select_pairs

    lowered = passage.lower()
    formed = [(q, a, s) for q, a, s in pairs if q is not None and a is not None]
    in_span = [(q, a, s) for q, a, s in formed if a.lower() in lowered]
    kept = select_pairs([Candidate(q, a, s) for q, a, s in pairs], passage, max_pairs)
    return PassageGeneration(
        passage_id=passage_id,
        hypotheses=len(pairs),
        well_formed=len(formed),
        span=len(in_span),
        distinct_pairs=len({(q.lower(), a.lower()) for q, a, _ in formed}),
        distinct_span_pairs=len({(q.lower(), a.lower()) for q, a, _ in in_span}),
        kept=len(kept),
        pairs=tuple({"question": q, "answer": a, "score": s, "span": a.lower() in lowered} for q, a, s in formed),
    )


def generation_summary(passages: Sequence[PassageGeneration], seconds: float) -> dict:
    """Totals and means over passages."""
    if not passages:
        return {"passages": 0}
    hypotheses = sum(p.hypotheses for p in passages)
    n = len(passages)
    return {
        "passages": n,
        "hypotheses": hypotheses,
        "well_formed_share": sum(p.well_formed for p in passages) / hypotheses if hypotheses else None,
        "span_share": sum(p.span for p in passages) / hypotheses if hypotheses else None,
        "span_share_of_well_formed": (sum(p.span for p in passages) / max(1, sum(p.well_formed for p in passages))),
        "distinct_pairs_per_passage": sum(p.distinct_pairs for p in passages) / n,
        "distinct_span_pairs_per_passage": sum(p.distinct_span_pairs for p in passages) / n,
        "kept_pairs_per_passage": sum(p.kept for p in passages) / n,
        "passages_without_kept_pair": sum(p.kept == 0 for p in passages),
        "seconds_per_passage": seconds / n,
    }


# ----- running ------------------------------------------------------------------------------
def _passages(examples: Sequence[QAExample], count: int, seed: int) -> list[tuple[str, str]]:
    import random

    seen: dict[str, str] = {}
    for example in examples:
        seen.setdefault(example.context, example.id)
    ordered = sorted(seen.items(), key=lambda item: item[1])
    random.Random(seed).shuffle(ordered)
    return [(pid, context) for context, pid in ordered[:count]]


def _loglik(qagen, examples: Sequence[QAExample]) -> dict:
    by_context: dict[str, list[QAExample]] = {}
    for example in examples:
        by_context.setdefault(example.context, []).append(example)
    contexts = list(by_context)
    qa_lists = [[qagen.qa_token_ids(e.question, e.answer) for e in by_context[c]] for c in contexts]
    scores = qagen.score(contexts, qa_lists)
    sequences = [s.by_window[s.best_window()] for context in scores for s in context.sequences]
    return loglik_summary(sequences)


def _generate(qagen, passages: list[tuple[str, str]], config: QAGenEvalConfig) -> tuple[list[PassageGeneration], dict]:
    from quals.generation.config import GenerationConfig

    generation = GenerationConfig(num_groups=config.num_groups, max_length=config.max_length,
                                  min_length=config.min_length)
    limit = qagen.backbone.max_context_tokens(generation.max_length)
    usable = [(pid, text) for pid, text in passages if len(qagen.backbone.tokenize(text)) <= limit]
    started = time.monotonic()
    generated = qagen.generate([text for _, text in usable], generation) if usable else []
    seconds = time.monotonic() - started
    results = [
        passage_counts(pid, text, [(h.question, h.answer, h.hypothesis.score) for h in hyps])
        for (pid, text), hyps in zip(usable, generated, strict=True)
    ]
    summary = generation_summary(results, seconds)
    summary["passages_too_long"] = len(passages) - len(usable)
    summary["generation"] = generation.to_dict()
    return results, summary


def evaluate_qagen(config: QAGenEvalConfig) -> QAGenEvalResult:
    """Held-out QA log-likelihood and generation statistics of ``config.model``.

    Raises:
        ValueError: no files, or no examples in them.
    """
    from quals.data.qa_datasets import read_qa_files
    from quals.models.packaged import DEFAULT_MODEL
    from quals.qagen import QAGen
    from quals.training.qagen.examples import seeded_subset

    if not config.files:
        raise ValueError("give at least one held-out QA file")
    split = None if config.newsqa_split == "all" else config.newsqa_split
    examples, _ = read_qa_files(config.files, config.data_format, newsqa_split=split)
    if not examples:
        raise ValueError(f"no QA examples in {', '.join(config.files)}")
    qagen = QAGen(config.model or DEFAULT_MODEL, device=config.device, dtype=config.dtype, batch_size=config.batch_size,
                  show_progress=True)
    loglik = _loglik(qagen, seeded_subset(examples, config.max_examples, config.seed)) if config.max_examples else {}
    passages, generation = ([], {})
    if config.num_passages:
        passages, generation = _generate(qagen, _passages(examples, config.num_passages, config.seed), config)
    info = qagen.info
    settings = json.dumps({k: v for k, v in config.to_dict().items() if k not in ("device", "batch_size")},
                          sort_keys=True, separators=(",", ":"))
    signature = (f"qagen-eval:{info.quals_version}|model:{info.model}|weights:{info.fingerprint}|dtype:{info.dtype}|"
                 f"settings:{settings}|torch:{info.torch_version}|transformers:{info.transformers_version}|"
                 f"python:{platform.python_version()}")
    return QAGenEvalResult(loglik=loglik, generation=generation, passages=tuple(passages), signature=signature,
                           model=asdict(info), config=config.to_dict())
