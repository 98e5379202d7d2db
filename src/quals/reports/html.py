"""One self-contained HTML page explaining the QUALS score of one (document, summary).

Rendering only: every number on the page comes from the :class:`~quals.metrics.results.QualsExample`
it is given; nothing is scored here. Every piece of input or model text goes through
:func:`html.escape`. The page has inline CSS, no JavaScript and no external resources (the figure
is a sibling file named by ``figure_name``).

Example:
    >>> from quals.metrics.results import QualsExample
    >>> page = render_explanation("Doc.", "Sum.", QualsExample(None, "empty summary", (), 0, 0, 0, 0),
    ...                           signature="quals:0.1.0|...", figure_name=None)
    >>> "empty summary" in page
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from itertools import pairwise

from quals.metrics.results import QAPairScore, QualsExample

# Diverging scale over LL_D - LL_S (nats per token): 0 and above green, DIFFERENCE_AT_RED and below red
# (a pair whose tokens are on average e^2 ~ 7 times less likely given the document than the summary).
DIFFERENCE_AT_RED = -2.0
_STOPS = ((0.0, (199, 233, 192)), (0.5, (255, 236, 153)), (1.0, (244, 143, 143)))


@dataclass(frozen=True)
class Segment:
    """A run ``summary[start:end]`` covered by the same kept pairs (indices into the ranked order)."""

    start: int
    end: int
    pairs: tuple[int, ...]


def difference_colour(difference: float) -> str:
    """Background colour of a pair with this LL_D - LL_S: green at 0 (or above), red at -2 and below."""
    t = min(max(difference / DIFFERENCE_AT_RED, 0.0), 1.0)
    for (t0, c0), (t1, c1) in pairwise(_STOPS):
        if t <= t1:
            w = (t - t0) / (t1 - t0)
            return "#" + "".join(f"{round(a + w * (b - a)):02x}" for a, b in zip(c0, c1, strict=True))
    return "#" + "".join(f"{c:02x}" for c in _STOPS[-1][1])


def rank_pairs(pairs: tuple[QAPairScore, ...]) -> list[QAPairScore]:
    """Pairs worst first (lowest contribution to the score); ties keep generation order."""
    order = sorted(range(len(pairs)), key=lambda i: (pairs[i].value, i))
    return [pairs[i] for i in order]


def summary_segments(summary: str, ranked: list[QAPairScore]) -> list[Segment]:
    """Split ``summary`` into runs of characters covered by the same answer spans.

    Raises:
        ValueError: a pair's ``answer_span`` does not lie inside the summary.
    """
    for pair in ranked:
        start, end = pair.answer_span
        if not 0 <= start <= end <= len(summary):
            raise ValueError(f"answer span {pair.answer_span} of {pair.answer!r} is outside the summary "
                             f"(length {len(summary)})")
    return cover_segments(len(summary), [pair.answer_span for pair in ranked])


def cover_segments(length: int, spans: list[tuple[int, int] | None]) -> list[Segment]:
    """Split ``range(length)`` into runs covered by the same spans (``spans[k]`` None: not shown)."""
    cover: list[list[int]] = [[] for _ in range(length)]
    for k, span in enumerate(spans):
        for c in range(*span) if span is not None else ():
            cover[c].append(k)
    segments: list[Segment] = []
    for c, covering in enumerate(cover):
        key = tuple(covering)
        if segments and segments[-1].pairs == key:
            segments[-1] = Segment(segments[-1].start, c + 1, key)
        else:
            segments.append(Segment(c, c + 1, key))
    return segments


def summary_section(summary: str, segments: list[Segment], colours: list[str], titles: list[str],
                    scale: list[tuple[float, str]], note: str) -> str:
    """The highlighted summary with its note and colour scale.

    ``summary`` is escaped; each covered run sits in a ``<mark>`` with the colour of its first
    (worst) item and the titles of every item covering it as the hover text. ``scale`` lists
    (value, colour) swatches; ``note`` is HTML.
    """
    pieces = []
    for segment in segments:
        run = escape(summary[segment.start:segment.end])
        if not segment.pairs:
            pieces.append(run)
            continue
        title = "\n".join(titles[k] for k in segment.pairs)
        pieces.append(f'<mark style="background:{colours[segment.pairs[0]]}" title="{escape(title)}">{run}</mark>')
    legend = " ".join(f'<span class="swatch" style="background:{colour}">{value:g}</span>' for value, colour in scale)
    return (f'<h2>Summary</h2>\n<div class="text summary">{"".join(pieces)}</div>\n'
            f'<p class="note">{note} Scale: {legend}</p>')


def render_explanation(document: str, summary: str, example: QualsExample, signature: str,
                       figure_name: str | None) -> str:
    """The explanation page of one scored (document, summary).

    Args:
        document, summary: the texts that were scored (document first).
        example: their :class:`QualsExample` (scored with ``details``: pairs and log-probs).
        signature: the scorer's signature line.
        figure_name: relative path of the per-token figure, or None for no figure.

    Returns:
        The HTML page as a string.

    Raises:
        ValueError: an answer span lies outside the summary.
    """
    ranked = rank_pairs(example.pairs)
    parts = [page_head("QUALS explanation"), _header(example), _HOW_TO_READ, _summary_block(summary, ranked)]
    if ranked:
        parts.append(_pairs_table(ranked, example.n_windows))
    if figure_name and ranked:
        parts.append(f'<h2>Per-token probabilities</h2>\n<p class="note">Each row is a QA pair, worst first; '
                     f'bars are p(token) given the summary and given the document.</p>\n'
                     f'<img class="figure" src="{escape(figure_name)}" alt="per-token probabilities of the '
                     f'QA pairs given the summary and given the document">')
    parts.append(page_tail(document, signature))
    return "\n".join(parts)


def page_tail(document: str, signature: str) -> str:
    """The folded document, the signature and the closing tags shared by the explanation pages."""
    return (f'<h2>Document</h2>\n<details><summary>Show the document ({len(document)} characters)'
            f'</summary>\n<div class="text">{escape(document)}</div></details>\n'
            f'<h2>Signature</h2>\n<p><code class="signature">{escape(signature)}</code></p>\n'
            "</body>\n</html>\n")


def _header(example: QualsExample) -> str:
    colour = None if example.score is None else difference_colour(example.score)
    counts = (f"{len(example.pairs)} QA pairs kept of {example.n_generated} generated "
              f"({example.n_well_formed} well formed, {example.n_in_summary} with the answer in the summary); "
              f"document scored in {example.n_windows} window{'s' if example.n_windows != 1 else ''}.")
    return score_heading("QUALS", example.score, example.reason, colour, "nats per token", counts)


def score_heading(metric: str, score: float | None, reason: str | None, colour: str | None, unit: str,
                  counts: str) -> str:
    """The page's title line (the score on its colour, or why there is none) and its counts line."""
    if score is None:
        value = f'<span class="null">no score</span> &mdash; {escape(reason or "no reason given")}'
    else:
        value = f'<span class="score" style="background:{colour}">{score:.4f}</span> {unit}'
    return f"<h1>{metric}: {value}</h1>\n<p>{counts}</p>"


def _summary_block(summary: str, ranked: list[QAPairScore]) -> str:
    colours = [difference_colour(pair.value) for pair in ranked]  # ranked worst first
    titles = [f"#{k + 1} Q: {pair.question} A: {pair.answer} counted = {pair.value:.3f}"
              for k, pair in enumerate(ranked)]
    scale = [(v, difference_colour(v)) for v in (0.0, -0.5, -1.0, -1.5, -2.0)]
    return summary_section(summary, summary_segments(summary, ranked), colours, titles, scale,
                           "Highlighted: answers of kept QA pairs, coloured by what they count in the score "
                           "(the worst pair where spans overlap; hover for the pairs).")


def _pairs_table(ranked: list[QAPairScore], n_windows: int) -> str:
    rows = []
    for k, pair in enumerate(ranked, start=1):
        colour = difference_colour(pair.value)
        rows.append(f"<tr><td>{k}</td><td>{escape(pair.question)}</td><td>{escape(pair.answer)}</td>"
                    f'<td class="num">{pair.logprob_document:.3f}</td><td class="num">{pair.logprob_summary:.3f}</td>'
                    f'<td class="num">{pair.difference:.3f}</td>'
                    f'<td class="num" style="background:{colour}">{pair.value:.3f}</td>'
                    f'<td class="num">{pair.document_window + 1} of {n_windows}</td></tr>')
    return ("<h2>QA pairs, worst first</h2>\n<table>\n<thead><tr><th>#</th><th>Question</th><th>Answer</th>"
            "<th>LL_D</th><th>LL_S</th><th>LL_D &minus; LL_S</th><th>Counted</th><th>Document window</th>"
            "</tr></thead>\n"
            "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>")


def page_head(title: str) -> str:
    """Doctype, inline CSS and the opened body shared by the explanation pages."""
    return _HEAD.replace("{title}", escape(title))


_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.score { padding: 0.1em 0.4em; border-radius: 0.2em; font-variant-numeric: tabular-nums; }
.null { color: #a00; }
.text { white-space: pre-wrap; line-height: 1.7; border: 1px solid #ddd; padding: 0.8em; border-radius: 0.3em; }
.summary { font-size: 1.1em; }
mark { padding: 0.1em 0; border-radius: 0.15em; color: inherit; }
.note { color: #555; font-size: 0.9em; }
.swatch { display: inline-block; padding: 0 0.5em; border-radius: 0.15em; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-size: 0.95em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.figure { max-width: 100%; border: 1px solid #ddd; }
.signature { word-break: break-all; font-size: 0.85em; }
details summary { cursor: pointer; margin-bottom: 0.5em; }
</style>
</head>
<body>"""

_HOW_TO_READ = """<h2>How to read this</h2>
<p>QUALS generates question&ndash;answer pairs from the summary, keeps those whose answer occurs in the
summary, and scores each kept pair twice: LL_S is the mean log-probability per token of the pair given
the summary, LL_D the same given the document (its best window). In the paper, QUALS is the mean over kept
pairs of LL_D &minus; LL_S, in nats per token. The signature's <code>aggregation</code> says which tokens
(question, answer, end token) and which pairs count here; <em>Counted</em> is each pair's contribution
under it. 0 means the document supports the pairs as well as the summary does; the more negative, the
less consistent the summary is with the document. A pair far below 0 points at the part of the summary
the document does not support.</p>"""
