"""The bar chart of a study, like the paper's human-evaluation figure: one stacked bar per
attribute, the shares of judgments where B was better, equal and worse than A.

Drawn on an explicit Agg canvas (the caller's pyplot backend is left alone; matplotlib is
imported only here) and byte-for-byte deterministic: fixed SVG hash salt, no dates or versions.
"""

from __future__ import annotations

from pathlib import Path

from quals.annotate.study import ATTRIBUTE_LABELS

COLOURS = {"better": "#59a14f", "equal": "#bab0ac", "worse": "#e15759"}
MIN_LABELLED_SHARE = 0.06  # narrower segments get no percentage inside


def plot_preferences(results, path_stem: str | Path) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.svg`` for a :class:`~quals.annotate.export.StudyResults`.

    Returns:
        The written paths, PNG first.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    stem = Path(path_stem)
    paths = [Path(f"{stem}.png"), Path(f"{stem}.svg")]
    rows = list(reversed(results.attributes))  # first attribute on top
    names = {"better": f"{results.system_b} better", "equal": "Equal", "worse": f"{results.system_b} worse"}
    with matplotlib.rc_context({"svg.hashsalt": "quals", "svg.fonttype": "path", "font.size": 9,
                              "text.parse_math": False}):
        figure = Figure(figsize=(7.0, 0.9 + 0.55 * len(rows)), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.subplots()
        left = [0.0] * len(rows)
        for key in ("better", "equal", "worse"):
            widths = [100 * (r.judgments.shares()[key] or 0.0) for r in rows]
            bars = axes.barh(range(len(rows)), widths, left=left, color=COLOURS[key], label=names[key], height=0.6)
            for bar, width in zip(bars, widths, strict=True):
                if width >= 100 * MIN_LABELLED_SHARE:
                    axes.text(bar.get_x() + width / 2, bar.get_y() + bar.get_height() / 2, f"{width:.0f}%",
                              ha="center", va="center", color="white" if key != "equal" else "#222")
            left = [a + w for a, w in zip(left, widths, strict=True)]
        axes.set_yticks(range(len(rows)), [_label(r) for r in rows])
        axes.set_xlim(0, 100)
        axes.set_xlabel("share of judgments (%)")
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        axes.set_title(f"{results.system_b} vs {results.system_a}: {results.n_judgments} judgments on "
                       f"{results.n_judged_items} items", fontsize=10)
        figure.legend(*axes.get_legend_handles_labels(), loc="outside lower center", ncols=3, frameon=False)
        figure.savefig(paths[0], format="png", dpi=110, metadata={"Software": None})
        figure.savefig(paths[1], format="svg", metadata={"Date": None, "Creator": None})
    return paths


def _label(result) -> str:
    p = "p n/a" if result.p_value is None else f"p = {result.p_value:.2g}"
    return f"{ATTRIBUTE_LABELS[result.attribute]}\n({p})"
