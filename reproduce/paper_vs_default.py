"""QUALS ``--preset paper`` against the default, paired on the rows both scored.

    python reproduce/paper_vs_default.py runs/meta-eval/paper \\
        --default docs/results/agreement-g60-summary_span/rows.jsonl.gz \\
        --default docs/results/agreement-g60-summary_span/confirm_rows.jsonl.gz \\
        --rows docs/results/meta-eval/paper_preset_rows.jsonl.gz

RUN_DIR is the ``paper`` run of reproduce/metaeval_runs.sh (``scores/<dataset>/quals.jsonl``:
QAGS-C and QAGS-X in full, FRANK test). The default's side comes from the per-row files the
aggregation study committed (``aggregation_sweep.py --rows``), so the default is not scored again.
Prints one table row per set (Spearman; partial Spearman by system on FRANK) with the paired
bootstrap 95% interval of paper minus default; ``--rows`` writes the paper preset's per-row scores
in the same committed format.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from aggregation_sweep import load_sets  # noqa: E402  (a sibling script, not a package)

from quals.evaluation.sweep import PAPER_AGGREGATION, compare_with, read_row_scores, write_row_scores  # noqa: E402

SETS = {"qags_cnndm": ("quals.jsonl", "test", False), "qags_xsum": ("quals.jsonl", "test", False),
        "frank": ("quals.jsonl", "test", True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--bench", type=Path, default=Path("../shared/data/bench"))
    parser.add_argument("--default", action="append", required=True, metavar="ROWS.jsonl.gz",
                        help="The default's committed per-row scores (repeatable: dev and held-out rows).")
    parser.add_argument("--setting", default=PAPER_AGGREGATION.name,
                        help="The default's setting in those files [%(default)s].")
    parser.add_argument("--rows", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    present = {k: v for k, v in SETS.items() if (args.run / "scores" / k / v[0]).exists()}
    sets = load_sets(args.run, args.bench, present)
    label = f"default {args.setting}"
    default: dict[str, dict[str, float | None]] = {}
    for path in args.default:
        for dataset, metrics in read_row_scores(path, "default").items():
            default.setdefault(dataset, {}).update(metrics.get(label, {}))
    print("| set | rows | paper preset | default | paper minus default [paired 95% CI] |")
    print("|---|---:|---:|---:|---|")
    for dev in sets:
        # The paper preset's own aggregation is PAPER_AGGREGATION: its values are the recorded scores.
        c = compare_with(dev, PAPER_AGGREGATION, label, default.get(dev.name.split("/")[0], {}), seed=args.seed)
        print(f"| {dev.name} ({dev.statistic}) | {c.n} | {c.setting_statistic:.3f} | {c.metric_statistic:.3f} | "
              f"{c.difference:+.3f} [{c.interval[0]:+.2f}, {c.interval[1]:+.2f}] |")
    if args.rows:
        write_row_scores(sets, [PAPER_AGGREGATION], args.rows)


if __name__ == "__main__":
    main()
