"""Summary generation: batched beam search or seeded sampling, and files of summaries.

Beam search is Hugging Face ``generate``. Sampling is HF greedy decoding with
:class:`SeededSampler` as the last logits processor: it draws each row's token from that row's own
``torch.Generator`` and leaves only that token allowed, so the greedy step picks it. Each
(document row, sample) pair has its own seed, so a document's samples do not depend on which other
documents share its batch, chunk or process (HF's own sampling draws every row from the global
RNG, so a document's samples would change with the batch around it). Floating-point results can
still differ in the last bits between batch shapes; ``batch_size=1`` removes even that. A
document's prompt (decoder-only) or encoder pass (encoder-decoder) is computed once and shared by
its samples; HF's ``num_return_sequences`` would recompute it for each.

Files go through :func:`quals.batch.runner.map_rows`: chunked, resumable, sharded under
``accelerate launch`` / ``torchrun`` with an ordered merge.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from quals.batch.runner import map_rows
from quals.data.readers import Row, detect_format
from quals.training.summarizer.config import DecodingConfig
from quals.training.summarizer.model import Summarizer, format_dict

logger = logging.getLogger(__name__)


def row_seed(seed: int, row: int, sample: int) -> int:
    """A 63-bit seed for sample ``sample`` of input row ``row`` (stable across runs and machines)."""
    digest = hashlib.sha256(f"quals-summary\x00{seed}\x00{row}\x00{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


class SeededSampler(LogitsProcessor):
    """Temperature, top-k and top-p sampling with one ``torch.Generator`` per batch row.

    Returns scores that allow only the drawn token (0 there, -inf elsewhere), so it must be the
    last processor and the decoding greedy. HF's processors before it (minimum length,
    no-repeat n-grams) have already masked what is forbidden.

    Args:
        seeds: one seed per batch row.
        top_k: keep the k highest-scoring tokens (0: all); ties at the k-th score are kept, as
            HF's ``TopKLogitsWarper`` does.
        top_p: keep the smallest set of tokens whose probability reaches ``top_p`` (1.0: all).
        temperature: divide scores by this before anything else.
    """

    def __init__(self, seeds: Sequence[int], top_k: int = 50, top_p: float = 1.0, temperature: float = 1.0) -> None:
        self.seeds = list(seeds)
        self.top_k, self.top_p, self.temperature = top_k, top_p, temperature
        self._generators: list[torch.Generator] | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if scores.shape[0] != len(self.seeds):
            raise ValueError(f"{scores.shape[0]} rows but {len(self.seeds)} seeds")
        if self._generators is None:
            self._generators = [torch.Generator(device=scores.device).manual_seed(s) for s in self.seeds]
        logits = scores.float() / self.temperature
        if self.top_k and self.top_k < logits.shape[-1]:
            kth = torch.topk(logits, self.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p < 1.0:
            ordered, order = logits.sort(dim=-1, descending=True)
            mass_before = ordered.softmax(-1).cumsum(-1) - ordered.softmax(-1)
            drop = (mass_before >= self.top_p).scatter(1, order, mass_before >= self.top_p)
            logits = logits.masked_fill(drop, float("-inf"))
        probs = logits.softmax(-1)
        picks = torch.stack([torch.multinomial(probs[r], 1, generator=g) for r, g in enumerate(self._generators)])
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, picks, 0.0)


@dataclass(frozen=True)
class GeneratedSummaries:
    """Summaries of one document; ``source_truncated`` when the document was cut to fit."""

    texts: tuple[str, ...]
    source_truncated: bool


def _generation_config(summarizer: Summarizer, decoding: DecodingConfig):
    config = copy.deepcopy(summarizer.model.generation_config)
    beam = not decoding.do_sample
    config.update(do_sample=False, num_beams=decoding.num_beams if beam else 1,
                  num_return_sequences=decoding.num_return_sequences if beam else 1,
                  max_new_tokens=decoding.max_new_tokens, min_new_tokens=decoding.min_new_tokens,
                  length_penalty=decoding.length_penalty, no_repeat_ngram_size=decoding.no_repeat_ngram_size,
                  top_k=None, top_p=None, temperature=None, max_length=None, min_length=None,
                  pad_token_id=summarizer.pad_token_id)
    if config.eos_token_id is None:
        config.eos_token_id = summarizer.eos_token_id
    return config


def _batch_tensors(summarizer: Summarizer, sources: list[list[int]]) -> dict[str, torch.Tensor]:
    width = max(len(s) for s in sources)
    ids = torch.full((len(sources), width), summarizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(sources), width), dtype=torch.long)
    left = summarizer.format.family == "causal"  # decoder-only: the continuation starts at the end
    for row, source in enumerate(sources):
        span = slice(width - len(source), width) if left else slice(0, len(source))
        ids[row, span] = torch.tensor(source)
        mask[row, span] = 1
    device = next(summarizer.model.parameters()).device
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}


def _shared_context(summarizer: Summarizer, inputs: dict[str, torch.Tensor], repeats: int) -> dict:
    """Run each document's prompt (decoder-only) or encoder (encoder-decoder) once and repeat the
    result for its ``repeats`` samples; HF would recompute it for every sample."""
    model = summarizer.model
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    if summarizer.format.family == "seq2seq":
        from transformers.modeling_outputs import BaseModelOutput

        hidden = model.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
        return {"input_ids": ids.repeat_interleave(repeats, 0), "attention_mask": mask.repeat_interleave(repeats, 0),
                "encoder_outputs": BaseModelOutput(last_hidden_state=hidden.repeat_interleave(repeats, 0))}
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    # transformers 5.2x renamed `past_key_values` to `cache` (as in quals.models.backbone).
    name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    # All prompt tokens but the last go into the cache; generate() runs the last one itself.
    model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=positions[:, :-1], use_cache=True,
          logits_to_keep=1, **{name: cache})
    cache.batch_repeat_interleave(repeats)
    return {"input_ids": ids.repeat_interleave(repeats, 0), "attention_mask": mask.repeat_interleave(repeats, 0),
            name: cache}


@torch.inference_mode()
def _generate_batch(summarizer: Summarizer, sources: list[list[int]], rows: list[int], decoding: DecodingConfig,
                    seed: int) -> list[list[str]]:
    k = decoding.num_return_sequences
    processors = LogitsProcessorList()
    summarizer.model.eval()
    inputs = _batch_tensors(summarizer, sources)
    width = inputs["input_ids"].shape[1]
    if decoding.do_sample:  # one row per sample, each with its own generator
        seeds = [row_seed(seed, row, j) for row in rows for j in range(k)]
        processors.append(SeededSampler(seeds, decoding.top_k, decoding.top_p, decoding.temperature))
        if k > 1 and width > 1:
            inputs = _shared_context(summarizer, inputs, k)
        elif k > 1:
            inputs = {name: value.repeat_interleave(k, 0) for name, value in inputs.items()}
    out = summarizer.model.generate(**inputs, generation_config=_generation_config(summarizer, decoding),
                                    logits_processor=processors)
    if summarizer.format.family == "causal":
        out = out[:, width:]
    texts = [summarizer.decode(seq) for seq in out.tolist()]
    return [texts[i * k:(i + 1) * k] for i in range(len(rows))]


def generate_summaries(summarizer: Summarizer, documents: Sequence[str], decoding: DecodingConfig, *,
                       rows: Sequence[int] | None = None, seed: int = 0,
                       batch_size: int = 8) -> list[GeneratedSummaries]:
    """Summaries of every document, ``decoding.num_return_sequences`` each.

    Args:
        summarizer: from :func:`quals.training.summarizer.model.load_summarizer`.
        documents: texts to summarize.
        decoding: beam search or sampling settings (see ``PRESETS``).
        rows: each document's row number in its file, part of its sampling seed (default 0..n-1).
        seed: sampling seed.
        batch_size: documents per ``generate`` call (documents of similar length are batched).

    Returns:
        One :class:`GeneratedSummaries` per document, in input order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows = list(range(len(documents))) if rows is None else list(rows)
    if len(rows) != len(documents):
        raise ValueError(f"{len(documents)} documents but {len(rows)} row numbers")
    encoded = [summarizer.encode_source(d) for d in documents]
    order = sorted(range(len(documents)), key=lambda i: (len(encoded[i][0]), i))
    texts: dict[int, list[str]] = {}
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        outputs = _generate_batch(summarizer, [encoded[i][0] for i in batch], [rows[i] for i in batch], decoding, seed)
        texts.update(zip(batch, outputs, strict=True))
    return [GeneratedSummaries(tuple(texts[i]), encoded[i][1]) for i in range(len(documents))]


# ----- files -----------------------------------------------------------------------------------
def read_documents(path: str | Path, document_field: str = "document", reference_field: str | None = None,
                   id_field: str | None = "id", input_format: str | None = None) -> Iterator[Row]:
    """Rows with a document and, when ``reference_field`` is given, a reference summary
    (in ``Row.summary``). Unusable rows come back with ``error`` set."""
    from quals.data.readers import read_records

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    wanted = [name for name in (document_field, reference_field) if name]
    for index, (record, problem) in enumerate(read_records(path, detect_format(path, input_format))):
        if problem is not None:
            yield Row(index, None, None, None, problem)
            continue
        row_id = record.get(id_field) if id_field else None
        row_id = None if row_id is None else str(row_id)
        missing = [name for name in wanted if name not in record]
        wrong = [name for name in wanted if name not in missing and not isinstance(record[name], str)]
        if missing or wrong:
            why = f"missing field(s) {missing}" if missing else f"field(s) {wrong} must be text"
            yield Row(index, row_id, None, None, why)
            continue
        document = record[document_field]
        reference = record[reference_field] if reference_field else None
        blank = [name for name in wanted if not record[name].strip()]
        yield Row(index, row_id, document, reference, f"empty field(s) {blank}" if blank else None)


class SummaryMapper:
    """Row mapper for :func:`quals.batch.runner.map_rows`: one record of summaries per row.

    Record: ``row``, ``id``, then ``summary`` (one per document) or ``candidates`` (a list),
    ``source_truncated``, ``error``; with ``keep_inputs`` also ``document`` and ``reference``.
    """

    def __init__(self, summarizer: Summarizer, decoding: DecodingConfig, *, seed: int = 0, batch_size: int = 8,
                 as_list: bool = False, keep_inputs: bool = False) -> None:
        self.summarizer, self.decoding = summarizer, decoding
        self.seed, self.batch_size = seed, batch_size
        self.as_list = as_list or decoding.num_return_sequences > 1
        self.keep_inputs = keep_inputs

    def run_info(self) -> dict:
        from quals.provenance import version_fields

        return {"stage": "summaries", "model": self.summarizer.model_id, "weights": self.summarizer.fingerprint,
                "format": format_dict(self.summarizer.format), "decoding": self.decoding.to_dict(),
                "seed": self.seed, "output": "candidates" if self.as_list else "summary",
                **version_fields("quals", "torch", "transformers")}

    def records(self, rows: list[Row]) -> list[dict]:
        good = [row for row in rows if row.error is None]
        generated = dict(zip((r.index for r in good), generate_summaries(
            self.summarizer, [r.document for r in good], self.decoding, rows=[r.index for r in good],
            seed=self.seed, batch_size=self.batch_size), strict=True)) if good else {}
        return [self._record(row, generated.get(row.index)) for row in rows]

    def _record(self, row: Row, result: GeneratedSummaries | None) -> dict:
        record: dict = {"row": row.index, "id": row.id}
        if self.keep_inputs:
            record.update(document=row.document, reference=row.summary)
        texts = list(result.texts) if result else None
        record["candidates" if self.as_list else "summary"] = texts if (self.as_list or texts is None) else texts[0]
        record.update(source_truncated=result.source_truncated if result else None, error=row.error)
        return record


def summarize_file(summarizer: Summarizer, input_path: str | Path, output: str | Path, *,
                   decoding: DecodingConfig, document_field: str = "document", reference_field: str | None = None,
                   id_field: str | None = "id", input_format: str | None = None, seed: int = 0,
                   batch_size: int = 8, chunk_size: int = 16, overwrite: bool = False, keep_inputs: bool = False,
                   as_list: bool = False, show_progress: bool = False) -> dict:
    """Summarize every row of a file into JSONL (resumable, sharded under a launcher).

    Returns:
        Counts: ``n_rows``, ``n_errors``, ``n_truncated`` (documents cut to ``max_source_tokens``).
    """
    from quals.data.readers import count_rows

    mapper = SummaryMapper(summarizer, decoding, seed=seed, batch_size=batch_size, as_list=as_list,
                           keep_inputs=keep_inputs)
    info = {"run": mapper.run_info(), "input": str(Path(input_path).resolve()), "chunk_size": chunk_size,
            "fields": {"document": document_field, "reference": reference_field, "id": id_field},
            "keep_inputs": keep_inputs}
    rows = read_documents(input_path, document_field, reference_field, id_field, input_format)
    map_rows(mapper, rows, output, info=info, chunk_size=chunk_size, overwrite=overwrite,
             show_progress=show_progress, count=lambda: count_rows(input_path, input_format), desc="summarizing")
    return count_outputs(output)


def count_outputs(path: str | Path) -> dict:
    import json

    counts = {"n_rows": 0, "n_errors": 0, "n_truncated": 0}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                counts["n_rows"] += 1
                counts["n_errors"] += bool(record.get("error"))
                counts["n_truncated"] += bool(record.get("source_truncated"))
    return counts
