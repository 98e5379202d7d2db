"""Compare QUALS settings on the same benchmark rows, from finished ``quals meta-eval`` folders.

Each folder holds one setting's ``scores/<dataset>/quals*.jsonl``; the comparison keeps, per
dataset, the test rows that every folder scored (nulls included, so coverage counts), and reports
per setting: rows with a score, Pearson and Spearman (95% bootstrap CI) on the rows that setting
scored, and Spearman of this setting and of the first one on the rows both scored (like for like).

    python reproduce/metaeval_sweep.py NAME=DIR [NAME=DIR ...] --bench ../shared/data/bench -o sweep.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from quals.data.benchmarks import benchmark_files, read_benchmark
from quals.evaluation.agreement import agreement, common_rows
from quals.evaluation.metaeval import read_values


def _fmt(estimate) -> str:
    return f"{estimate.value:.3f} [{estimate.low:.2f}, {estimate.high:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="+", help="NAME=DIR: a meta-eval output folder per setting.")
    parser.add_argument("--bench", type=Path, default=Path("../shared/data/bench"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    folders = dict(item.split("=", 1) for item in args.settings)
    rows_by_dataset = {}
    for path in benchmark_files([args.bench]):
        for row in read_benchmark(path):
            rows_by_dataset.setdefault(row.dataset, []).append(row)
    lines = ["| dataset | setting | shared test rows | scored | Pearson [95% CI] | Spearman [95% CI] | "
             "Spearman on rows scored by this and the first setting: this / first |", "|---|---|---|---|---|---|---|"]
    for dataset, rows in rows_by_dataset.items():
        values = {}
        for name, folder in folders.items():
            files = sorted((Path(folder) / "scores" / dataset).glob("quals*.jsonl"))
            if files:
                values[name] = read_values(files[0], "quals")
        if len(values) != len(folders):
            continue
        shared = set.intersection(*({i for i in v} for v in values.values()))
        members = [r for r in rows if r.id in shared and r.split == "test"]
        restricted = {n: {i: v for i, v in vals.items() if i in shared} for n, vals in values.items()}
        first = next(iter(restricted))
        for name, vals in restricted.items():
            own = agreement(name, dataset, members, vals, seed=args.seed)
            pair = {n: restricted[n] for n in (first, name)}
            both = common_rows(members, pair)
            like = [agreement(n, dataset, [r for r in members if r.id in both],
                              {i: v for i, v in pair[n].items() if i in both}, seed=args.seed) for n in (name, first)]
            lines.append(f"| {dataset} | {name} | {own.n_test} | {own.n_scored} | {_fmt(own.correlations['pearson'])} | "
                         f"{_fmt(own.correlations['spearman'])} | {like[0].correlations['spearman'].value:.3f} / "
                         f"{like[1].correlations['spearman'].value:.3f} (n={like[0].n_scored}) |")
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
