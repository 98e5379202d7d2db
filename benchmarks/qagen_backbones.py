"""QUALS cost per summary for several QAGens, side by side in one run (the backbone comparison).

Every model scores the same summaries (default: the first 10 rows of QAGS-C and of QAGS-X) with
the same QUALS settings (the defaults unless flags say otherwise), device, threads and batch size.
All models stay loaded and take turns chunk by chunk, so a change in machine load hits them alike;
nothing is cached (``cache_generations=False``). Printed per model: seconds per summary, the ratio
to the first model, QA pairs kept per summary and rows without a score. Speed only: agreement with
people comes from ``quals meta-eval``.

Run: ``OMP_NUM_THREADS=1 python benchmarks/qagen_backbones.py packaged:smollm2-135m-qagen
packaged:gemma3-270m-qagen --device cpu``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from quals import QUALS, QAGen
from quals.data.benchmarks import read_benchmark
from quals.provenance import versions

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bench"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="QAGens to compare: hub ids, directories or packaged:NAME.")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--per-dataset", type=int, default=10, help="First N rows of QAGS-C and QAGS-X (default: 10).")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--chunk-size", type=int, default=4, help="Summaries per score() call and per turn.")
    parser.add_argument("--num-groups", type=int, default=None, help="QUALS diversity groups (default: QUALS's).")
    parser.add_argument("--json", type=Path, default=None, help="Also write all numbers here.")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    rows = [r for name in ("qags_cnndm", "qags_xsum")
            for r in list(read_benchmark(args.data_dir / f"{name}.jsonl"))[:args.per_dataset]]
    settings = {"cache_generations": False} | ({"num_groups": args.num_groups} if args.num_groups else {})
    scorers = {}
    for model in args.models:
        qagen = QAGen(model, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
        scorers[model] = QUALS(qagen=qagen, **settings)
        scorers[model].score(["The mayor opened the new bridge in Leeds on Friday."], ["The mayor opened a bridge."])
    seconds = dict.fromkeys(args.models, 0.0)
    pairs = dict.fromkeys(args.models, 0)
    nulls = dict.fromkeys(args.models, 0)
    for start in range(0, len(rows), args.chunk_size):
        chunk = rows[start:start + args.chunk_size]
        for model, scorer in scorers.items():  # take turns: load changes hit every model alike
            began = time.perf_counter()
            result = scorer.score([r.document for r in chunk], [r.summary for r in chunk])
            seconds[model] += time.perf_counter() - began
            pairs[model] += sum(len(e.pairs) for e in result.examples)
            nulls[model] += sum(e.score is None for e in result.examples)
    n = len(rows)
    first = args.models[0]
    return {
        "rows": n, "settings": settings, "device": args.device, "threads": torch.get_num_threads(),
        "versions": versions(),
        "models": {m: {"fingerprint": scorers[m].qagen.info.fingerprint, "seconds_per_summary": seconds[m] / n,
                       "ratio_to_first": seconds[m] / seconds[first], "pairs_per_summary": pairs[m] / n,
                       "null_rows": nulls[m]} for m in args.models},
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    report = run(args)
    print(f"{report['rows']} summaries (QAGS-C + QAGS-X), {report['device']}, {report['threads']} threads, "
          f"QUALS settings {report['settings']}")
    print(f"{'model':40} {'s/summary':>10} {'x first':>8} {'pairs/summary':>14} {'null':>5}")
    for model, m in report["models"].items():
        print(f"{model:40} {m['seconds_per_summary']:10.2f} {m['ratio_to_first']:8.2f} "
              f"{m['pairs_per_summary']:14.2f} {m['null_rows']:5d}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
