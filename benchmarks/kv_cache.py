"""QA generation with transformers' DynamicCache vs quals' GrowingCache, side by side.

Generates QUALS's QA pairs (default settings, nothing cached) for the same summaries with each
cache, alternating for ``--rounds`` rounds in one process on one loaded model, and prints seconds
per summary, the speed ratio and whether the hypotheses (tokens, log-probs, beam scores) are
identical. The summaries are CNN/DM references of the test file (lowercased highlights, ~55
words) or, with ``--candidates``, one document's reference and candidates of a ``conseq
candidates`` file (the ConSeq selection workload).

    OMP_NUM_THREADS=1 python benchmarks/kv_cache.py --n 7 --rounds 2
    OMP_NUM_THREADS=1 python benchmarks/kv_cache.py --candidates WORK/candidates.jsonl --row 150
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

from transformers.cache_utils import DynamicCache

import quals.models.backbone as backbone_module
from quals.metrics.quals import QUALS
from quals.models.kv_cache import GrowingCache

TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "train" / "cnndm_test.jsonl.gz"
CACHES = {"DynamicCache": DynamicCache, "GrowingCache": GrowingCache}


def _summaries(args: argparse.Namespace) -> list[str]:
    if args.candidates:
        row = json.loads(Path(args.candidates).read_text(encoding="utf-8").splitlines()[args.row])
        return [row["reference"], *row["candidates"]]
    with gzip.open(args.test, "rt", encoding="utf-8") as handle:
        return [json.loads(line)["summary"] for _, line in zip(range(args.n), handle, strict=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="packaged:smollm2-135m-qagen")
    parser.add_argument("--test", type=Path, default=TEST, help="CNN/DM test file (summary field)")
    parser.add_argument("--n", type=int, default=7, help="summaries from --test")
    parser.add_argument("--candidates", help="a conseq candidates file instead of --test")
    parser.add_argument("--row", type=int, default=0, help="the candidates file's row")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    summaries = _summaries(args)
    scorer = QUALS(args.model, device="cpu", dtype="float32", cache_generations=False)
    seconds: dict[str, list[float]] = {name: [] for name in CACHES}
    results: dict[str, list] = {}
    for round_ in range(args.rounds):
        for name, cache in (CACHES.items() if round_ % 2 == 0 else reversed(CACHES.items())):
            backbone_module.GrowingCache = cache  # the name Backbone builds its caches from
            start = time.perf_counter()
            hyps = scorer.generate(summaries)
            seconds[name].append(time.perf_counter() - start)
            results.setdefault(name, hyps)
            print(f"round {round_} {name}: {seconds[name][-1] / len(summaries):.2f} s per summary", flush=True)
    backbone_module.GrowingCache = GrowingCache
    per = {name: sum(values) / len(values) / len(summaries) for name, values in seconds.items()}
    print(json.dumps({
        "summaries": len(summaries), "rounds": args.rounds,
        "s_per_summary": per, "speedup": per["DynamicCache"] / per["GrowingCache"],
        "identical_hypotheses": results["DynamicCache"] == results["GrowingCache"],
    }, indent=2))


if __name__ == "__main__":
    main()
