"""Render a meta-evaluation: Markdown tables and a scatter plot per (dataset, metric)."""

from __future__ import annotations

import math
from pathlib import Path


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
    return (f"| {a.metric} | {a.n_scored}/{a.n_test} | {nulls} | {_est(a.correlations['pearson'])} | "
            f"{_est(a.correlations['spearman'])} | {_est(a.correlations['kendall'])} | {partial} | "
            f"{_num(a.roc_auc)} | {bacc} |")


_HEADER = ("| metric | scored/test rows | null (why) | Pearson [95% CI] | Spearman [95% CI] | "
           "Kendall [95% CI] | partial P / S (by system) | ROC-AUC | bal. acc. (valid threshold) |\n"
           "|---|---|---|---|---|---|---|---|---|")


def render_markdown(result) -> str:
    """Tables per group of rows, then the like-for-like tables on rows every metric scored."""
    lines = ["# Meta-evaluation: agreement with human judgments", "",
             f"Seed {result.config.seed}, {result.config.n_resamples} bootstrap resamples (percentile "
             "95% intervals). Statistics on the `test` split; thresholds chosen on `valid`. Null rows "
             "(no score) are excluded and counted.", ""]
    if result.config.limits:
        lines += [f"Rows per split: {result.config.limits} (seeded subset)."]
    if result.config.scorer_limits:
        lines += [f"Smaller nested subsets: {result.config.scorer_limits} rows per split."]
    if result.incomplete:
        lines += ["", "**Incomplete (report-only run; these score files were not complete):** "
                  + "; ".join(f"{i.name} {i.scored_rows} of {i.selected_rows} rows" for i in result.incomplete)
                  + ". Rows not yet scored are left out of these statistics."]
    lines += ["", "## Settings", ""]
    for run in result.runs:
        lines.append(f"- **{run.scorer}**: `{run.signature}`")
    for title, agreements in (("", result.agreements), (" (rows every metric scored)", result.common)):
        for group in dict.fromkeys(a.group for a in agreements):
            lines += ["", f"## {group}{title}", "", _HEADER]
            lines += [_row(a) for a in agreements if a.group == group]
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
                ax.set_ylabel("human score", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
