"""What ``--dtype int8`` (dynamic int8 quantisation, CPU) does to QUALS: speed and scores, one run.

A float32 and an int8 QUALS (defaults otherwise, nothing cached) score the same rows of the
human-annotated benchmarks (default: the first 20 of QAGS-X and of QAGS-C), alternating chunk by
chunk so that machine load hits both alike. Printed: seconds per summary of each and their ratio,
the largest and mean absolute score difference, how often the two agree on a null score, how many
summaries get the same hypotheses, and each one's correlation with the human scores.

    OMP_NUM_THREADS=1 python benchmarks/int8_effect.py --json int8.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from scipy import stats

from quals import QUALS
from quals.data.benchmarks import read_benchmark

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bench"
DTYPES = ("float32", "int8")


def _correlations(scores: list, human: list) -> dict:
    paired = [(s, h) for s, h in zip(scores, human, strict=True) if s is not None]
    if len(paired) < 3:
        return {"n": len(paired)}
    metric, people = zip(*paired, strict=True)
    return {"n": len(paired), "pearson": float(stats.pearsonr(metric, people)[0]),
            "spearman": float(stats.spearmanr(metric, people)[0])}


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    rows = [row for name, n in (("qags_xsum", args.n_xsum), ("qags_cnndm", args.n_cnndm))
            for row in read_benchmark(args.data_dir / f"{name}.jsonl")[:n]]
    kwargs = {"model": args.model} if args.model else {}
    scorers = {d: QUALS(device="cpu", dtype=d, cache_generations=False, **kwargs) for d in DTYPES}
    for scorer in scorers.values():  # warm-up, not timed
        scorer.score(["The mayor opened the new bridge on Friday."], ["The mayor opened a bridge."])
    seconds = dict.fromkeys(DTYPES, 0.0)
    examples: dict[str, list] = {d: [] for d in DTYPES}
    hypotheses: dict[str, list] = {d: [] for d in DTYPES}
    for first in range(0, len(rows), args.chunk_size):
        chunk = rows[first:first + args.chunk_size]
        for dtype, scorer in scorers.items():
            start = time.perf_counter()
            generated = scorer.generate([r.summary for r in chunk])
            examples[dtype].extend(scorer._score_generated([r.document for r in chunk], [r.summary for r in chunk],
                                                           generated))
            seconds[dtype] += time.perf_counter() - start
            hypotheses[dtype].extend([h.hypothesis.token_ids for h in hyps] for hyps in generated)
        print(f"  {len(examples['int8'])}/{len(rows)}: " + ", ".join(f"{d} {s:.1f} s" for d, s in seconds.items()),
              flush=True)
    full, int8 = ([e.score for e in examples[d]] for d in DTYPES)
    both = [abs(a - b) for a, b in zip(full, int8, strict=True) if a is not None and b is not None]
    human = [r.score for r in rows]
    return {
        "rows": len(rows), "settings": {k: str(v) for k, v in vars(args).items()},
        "seconds_per_summary": {d: s / len(rows) for d, s in seconds.items()},
        "speedup_int8": seconds["float32"] / seconds["int8"],
        "max_abs_score_difference": max(both, default=None),
        "mean_abs_score_difference": sum(both) / len(both) if both else None,
        "rows_scored_by_both": len(both),
        "null_agreement": sum((a is None) == (b is None) for a, b in zip(full, int8, strict=True)),
        "rows_with_identical_hypotheses": sum(a == b for a, b in zip(*hypotheses.values(), strict=True)),
        "correlation_with_humans": {d: _correlations([e.score for e in examples[d]], human) for d in DTYPES},
        "signatures": {d: s.signature for d, s in scorers.items()},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--n-xsum", type=int, default=20)
    parser.add_argument("--n-cnndm", type=int, default=20)
    parser.add_argument("--chunk-size", type=int, default=16)
    parser.add_argument("--model", default=None, help="QAGen (default: QUALS's default).")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    report = run(args)
    print(json.dumps({k: v for k, v in report.items() if k not in ("settings", "signatures")}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
