"""Effect of ``answer_constraint='summary_span'`` on QUALS: yield, speed, agreement with humans.

Both settings run in the same process on the same seeded rows of the human-annotated benchmarks,
with the same loaded model, so time ratios and correlations are side by side. Generations go
through the QA cache, so an interrupted run resumes without decoding again (timings of cached rows
are then not comparable: pass --no-cache for a clean timing run).

    python benchmarks/answer_constraint.py --per-dataset 40 --seed 0
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from scipy import stats

from quals import QAGen
from quals.data.benchmarks import BenchmarkRow, read_benchmark
from quals.metrics.quals import QUALS

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bench"


def _rows(path: Path, n: int, seed: int) -> list[BenchmarkRow]:
    rows = read_benchmark(path)
    return random.Random(seed).sample(rows, min(n, len(rows)))


def _measure(scorer: QUALS, rows: list[BenchmarkRow]) -> dict:
    start = time.perf_counter()
    generated = scorer.generate([r.summary for r in rows])
    generation_s = time.perf_counter() - start
    examples = scorer._score_generated([r.document for r in rows], [r.summary for r in rows], generated)
    total_s = time.perf_counter() - start
    hyps = sum(e.n_generated for e in examples)
    paired = [(e.score, r.score) for e, r in zip(examples, rows, strict=True) if e.score is not None]
    out = {
        "rows": len(rows),
        "null_share": sum(e.score is None for e in examples) / len(rows),
        "kept_pairs_per_summary": sum(len(e.pairs) for e in examples) / len(rows),
        "well_formed_share": sum(e.n_well_formed for e in examples) / max(hyps, 1),
        "in_summary_share": sum(e.n_in_summary for e in examples) / max(hyps, 1),
        "generation_s_per_summary": generation_s / len(rows),
        "total_s_per_summary": total_s / len(rows),
        "scores": [e.score for e in examples],
    }
    if len(paired) > 2:
        metric, human = zip(*paired, strict=True)
        out["pearson"] = float(stats.pearsonr(metric, human)[0])
        out["spearman"] = float(stats.spearmanr(metric, human)[0])
        out["n_correlated"] = len(paired)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--datasets", default="qags_cnndm,qags_xsum")
    parser.add_argument("--per-dataset", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-groups", type=int, default=60)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default=None,
                        help="QAGen (default: the packaged base model, with which the documented numbers were "
                             "measured; packaged:smollm2-135m-qagen for the shipped adapter).")
    parser.add_argument("--cache", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--json", type=Path, default=None, help="Write every number here.")
    args = parser.parse_args()
    from quals.models.packaged import DEFAULT_BASE_MODEL

    qagen = QAGen(args.model or DEFAULT_BASE_MODEL, device=args.device)
    report: dict = {"settings": vars(args) | {"data": str(args.data), "json": str(args.json)},
                    "signature": {}, "results": {}}
    for dataset in args.datasets.split(","):
        rows = _rows(args.data / f"{dataset}.jsonl", args.per_dataset, args.seed)
        for constraint in ("none", "summary_span"):
            scorer = QUALS(qagen=qagen, answer_constraint=constraint, num_groups=args.num_groups,
                           cache_generations=args.cache)
            report["signature"][constraint] = scorer.signature
            result = _measure(scorer, rows)
            report["results"][f"{dataset}/{constraint}"] = result
            shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.items() if k != "scores"}
            print(f"{dataset:<11} {constraint:<13} {shown}", flush=True)
    print("\n| dataset | constraint | null share | kept pairs / summary | answers in summary | s / summary "
          "| Pearson | Spearman |\n|---|---|---:|---:|---:|---:|---:|---:|")
    for key, r in report["results"].items():
        dataset, constraint = key.split("/")
        print(f"| {dataset} | {constraint} | {r['null_share']:.2f} | {r['kept_pairs_per_summary']:.1f} | "
              f"{r['in_summary_share']:.2f} | {r['total_s_per_summary']:.1f} | {r.get('pearson', float('nan')):.3f} | "
              f"{r.get('spearman', float('nan')):.3f} |")
    for dataset in args.datasets.split(","):
        none, span = report["results"][f"{dataset}/none"], report["results"][f"{dataset}/summary_span"]
        print(f"{dataset}: time ratio summary_span / none = "
              f"{span['total_s_per_summary'] / none['total_s_per_summary']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
