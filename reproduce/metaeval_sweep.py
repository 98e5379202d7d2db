"""Compare QUALS settings on the same benchmark rows, from finished ``quals meta-eval`` folders.

Each folder holds one setting's ``scores/<dataset>/quals*.jsonl``; the comparison keeps, per
dataset, the test rows that every folder scored (nulls included, so coverage counts), and reports
per setting: rows with a score, QA pairs kept per summary (the yield; a null row keeps none),
Pearson and Spearman (95% bootstrap CI) on the rows that setting scored, Spearman of this
setting and of the first one on the rows both scored (like for like), and the difference of the two
with a paired bootstrap interval (rows resampled together, so both settings see the same
resamples): an interval that covers 0 means the data cannot tell the two settings apart. Where the
rows come from several systems (FRANK), the same for the partial Spearman by system (FRANK's
protocol, which removes differences between systems that inflate plain correlations). A trained
QAGen is compared with another the same way: one folder per model.

    python reproduce/metaeval_sweep.py NAME=DIR [NAME=DIR ...] --bench ../shared/data/bench -o sweep.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from quals.data.benchmarks import benchmark_files, read_benchmark
from quals.evaluation.agreement import agreement, common_rows
from quals.evaluation.metaeval import read_values
from quals.evaluation.statistics import bootstrap_interval, correlation, partial_correlation


def _fmt(estimate) -> str:
    return f"{estimate.value:.3f} [{estimate.low:.2f}, {estimate.high:.2f}]"


def paired_difference(statistic_of, this: list[float], first: list[float], human: list[float], *extra,
                      seed: int) -> str:
    """statistic_of(this) - statistic_of(first) against ``human``, with a paired percentile bootstrap
    95% CI (rows, and any ``extra`` columns such as systems, resampled together)."""
    def statistic(a, b, h, *rest):
        return statistic_of(a, h, *rest) - statistic_of(b, h, *rest)

    low, high = bootstrap_interval(statistic, this, first, human, *extra, seed=seed)
    return f"{statistic(this, first, human, *extra):+.3f} [{low:+.2f}, {high:+.2f}]"


def _spearman(a, h):
    return correlation(a, h, "spearman")


def _partial_spearman(a, h, systems):
    return partial_correlation(a, h, systems, "spearman")


def kept_pairs(scores_path: Path) -> dict[str, int]:
    """Row id -> QA pairs that passed the filter (``n_pairs`` of the details; 0 for failed rows)."""
    kept = {}
    with open(scores_path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            kept[record["id"]] = int(record.get("n_pairs") or 0)
    return kept


def scores_file(folder: Path) -> Path | None:
    """The full run's ``quals.jsonl`` when there is one, else a row-limited ``quals.<subset>.jsonl``."""
    if (folder / "quals.jsonl").is_file():
        return folder / "quals.jsonl"
    files = sorted(folder.glob("quals.*.jsonl"))
    return files[0] if files else None


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
    lines = ["| dataset | setting | shared test rows | scored | pairs kept / summary | Pearson [95% CI] | "
             "Spearman [95% CI] | "
             "Spearman on rows scored by this and the first setting: this / first | difference [paired 95% CI] | "
             "partial Spearman by system on those rows: this / first, difference [paired 95% CI] |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for dataset, rows in rows_by_dataset.items():
        values, pairs = {}, {}
        for name, folder in folders.items():
            path = scores_file(Path(folder) / "scores" / dataset)
            if path is not None:
                values[name] = read_values(path, "quals")
                pairs[name] = kept_pairs(path)
        if len(values) != len(folders):
            continue
        shared = set.intersection(*({i for i in v} for v in values.values()))
        members = [r for r in rows if r.id in shared and r.split == "test"]
        if not members:
            continue
        restricted = {n: {i: v for i, v in vals.items() if i in shared} for n, vals in values.items()}
        first = next(iter(restricted))
        for name, vals in restricted.items():
            own = agreement(name, dataset, members, vals, seed=args.seed)
            pair = {n: restricted[n] for n in (first, name)}
            both = common_rows(members, pair)
            like = [agreement(n, dataset, [r for r in members if r.id in both],
                              {i: v for i, v in pair[n].items() if i in both}, seed=args.seed) for n in (name, first)]
            yield_ = sum(pairs[name][r.id] for r in members) / max(len(members), 1)
            paired = [r for r in members if r.id in both]
            columns = ([pair[name][r.id].value for r in paired], [pair[first][r.id].value for r in paired],
                       [r.score for r in paired])
            systems = [r.model_name or "" for r in paired]
            difference = partial = ""
            if name != first:
                difference = paired_difference(_spearman, *columns, seed=args.seed)
                if len(set(systems)) > 1:
                    partial = (f"{_partial_spearman(columns[0], columns[2], systems):.3f} / "
                               f"{_partial_spearman(columns[1], columns[2], systems):.3f}, "
                               + paired_difference(_partial_spearman, *columns, systems, seed=args.seed))
            lines.append(f"| {dataset} | {name} | {own.n_test} | {own.n_scored} | {yield_:.2f} | "
                         f"{_fmt(own.correlations['pearson'])} | "
                         f"{_fmt(own.correlations['spearman'])} | {like[0].correlations['spearman'].value:.3f} / "
                         f"{like[1].correlations['spearman'].value:.3f} (n={like[0].n_scored}) | {difference} | "
                         f"{partial} |")
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
