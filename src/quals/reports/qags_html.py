"""One self-contained HTML page explaining the QAGS score of one (document, summary).

The QAGS counterpart of :mod:`quals.reports.html`: every number comes from the
:class:`~quals.metrics.qags_results.QagsExample` it is given, every piece of text is escaped, and
the page has no JavaScript or external resources. QAGS has no per-token probabilities to draw; what
explains its score is each question with the answer read from the summary and the answer read from
the document, and their token F1.

Example:
    >>> from quals.metrics.qags_results import QagsExample
    >>> page = render_qags_explanation("Doc.", "Sum.", QagsExample(None, "no answer candidates", (), (), 0, 0,
    ...                                0, 0, 0), signature="qags:0.1.0|...")
    >>> "no answer candidates" in page and "<table" not in page
    True
"""

from __future__ import annotations

import re
from html import escape

from quals.metrics.qags_results import QagsExample, QagsQuestion
from quals.reports.html import (
    DIFFERENCE_AT_RED,
    Segment,
    cover_segments,
    difference_colour,
    page_head,
    page_tail,
    score_heading,
    summary_section,
)


def f1_colour(f1: float) -> str:
    """Green at F1 1 (the answers agree), red at 0, on the QUALS page's scale."""
    return difference_colour((1.0 - min(max(f1, 0.0), 1.0)) * DIFFERENCE_AT_RED)


def rank_questions(questions: tuple[QagsQuestion, ...]) -> list[QagsQuestion]:
    """Questions worst first (lowest F1); ties keep the kept order (best generation score first)."""
    order = sorted(range(len(questions)), key=lambda i: (questions[i].f1, i))
    return [questions[i] for i in order]


def candidate_segments(summary: str, ranked: list[QagsQuestion]) -> list[Segment]:
    """Split ``summary`` into runs covered by the same questions' answer candidates.

    A candidate is a span of the summary (a named entity or noun chunk), found case-insensitively at
    its first occurrence; one that is not found (the QG model was given other text) is not shown.
    """
    spans: list[tuple[int, int] | None] = []
    for question in ranked:
        # A regex on the original text: str.lower() can change lengths (e.g. "İ"), shifting offsets.
        found = re.search(re.escape(question.answer_candidate), summary, re.IGNORECASE) \
            if question.answer_candidate else None
        spans.append(found.span() if found else None)
    return cover_segments(len(summary), spans)


def render_qags_explanation(document: str, summary: str, example: QagsExample, signature: str) -> str:
    """The explanation page of one (document, summary) scored by QAGS with details."""
    ranked = rank_questions(example.questions)
    parts = [page_head("QAGS explanation"), _header(example), _HOW_TO_READ, _summary_block(summary, ranked)]
    if ranked:
        parts.append(_questions_table(ranked, example.n_windows))
    if example.candidates:
        listed = ", ".join(f"<q>{escape(c)}</q>" for c in example.candidates)
        parts.append(f'<p class="note">Answer candidates extracted from the summary: {listed}.</p>')
    parts.append(page_tail(document, signature))
    return "\n".join(parts)


def _header(example: QagsExample) -> str:
    colour = None if example.score is None else f1_colour(example.score)
    counts = (f"{len(example.questions)} questions kept of {example.n_generated} generated for "
              f"{len(example.candidates)} answer candidates ({example.n_clean} clean, {example.n_answered} answered "
              f"from the summary, {example.n_consistent} of those matching their candidate); document read in "
              f"{example.n_windows} window{'s' if example.n_windows != 1 else ''}.")
    return score_heading("QAGS", example.score, example.reason, colour, "mean answer F1", counts)


def _summary_block(summary: str, ranked: list[QagsQuestion]) -> str:
    colours = [f1_colour(q.f1) for q in ranked]  # ranked worst first
    titles = [f"#{k + 1} Q: {q.question} summary: {q.answer_summary} "
              f"document: {q.answer_document or '(no answer)'} F1 = {q.f1:.2f}" for k, q in enumerate(ranked)]
    scale = [(v, f1_colour(v)) for v in (1.0, 0.75, 0.5, 0.25, 0.0)]
    return summary_section(summary, candidate_segments(summary, ranked), colours, titles, scale,
                           "Highlighted: answer candidates of kept questions, coloured by the answer F1 "
                           "(the worst question where candidates overlap; hover for the questions).")


def _questions_table(ranked: list[QagsQuestion], n_windows: int) -> str:
    rows = []
    for k, q in enumerate(ranked, start=1):
        document_answer = escape(q.answer_document) if q.answer_document else '<span class="null">no answer</span>'
        rows.append(f"<tr><td>{k}</td><td>{escape(q.question)}</td><td>{escape(q.answer_candidate)}</td>"
                    f"<td>{escape(q.answer_summary)}</td><td>{document_answer}</td>"
                    f'<td class="num" style="background:{f1_colour(q.f1)}">{q.f1:.2f}</td>'
                    f'<td class="num">{q.document_window + 1} of {n_windows}</td></tr>')
    return ("<h2>Questions, worst first</h2>\n<table>\n<thead><tr><th>#</th><th>Question</th>"
            "<th>Asked about</th><th>Answer from the summary</th><th>Answer from the document</th>"
            "<th>F1</th><th>Document window</th></tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>")


_HOW_TO_READ = """<h2>How to read this</h2>
<p>QAGS extracts answer candidates (named entities and noun chunks) from the summary, generates
questions about them, and answers every question twice: once from the summary and once from the
document. QAGS is the mean over kept questions of the token F1 between the two answers, from 0 to 1.
A question whose answers disagree (F1 near 0, or no answer in the document) points at the part of the
summary the document does not support.</p>"""
