"""Two metrics' agreement with people on the same rows, paired: A minus B with a bootstrap 95% CI.

    python reproduce/paired_rows.py "FactCC=RUN_DIR:factcc" \\
        "QUALS default=docs/results/agreement-g60-summary_span/rows.jsonl.gz:all/mean/mean/10" \\
        "QUALS default=docs/results/agreement-g60-summary_span/confirm_rows.jsonl.gz:all/mean/mean/10"

Each side is ``NAME=SOURCE[:LABEL]``, repeatable (the sources of one name are merged):

- a committed per-row file (``*.jsonl.gz``: dataset, id, score, optionally setting; as written by
  ``aggregation_sweep.py --rows`` or ``paper_vs_default.py --rows``); LABEL picks one setting of
  it (its ``setting`` field);
- a ``quals meta-eval -o`` directory; LABEL is the metric whose ``scores/<dataset>/LABEL.jsonl``
  is read.

The first name is A, the second B. Per dataset, on the test rows both scored (a row with an error
or no score on either side is left out and counted): Spearman, and on FRANK the partial Spearman
by system as FRANK computes it. ``--rows OUT.jsonl.gz`` writes A's per-row scores of a run
directory in the committed format.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from quals.data.benchmarks import benchmark_files, read_benchmark
from quals.evaluation.sweep import paired_rank_difference, read_row_scores

PARTIAL = {"frank"}  # rated per system: partial correlation controls for it, as FRANK does


def read_side(spec: str) -> tuple[str, dict[str, dict[str, float | None]]]:
    name, _, source = spec.partition("=")
    path, _, label = source.partition(":") if not Path(source).exists() else (source, "", "")
    out: dict[str, dict[str, float | None]] = defaultdict(dict)
    if Path(path).is_dir():
        for dataset_dir in sorted((Path(path) / "scores").iterdir()):
            scores = dataset_dir / f"{label}.jsonl"
            if scores.is_file():
                for line in scores.read_text(encoding="utf-8").splitlines(keepends=True):
                    if line.endswith("\n"):  # a line cut by a stopped run is not a row
                        record = json.loads(line)
                        out[dataset_dir.name][record["id"]] = None if record.get("error") else record.get("score")
    else:
        for dataset, labels in read_row_scores(path, name).items():
            chosen = labels.get(f"{name} {label}" if label else name)
            if chosen is None:
                raise SystemExit(f"{path}: no scores labelled {label or name!r} (it has {sorted(labels)})")
            out[dataset].update(chosen)
    return name, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sides", nargs="+", metavar="NAME=SOURCE[:LABEL]")
    parser.add_argument("--bench", type=Path, default=Path("../shared/data/bench"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=Path, default=None, help="Write A's per-row scores here (.jsonl.gz).")
    args = parser.parse_args()
    merged: dict[str, dict[str, dict[str, float | None]]] = {}
    for spec in args.sides:
        name, values = read_side(spec)
        side = merged.setdefault(name, defaultdict(dict))
        for dataset, scores in values.items():
            side[dataset].update(scores)
    if len(merged) != 2:
        raise SystemExit(f"give two names (A and B), got {sorted(merged)}")
    (name_a, a), (name_b, b) = merged.items()
    rows = {(r.dataset, r.id): r for path in benchmark_files([args.bench]) for r in read_benchmark(path)}
    print(f"| set | rows (both scored / left out) | {name_a} | {name_b} | A minus B [paired 95% CI] |")
    print("|---|---:|---:|---:|---|")
    for dataset in sorted(set(a) & set(b)):
        ids = sorted(i for i in set(a[dataset]) | set(b[dataset])
                     if (dataset, i) in rows and rows[(dataset, i)].split == args.split)
        both = [i for i in ids if a[dataset].get(i) is not None and b[dataset].get(i) is not None]
        if len(both) < 3:
            continue
        human = np.array([rows[(dataset, i)].score for i in both], dtype=float)
        systems = [rows[(dataset, i)].model_name or "" for i in both] if dataset in PARTIAL else None
        x, y, diff = paired_rank_difference(np.array([a[dataset][i] for i in both]),
                                            np.array([b[dataset][i] for i in both]), human, systems, seed=args.seed)
        low, high = np.nanpercentile(diff, [2.5, 97.5])
        statistic = "partial Spearman" if systems else "Spearman"
        print(f"| {dataset}/{args.split} ({statistic}) | {len(both)} / {len(ids) - len(both)} | {x:.3f} | {y:.3f} | "
              f"{x - y:+.3f} [{low:+.2f}, {high:+.2f}] |")
    if args.rows:
        lines = [json.dumps({"dataset": d, "split": rows[(d, i)].split, "id": i, "score": v})
                 for d in sorted(a) for i, v in a[d].items() if (d, i) in rows]
        args.rows.parent.mkdir(parents=True, exist_ok=True)
        with open(args.rows, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
            out.write(("\n".join(lines) + "\n").encode())


if __name__ == "__main__":
    main()
