"""One table of several ``quals evaluate-summaries`` runs over the same systems.

The ConSeq evaluation is three runs (every metric with the QUALS default; QUALS with the paper
preset; QAGS on a seeded subset), because one run scores QUALS with one setting and the subset has
its own test file. This joins their ``results.json`` column by column; a run given as
``LABEL=DIR`` has its columns named ``METRIC (LABEL)`` and its rows counted separately.

    python reproduce/conseq_table.py WORK/eval paper=WORK/eval-paper qags100=WORK/eval-qags -o table.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from quals.evaluation.summaries import COLUMNS, TABLE_NOTES, format_cell


def _runs(specs: list[str]) -> list[tuple[str | None, dict]]:
    runs = []
    for spec in specs:
        label, _, directory = spec.rpartition("=") if "=" in spec else (None, "", spec)
        runs.append((label or None, json.loads((Path(directory) / "results.json").read_text())))
    return runs


def merged_table(runs: list[tuple[str | None, dict]]) -> str:
    names = [system["name"] for system in runs[0][1]["systems"]]
    for label, results in runs[1:]:
        if [system["name"] for system in results["systems"]] != names:
            raise ValueError(f"run {label!r} compares other systems than the first run: {names}")
    head, counts = ["system"], []
    for label, results in runs:
        counts.append(f"rows ({label})" if label else "rows")
        head += [counts[-1], *(f"{COLUMNS[c]} ({label})" if label else COLUMNS[c] for c in results["columns"])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for index, name in enumerate(names):
        cells = [name]
        for _, results in runs:
            system = results["systems"][index]
            cells.append(str(system["n_rows"] - system["n_errors"]))
            for column in results["columns"]:
                test = system["comparison"].get(column)
                cells.append(format_cell(column, system["means"].get(column), test and test["delta"],
                                         test and test["p_value"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + TABLE_NOTES + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="Output directories of evaluate-summaries, as DIR or LABEL=DIR.")
    parser.add_argument("-o", "--output", type=Path, default=None, help="Also write the table here.")
    args = parser.parse_args(argv)
    table = merged_table(_runs(args.runs))
    if args.output:
        args.output.write_text(table)
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
