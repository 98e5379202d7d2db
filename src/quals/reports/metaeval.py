"""Render a meta-evaluation: Markdown tables and a scatter plot per (dataset, metric)."""

from __future__ import annotations

import math
from pathlib import Path

from quals.evaluation.benchmark_summary import PROTOCOL


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _est(estimate) -> str:
    if estimate is None:
        return ""
    return f"{_num(estimate.value)} [{_num(estimate.low, 2)}, {_num(estimate.high, 2)}]"


def _row(a) -> str:
    nulls = ", ".join(f"{n} {reason}" for reason, n in a.null_reasons.items()) or "0"
    partial = (f"{_num(a.partial['pearson'].value)} / {_num(a.partial['spearman'].value)}"
               if a.partial else "")
    bacc = "" if a.balanced_accuracy is None else f"{_num(a.balanced_accuracy)} (t={_num(a.threshold, 3)})"
    correlations = " | ".join(_est(a.correlations.get(m)) for m in ("pearson", "spearman", "kendall"))
    return (f"| {a.metric} | {a.n_scored}/{a.n_test} | {nulls} | {correlations} | {partial} | "
            f"{_num(a.roc_auc)} | {bacc} |")


def _not_computed(agreements) -> list[str]:
    """Which statistics a group's table leaves empty, for which metrics, and why."""
    missing: dict[tuple[str, str], list[str]] = {}
    for a in agreements:
        gaps = [("correlations", a.correlation_note)] if not a.correlations else []
        undefined = "undefined on these rows (one label only)"
        if a.roc_auc is None:
            gaps.append(("ROC-AUC", a.note or undefined))
        if a.balanced_accuracy is None:
            gaps.append(("balanced accuracy", a.note or undefined))
        for statistic, reason in gaps:
            missing.setdefault((statistic, reason or "not recorded"), []).append(a.metric)
    metrics = list(dict.fromkeys(a.metric for a in agreements))
    return [f"- Not computed: {statistic} for "
            f"{'every metric' if names == metrics and len(names) > 1 else ', '.join(names)} ({reason})."
            for (statistic, reason), names in missing.items()]


def _splits_table(splits) -> list[str]:
    lines = ["## Rows", "", "Rows per split as the files name it, the split it was used as, and the rows "
             "selected (a split `--limit` does not name keeps all its rows; 0 skips it).", "",
             "| dataset | split in the file | used as | rows | selected |", "|---|---|---|---:|---:|"]
    lines += [f"| {s.dataset} | {s.split} | {s.role or 'not used (unknown split name)'} | {s.rows} | {s.selected} |"
              for s in splits]
    return lines


def _summary_table(summary) -> list[str]:
    """Balanced accuracy / ROC-AUC per dataset and their means, one row per metric."""
    if not summary.metrics:
        return []
    lines = ["", "## Benchmark summary", "",
             f"Balanced accuracy / ROC-AUC per dataset: {PROTOCOL} (how many when not all). n/a: not computed "
             "(the tables below say why).", "",
             "| metric | " + " | ".join(summary.datasets) + " | mean |",
             "|---|" + "---|" * (len(summary.datasets) + 1)]
    total = len(summary.datasets)
    for m in summary.metrics:
        cells = [f"{_num(s.balanced_accuracy)} / {_num(s.roc_auc)}" if (s := m.per_dataset.get(d)) else ""
                 for d in summary.datasets]
        mean = (f"{_num(m.mean_balanced_accuracy)}{_of(m.n_balanced_accuracy, total)} / "
                f"{_num(m.mean_roc_auc)}{_of(m.n_roc_auc, total)}")
        lines.append(f"| {m.metric} | " + " | ".join(cells) + f" | {mean} |")
    return lines


def _of(n: int, total: int) -> str:
    return "" if n in (0, total) else f" ({n} of {total})"


_HEADER = ("| metric | scored/test rows | null (why) | Pearson [95% CI] | Spearman [95% CI] | "
           "Kendall [95% CI] | partial P / S (by system) | ROC-AUC | bal. acc. (valid threshold) |\n"
           "|---|---|---|---|---|---|---|---|---|")


def render_markdown(result) -> str:
    """Tables per group of rows, then the like-for-like tables on rows every metric scored."""
    lines = ["# Meta-evaluation: agreement with human judgments", "",
             f"Seed {result.config.seed}, {result.config.n_resamples} bootstrap resamples (percentile "
             "95% intervals). Statistics on the `test` split; thresholds chosen on `valid`. Null rows "
             "(no score) are excluded and counted.", "",
             "Correlations use the human `score`, ROC-AUC and balanced accuracy the binary `label`; a statistic "
             "whose judgment a dataset lacks is not computed, and the notes under its table say so.", ""]
    if result.config.limits:
        lines += [f"Rows per split: {result.config.limits} (seeded subset)."]
    if result.config.scorer_limits:
        lines += [f"Smaller nested subsets: {result.config.scorer_limits} rows per split."]
    if result.incomplete:
        lines += ["", "**Incomplete (report-only run; these score files were not complete):** "
                  + "; ".join(f"{i.name} {i.scored_rows} of {i.selected_rows} rows" for i in result.incomplete)
                  + ". Rows not yet scored are left out of these statistics."]
    if result.splits:
        lines += ([] if lines[-1] == "" else [""]) + _splits_table(result.splits)
    lines += ["", "## Settings", ""]
    for run in result.runs:
        lines.append(f"- **{run.scorer}**: `{run.signature}`")
    lines += _summary_table(result.summary)
    for title, agreements in (("", result.agreements), (" (rows every metric scored)", result.common)):
        for group in dict.fromkeys(a.group for a in agreements):
            members = [a for a in agreements if a.group == group]
            lines += ["", f"## {group}{title}", "", _HEADER]
            lines += [_row(a) for a in members]
            notes = _not_computed(members)
            lines += ["", *notes] if notes else []
    return "\n".join(lines) + "\n"


def plot_meta_eval(points, path: str | Path) -> None:
    """One scatter panel per (dataset, metric): metric score against the human score.

    ``points``: :class:`quals.evaluation.metaeval.ScatterPoints`, in (dataset, metric) order.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_panel = {(p.dataset, p.metric): p for p in points}
    datasets = list(dict.fromkeys(p.dataset for p in points))
    metrics = list(dict.fromkeys(p.metric for p in points))
    fig, axes = plt.subplots(len(datasets), len(metrics), figsize=(2.6 * len(metrics), 2.4 * len(datasets)),
                             squeeze=False)
    for i, dataset in enumerate(datasets):
        for j, metric in enumerate(metrics):
            ax = axes[i][j]
            panel = by_panel.get((dataset, metric))
            x, y = (panel.metric_scores, panel.human_scores) if panel else ((), ())
            ax.scatter(x, y, s=6, alpha=0.5)
            ax.set_title(f"{dataset}: {metric} (n={len(x)})", fontsize=8)
            ax.tick_params(labelsize=6)
            if j == 0:
                ax.set_ylabel(f"human {panel.human if panel else 'score'}", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
