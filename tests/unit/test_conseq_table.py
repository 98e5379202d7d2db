"""reproduce/conseq_table.py: evaluation runs over the same systems joined into one table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "reproduce" / "conseq_table.py"
spec = importlib.util.spec_from_file_location("conseq_table", SCRIPT)
table_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(table_tool)


def _results(columns, systems):
    return {"columns": columns, "systems": [
        {"name": name, "n_rows": rows, "n_errors": errors, "means": means,
         "comparison": {c: {"delta": d, "p_value": p} for c, (d, p) in comparison.items()}}
        for name, rows, errors, means, comparison in systems]}


def test_runs_join_column_by_column_with_their_labels_and_row_counts():
    base = _results(["rouge1", "quals"], [("mle", 300, 0, {"rouge1": 0.35, "quals": -0.5}, {}),
                                          ("conseq", 300, 2, {"rouge1": 0.34, "quals": -0.4},
                                           {"rouge1": (-0.01, 0.2), "quals": (0.1, 0.02)})])
    paper = _results(["quals"], [("mle", 100, 0, {"quals": -1.2}, {}),
                                 ("conseq", 100, 0, {"quals": -1.25}, {"quals": (-0.05, 0.5)})])
    lines = table_tool.merged_table([(None, base), ("paper", paper)]).splitlines()
    assert lines[0] == "| system | rows | ROUGE-1 | QUALS | rows (paper) | QUALS (paper) |"
    assert lines[2] == "| mle | 300 | 35.00 | -0.5000 | 100 | -1.2000 |"
    assert lines[3] == "| conseq | 298 | 34.00 (-1.00, p=0.200) | -0.4000 (+0.1000, p=0.020) | 100 | " \
                       "-1.2500 (-0.0500, p=0.500) |"


def test_runs_over_other_systems_are_refused():
    one = _results(["quals"], [("mle", 1, 0, {"quals": -1.0}, {})])
    other = _results(["quals"], [("conseq", 1, 0, {"quals": -1.0}, {})])
    with pytest.raises(ValueError, match="other systems"):
        table_tool.merged_table([(None, one), ("x", other)])
