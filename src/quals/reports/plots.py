"""The per-token figure of Nan et al. (2021): how likely each token of a QA pair is given the
summary and given the document, side by side.

Rendering only (probabilities are ``exp`` of the log-probs stored in the example). matplotlib is
imported inside the function and drawn on an explicit Agg canvas, so importing :mod:`quals` never
imports matplotlib and the caller's pyplot backend is left alone. Output is byte-for-byte
deterministic: fixed SVG hash salt, no dates or software versions in the file metadata.

Example:
    >>> paths = plot_token_probabilities(example, "out/tokens")  # doctest: +SKIP
    >>> [p.name for p in paths]  # doctest: +SKIP
    ['tokens.png', 'tokens.svg']
"""

from __future__ import annotations

import math
from pathlib import Path

from quals.metrics.results import QAPairScore, QualsExample
from quals.reports.html import rank_pairs

MAX_PLOTTED_PAIRS = 6
SUMMARY_COLOUR = "#4c78a8"
DOCUMENT_COLOUR = "#e45756"
_MARKERS = {"\u0120": " ", "\u2581": " ", "\u010a": "\n", "\u0109": "\t"}  # byte-level BPE and sentencepiece


def token_labels(tokens: tuple[str, ...], tokenizer=None) -> list[str]:
    """Readable x-axis labels: tokenizer markers ('Ġ', '▁') become spaces, then whitespace is trimmed;
    a newline shows as '↵' and a token of only spaces as '␣'.

    Args:
        tokens: token strings as returned by ``tokenizer.convert_ids_to_tokens``.
        tokenizer: a Hugging Face tokenizer; when given, its ``convert_tokens_to_string`` decodes
            each token (handles every scheme); otherwise the known markers are replaced.
    """
    labels = []
    for token in tokens:
        if tokenizer is not None:
            text = tokenizer.convert_tokens_to_string([token])
        else:
            text = "".join(_MARKERS.get(ch, ch) for ch in token)
        if "\n" in text and not text.strip():
            labels.append("\u21b5")
        else:
            labels.append(text.strip() or "\u2423")
    return labels


def plot_token_probabilities(example: QualsExample, path_stem: str | Path, tokenizer=None,
                             max_pairs: int = MAX_PLOTTED_PAIRS) -> list[Path]:
    """Draw one row per QA pair (the ``max_pairs`` worst) and write ``<stem>.png`` and ``<stem>.svg``.

    Args:
        example: a scored example with pairs (with none, the figure states the reason).
        path_stem: output path without extension; its directory must exist.
        tokenizer: optional tokenizer used to make token labels readable (see :func:`token_labels`).
        max_pairs: most pairs drawn; the title says when some were left out.

    Returns:
        The written paths, PNG first.

    Raises:
        ValueError: ``max_pairs`` < 1, or a pair's token and log-prob counts differ.
    """
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ranked = rank_pairs(example.pairs)
    shown = ranked[:max_pairs]
    for pair in shown:
        if not len(pair.tokens) == len(pair.token_logprobs_document) == len(pair.token_logprobs_summary):
            raise ValueError(f"pair {pair.question!r}: {len(pair.tokens)} tokens but "
                             f"{len(pair.token_logprobs_document)} document and "
                             f"{len(pair.token_logprobs_summary)} summary log-probs")
    longest = max((len(p.tokens) for p in shown), default=10)
    stem = Path(path_stem)
    paths = [Path(f"{stem}.png"), Path(f"{stem}.svg")]
    with matplotlib.rc_context({"svg.hashsalt": "quals", "svg.fonttype": "path", "font.size": 9}):
        figure = Figure(figsize=(max(7.0, 0.32 * longest + 2.0), 0.6 + 2.3 * len(shown) if shown else 1.2),
                        layout="constrained")
        FigureCanvasAgg(figure)
        if not shown:
            axes = figure.subplots()
            axes.set_axis_off()
            axes.text(0.5, 0.5, f"No QA pair kept: {example.reason or 'no reason given'}", ha="center",
                      va="center", parse_math=False)
        else:
            axes_list = figure.subplots(len(shown), 1, squeeze=False)[:, 0]
            for rank, (axes, pair) in enumerate(zip(axes_list, shown, strict=True), start=1):
                _draw_pair(axes, rank, pair, token_labels(pair.tokens, tokenizer))
            handles, names = axes_list[0].get_legend_handles_labels()
            figure.legend(handles, names, loc="outside lower center", ncols=2, frameon=False)
            left_out = f"; the {len(shown)} worst of {len(ranked)} pairs" if len(ranked) > len(shown) else ""
            figure.suptitle(f"Per-token probability of each QA pair given the summary and the document"
                            f"{left_out}", fontsize=10)
        figure.savefig(paths[0], format="png", dpi=110, metadata={"Software": None})
        figure.savefig(paths[1], format="svg", metadata={"Date": None, "Creator": None})
    return paths


def _draw_pair(axes, rank: int, pair: QAPairScore, labels: list[str]) -> None:
    positions = range(len(labels))
    width = 0.4
    axes.bar([x - width / 2 for x in positions], [math.exp(v) for v in pair.token_logprobs_summary], width,
             color=SUMMARY_COLOUR, label="given the summary")
    axes.bar([x + width / 2 for x in positions], [math.exp(v) for v in pair.token_logprobs_document], width,
             color=DOCUMENT_COLOUR, label="given the document")
    axes.set_xticks(list(positions))
    axes.set_xticklabels(labels, rotation=60, ha="right", rotation_mode="anchor", fontsize=8, parse_math=False)
    axes.set_xlim(-0.6, len(labels) - 0.4)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("p(token)")
    axes.grid(axis="y", alpha=0.3)
    axes.set_title(_shorten(f"#{rank}  Q: {pair.question}  A: {pair.answer}", 110)
                   + f"   LL_D \u2212 LL_S = {pair.difference:.2f}, counted {pair.value:.2f}", loc="left", fontsize=9,
                   parse_math=False)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"
