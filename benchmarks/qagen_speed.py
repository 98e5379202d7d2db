"""Throughput of the QAGen engine against naive transformers references, side by side in one run.

What it measures, on the default packaged model (SmolLM2-135M) and real QAGS texts:

1. QA generation. ``QAGen.generate`` (our batched diverse beam search, paper settings: 60 groups of
   width 1, lambda 0.5, 8..60 tokens) against transformers' own ``model.generate`` on the same
   network and prompt, returning the same number of sequences with the same length limits and EOS:
   (a) top-k 50 sampling with ``num_return_sequences``, (b) plain beam search with as many beams.
   These are what one would write without our engine, and they do strictly less work per step than
   diverse beam search (no diversity penalty, no per-token bookkeeping), so they are a fair, even
   generous, reference. Tokens = all tokens of all returned sequences (EOS included, padding after
   EOS excluded) divided by wall time.
2. Teacher-forced scoring. ``QAGen.score`` (each context window is encoded once per batch and its
   KV cache shared by all its QA sequences) against one full forward pass of prompt + sequence per
   QA pair, one pair at a time. The naive pass still computes logits only for the scored positions
   (``logits_to_keep``), so the gap measured is the shared context alone. The two methods' per-token
   log-probs are compared and the largest absolute difference printed, so the speed is for the same
   numbers.

Run: ``python benchmarks/qagen_speed.py --device cpu``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers

from naive_quals import pair_logprobs

from quals import ContextScores, GenerationConfig, QAGen, QAHypothesis
from quals.data.benchmarks import read_benchmark

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bench" / "qags_xsum.jsonl"
QA_PER_DOCUMENT = 10


@dataclass(frozen=True)
class Timing:
    method: str
    tokens: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds


def timed(method: str, run: Callable[[], int]) -> Timing:
    start = time.perf_counter()
    tokens = run()
    return Timing(method, tokens, time.perf_counter() - start)


def returned_tokens(generated: torch.Tensor, eos: int) -> int:
    """Tokens per row up to and including the first EOS (the rest is padding)."""
    is_eos = generated == eos
    first = torch.where(is_eos.any(-1), is_eos.int().argmax(-1) + 1, generated.shape[-1])
    return int(first.sum())


def hf_generate(qagen: QAGen, texts: Sequence[str], config: GenerationConfig, sample: bool) -> int:
    """transformers' generate, one text at a time, as many sequences as our search returns."""
    bb = qagen.backbone
    n = config.beams
    mode = dict(do_sample=True, top_k=50, top_p=1.0, temperature=1.0, num_beams=1) if sample else \
        dict(do_sample=False, num_beams=n, length_penalty=config.length_penalty)
    tokens = 0
    for text in texts:
        ids = torch.tensor([bb.prompt_ids(bb.tokenize(text))], device=bb.device)
        out = bb.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), num_return_sequences=n,
            min_new_tokens=config.min_length, max_new_tokens=config.max_length,
            eos_token_id=bb.eos_token_id, pad_token_id=bb.pad_token_id, **mode,
        )
        tokens += returned_tokens(out[:, ids.shape[1]:], bb.eos_token_id)
    return tokens


def naive_score(qagen: QAGen, contexts: Sequence[str], qa_lists: Sequence[Sequence[Sequence[int]]],
                windows: Sequence[Sequence[tuple[int, int]]]) -> list[list[list[list[float]]]]:
    """[context][sequence][window] -> per-token log-probs, one full forward pass per pair."""
    bb = qagen.backbone
    out: list[list[list[list[float]]]] = []
    for context, seqs, spans in zip(contexts, qa_lists, windows, strict=True):
        ids = bb.tokenize(context)
        per_seq: list[list[list[float]]] = [[] for _ in seqs]
        for start, end in spans:
            prompt = bb.prompt_ids(ids[start:end])
            for s, seq in enumerate(seqs):
                per_seq[s].append(pair_logprobs(bb, prompt, seq))
        out.append(per_seq)
    return out


def pick_sequences(hyps: Sequence[QAHypothesis], k: int) -> list[tuple[int, ...]]:
    """Up to k well-formed QA hypotheses, topped up with other finished ones if too few."""
    good = [h.hypothesis.token_ids for h in hyps if h.well_formed]
    rest = [h.hypothesis.token_ids for h in hyps if not h.well_formed and h.hypothesis.finished]
    return (good + rest)[:k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="JSONL with document, summary")
    parser.add_argument("--n-summaries", type=int, default=3)
    parser.add_argument("--n-documents", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default=None,
                        help="QAGen (default: the packaged base model, with which the documented numbers were "
                             "measured; packaged:smollm2-135m-qagen for the shipped adapter).")
    parser.add_argument("--groups", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rows = read_benchmark(args.data)
    summaries = [r.summary for r in rows[:args.n_summaries]]
    documents = [r.document for r in rows[:args.n_documents]]
    config = GenerationConfig(num_groups=args.groups)
    from quals.models.packaged import DEFAULT_BASE_MODEL

    qagen = QAGen(args.model or DEFAULT_BASE_MODEL, device=args.device, batch_size=args.batch_size)
    bb = qagen.backbone
    print(f"model {bb.model_id} on {bb.device}, {bb.model.dtype}, {torch.get_num_threads()} threads; "
          f"torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"data {args.data}: {len(summaries)} summaries, {len(documents)} documents "
          f"({[len(bb.tokenize(d)) for d in documents]} tokens)")

    with torch.inference_mode():
        # Warm-up: every code path once, small.
        tiny = GenerationConfig(num_groups=4, min_length=1, max_length=4)
        warm = qagen.generate(summaries[:1], tiny)[0]
        hf_generate(qagen, summaries[:1], tiny, sample=True)
        hf_generate(qagen, summaries[:1], tiny, sample=False)
        warm_seq = [[warm[0].hypothesis.token_ids]]
        qagen.score(documents[:1], warm_seq)
        naive_score(qagen, documents[:1], warm_seq, [[(0, 64)]])

        results: list[list[QAHypothesis]] = []

        def ours_generate() -> int:
            results.extend(qagen.generate(summaries, config))
            return sum(len(h.hypothesis.token_ids) for hyps in results for h in hyps)

        gen = [timed("ours: diverse beam search", ours_generate)]
        torch.manual_seed(args.seed)
        gen.append(timed("HF generate: top-k sampling", lambda: hf_generate(qagen, summaries, config, True)))
        gen.append(timed("HF generate: beam search", lambda: hf_generate(qagen, summaries, config, False)))

        qa_lists = [pick_sequences(results[j % len(results)], QA_PER_DOCUMENT) for j in range(len(documents))]
        scored: list[ContextScores] = []

        def ours_score() -> int:
            scored.extend(qagen.score(documents, qa_lists))
            return sum(len(seq) * len(cs.windows) for seqs, cs in zip(qa_lists, scored, strict=True) for seq in seqs)

        sco = [timed("ours: shared-context scoring", ours_score)]
        naive: list[list[list[list[float]]]] = []

        def naive_run() -> int:
            naive.extend(naive_score(qagen, documents, qa_lists, [cs.windows for cs in scored]))
            return sum(len(seq) * len(cs.windows) for seqs, cs in zip(qa_lists, scored, strict=True) for seq in seqs)

        sco.append(timed("naive: one forward per QA pair", naive_run))

    diff = max(abs(a - b) for cs, per_ctx in zip(scored, naive, strict=True)
               for wl, per_seq in zip(cs.sequences, per_ctx, strict=True)
               for ours_w, naive_w in zip(wl.by_window, per_seq, strict=True)
               for a, b in zip(ours_w, naive_w, strict=True))
    well = sum(h.well_formed for hyps in results for h in hyps)
    pairs = sum(len(s) for s in qa_lists)
    print(f"\ngeneration: {len(summaries)} summaries x {config.beams} sequences "
          f"({well} of our hypotheses well-formed); scoring: {pairs} QA sequences over {len(documents)} documents\n")
    print("| method | tokens | seconds | tokens/s |\n|---|---:|---:|---:|")
    for t in gen + sco:
        print(f"| {t.method} | {t.tokens} | {t.seconds:.1f} | {t.rate:.1f} |")
    print()
    for t in gen[1:]:
        print(f"- ours / {t.method}: {gen[0].rate / t.rate:.2f}x tokens/s")
    print(f"- ours / {sco[1].method}: {sco[0].rate / sco[1].rate:.2f}x tokens/s")
    print(f"- scoring max |log-prob difference| ours vs naive: {diff:.2e} ({'ok' if diff < 1e-4 else 'TOO LARGE'})")
    print(f"- 1-minute load average at the end: {os.getloadavg()[0]:.2f} (other processes skew CPU timings)")


if __name__ == "__main__":
    main()
