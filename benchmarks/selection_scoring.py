"""QUALS scoring in ConSeq's selection: a document's summaries scored in one call against one call each.

The selection scores every training document's reference and six candidates (``conseq select``
scores them as one chunk of seven rows), so the same document is the context of seven summaries'
QA pairs. ``score_sequences`` encodes a repeated context once per batch of sequences; scored one
summary per call it is encoded seven times. Both sides score the same generated QA pairs (generated
once, before timing) with the same loaded model and thread count, alternating document by document,
and the script checks that they return the same scores.

Summaries: each CNN/DM test article's reference and, standing in for sampled candidates (which need
a trained summarizer), six three-sentence windows of the article (sentences 1-3, 2-4, ...): real
text of candidate length, so the QA pairs and the document are as in a selection run.

    OMP_NUM_THREADS=1 python benchmarks/selection_scoring.py --documents 6
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import time
from pathlib import Path

from quals.metrics.quals import QUALS

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "cnndm_test.jsonl.gz"
CANDIDATES = 6


def _summaries(row: dict) -> list[str]:
    sentences = [s for s in row["document"].split(" . ") if s.strip()]
    windows = [" . ".join(sentences[i:i + 3]) + " ." for i in range(CANDIDATES)]
    return [row["summary"], *windows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA,
                        help="CNN/DM JSONL(.gz) with document and summary (the reference)")
    parser.add_argument("--documents", type=int, default=6, help="first N articles")
    parser.add_argument("--model", default="packaged:smollm2-135m-qagen")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args(argv)

    with gzip.open(args.data, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for _, line in zip(range(args.documents), handle, strict=False)]
    scorer = QUALS(args.model, cache_generations=False)
    seconds = {"one call per summary": 0.0, "one call per document": 0.0}
    generation_s, n_pairs, worst = 0.0, 0, 0.0
    for row in rows:
        summaries = _summaries(row)
        documents = [row["document"]] * len(summaries)
        start = time.perf_counter()
        generated = scorer.generate(summaries)
        generation_s += time.perf_counter() - start
        start = time.perf_counter()
        alone = [scorer._score_generated([d], [s], [g])[0] for d, s, g in zip(documents, summaries, generated,
                                                                                  strict=True)]
        seconds["one call per summary"] += time.perf_counter() - start
        start = time.perf_counter()
        together = scorer._score_generated(documents, summaries, generated)
        seconds["one call per document"] += time.perf_counter() - start
        for a, b in zip(alone, together, strict=True):
            n_pairs += len(a.pairs)
            if a.score is not None:
                worst = max(worst, abs(a.score - b.score))
            elif b.score is not None:
                raise SystemExit("the two ways disagree on which summaries have a score")
    n_summaries = len(rows) * (CANDIDATES + 1)
    result = {
        "documents": len(rows), "summaries": n_summaries, "qa_pairs_scored": n_pairs,
        "generation_s_per_summary": generation_s / n_summaries,
        **{f"scoring_s_per_summary, {k}": v / n_summaries for k, v in seconds.items()},
        "scoring speed-up": seconds["one call per summary"] / seconds["one call per document"],
        "whole-score speed-up": (generation_s + seconds["one call per summary"])
        / (generation_s + seconds["one call per document"]),
        "largest score difference": worst,
    }
    for key, value in result.items():
        print(f"{key:45s} {value:.6g}" if isinstance(value, float) and not math.isnan(value) else f"{key:45s} {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
