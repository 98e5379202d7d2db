"""Reports: the explanation page (escaping, highlights, ordering) and the per-token figure."""

from __future__ import annotations

import math
import re
from html import unescape
from itertools import pairwise

import pytest

from quals.metrics.qags_results import QagsQuestion
from quals.metrics.results import QAPairScore, QualsExample
from quals.reports import plot_token_probabilities, render_explanation
from quals.reports.html import difference_colour, rank_pairs, summary_segments
from quals.reports.plots import token_labels
from quals.reports.qags_html import candidate_segments, f1_colour, rank_questions

SCRIPT = "<script>alert(1)</script>"
SUMMARY = f"The mayor opened the bridge on Monday {SCRIPT}."
DOCUMENT = f"The mayor opened the bridge on Friday. {SCRIPT} Officials were there."


TOKENS = ("What", "Ġday", "<sep>", "ĠMonday", "</s>")


def _pair(question: str, answer: str, logprob_document: float, logprob_summary: float,
          summary: str = SUMMARY, tokens: tuple[str, ...] = TOKENS) -> QAPairScore:
    start = summary.index(answer)
    n = len(tokens)
    return QAPairScore(question=question, answer=answer, answer_span=(start, start + len(answer)), tokens=tokens,
                       token_ids=tuple(range(n)), token_roles=("q", "q", "s", "a", "e")[:n],
                       logprob_document=logprob_document, logprob_summary=logprob_summary,
                       token_logprobs_document=(logprob_document,) * n, token_logprobs_summary=(logprob_summary,) * n,
                       value=logprob_document - logprob_summary, document_window=0, filter_round=0,
                       generation_score=-1.0)


def _example(pairs: tuple[QAPairScore, ...]) -> QualsExample:
    score = math.fsum(p.difference for p in pairs) / len(pairs)
    return QualsExample(score, None, pairs, n_generated=10, n_well_formed=8, n_in_summary=len(pairs), n_windows=1)


PAIRS = (
    _pair("Who opened the bridge?", "The mayor", -0.5, -0.4),          # difference -0.1
    _pair("When was the bridge opened?", "Monday", -3.0, -0.5),        # difference -2.5 (worst)
    _pair("What did the mayor open?", "the bridge", -1.0, -0.2),       # difference -0.8
    _pair("What did the <b>mayor</b> do?", "opened the bridge", -0.9, -0.3),  # -0.6, overlaps "the bridge"
)


def _marks(page: str) -> list[tuple[str, str, str]]:
    """(background colour, title, text) of every highlight, unescaped."""
    found = re.findall(r'<mark style="background:(#[0-9a-f]{6})" title="([^"]*)">([^<]*)</mark>', page)
    return [(colour, unescape(title), unescape(text)) for colour, title, text in found]


def test_script_in_any_text_is_escaped():
    pair = _pair(f"Who {SCRIPT}?", "Monday", -2.0, -0.5)
    tagged = QAPairScore(**{**pair.__dict__, "answer": f"Monday {SCRIPT}",
                            "answer_span": (SUMMARY.index("Monday"), SUMMARY.index(".", SUMMARY.index(SCRIPT)))})
    page = render_explanation(DOCUMENT, SUMMARY, _example((tagged,)), signature=f"sig{SCRIPT}",
                              figure_name='tokens.png" onerror="x')
    assert "<script" not in page.lower()
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5  # summary, question, answer, document, signature
    assert 'src="tokens.png&quot; onerror=&quot;x"' in page


def test_highlights_cover_the_answer_spans_coloured_by_the_worst_pair():
    page = render_explanation(DOCUMENT, SUMMARY, _example(PAIRS), "sig", "tokens.png")
    marks = _marks(page)
    highlighted = "".join(text for _, _, text in marks)
    assert highlighted == "The mayoropened the bridgeMonday"
    by_text = {text: (colour, title) for colour, title, text in marks}
    assert by_text["Monday"][0] == difference_colour(-2.5)
    assert by_text["opened "][0] == difference_colour(-0.6)
    # "the bridge" is covered by two pairs: coloured by the worse (-0.8), both listed in the tooltip.
    colour, title = by_text["the bridge"]
    assert colour == difference_colour(-0.8)
    assert "What did the mayor open?" in title and "What did the <b>mayor</b> do?" in title
    # The text between highlights is untouched and still escaped.
    assert "</mark> on <mark" in page and "&lt;script&gt;" in page


def test_summary_segments_partition_the_summary():
    ranked = rank_pairs(PAIRS)
    segments = summary_segments(SUMMARY, ranked)
    assert segments[0].start == 0 and segments[-1].end == len(SUMMARY)
    assert all(a.end == b.start for a, b in pairwise(segments))
    covered = [s for s in segments if s.pairs]
    assert [(SUMMARY[s.start:s.end], [ranked[k].answer for k in s.pairs]) for s in covered] == [
        ("The mayor", ["The mayor"]), ("opened ", ["opened the bridge"]),
        ("the bridge", ["the bridge", "opened the bridge"]), ("Monday", ["Monday"])]


def test_span_outside_the_summary_is_an_error():
    bad = QAPairScore(**{**PAIRS[0].__dict__, "answer_span": (5, len(SUMMARY) + 3)})
    with pytest.raises(ValueError, match="outside the summary"):
        render_explanation(DOCUMENT, SUMMARY, _example((bad,)), "sig", None)


def test_table_is_sorted_worst_first():
    page = render_explanation(DOCUMENT, SUMMARY, _example(PAIRS), "sig", "tokens.png")
    table = page[page.index("<table>"):page.index("</table>")]
    differences = [float(v) for v in re.findall(r'<td class="num" style="background:#[0-9a-f]{6}">(-?[0-9.]+)</td>',
                                                table)]
    assert differences == pytest.approx([-2.5, -0.8, -0.6, -0.1])
    assert table.index("When was the bridge opened?") < table.index("Who opened the bridge?")
    assert f"{_example(PAIRS).score:.4f}" in page
    assert '<img class="figure" src="tokens.png"' in page
    assert "<details>" in page and "LL_D &minus; LL_S" in page


def test_null_example_shows_the_reason_and_no_table():
    example = QualsExample(None, "no generated answer occurs in the summary", (), 60, 12, 0, 0)
    page = render_explanation(DOCUMENT, SUMMARY, example, "sig", "tokens.png")
    assert "no score" in page and "no generated answer occurs in the summary" in page
    assert "<table" not in page and "<mark" not in page and "<img" not in page
    assert "&lt;script&gt;" in page and "<script" not in page


def test_difference_colour_scale():
    assert difference_colour(0.0) == difference_colour(0.7) == "#c7e9c0"  # green at 0 and above
    assert difference_colour(-2.0) == difference_colour(-9.0) == "#f48f8f"  # red from -2 down
    assert difference_colour(-1.0) == "#ffec99"


def test_token_labels_drop_byte_level_markers():
    labels = token_labels(("What", "Ġday", "Ċ", "Ġ", "<sep>", "▁Mon"))
    assert labels == ["What", "day", "\u21b5", "\u2423", "<sep>", "Mon"]


# ----- figure -------------------------------------------------------------------------------------
def _many_pairs(n: int) -> tuple[QAPairScore, ...]:
    return tuple(_pair(f"Question {i}? $x$", "Monday", -0.1 * (i + 1), -0.2) for i in range(n))


@pytest.mark.parametrize("n_pairs, n_axes", [(2, 2), (8, 6)])
def test_figure_files_and_one_axes_per_pair_up_to_the_cap(tmp_path, n_pairs, n_axes):
    from xml.etree import ElementTree

    paths = plot_token_probabilities(_example(_many_pairs(n_pairs)), tmp_path / "tokens")
    assert [p.name for p in paths] == ["tokens.png", "tokens.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths[1].read_text()
    axes = [g for g in ElementTree.fromstring(svg).iter("{http://www.w3.org/2000/svg}g")
            if re.fullmatch(r"axes_\d+", g.get("id", ""))]
    assert len(axes) == n_axes
    assert (f"the 6 worst of {n_pairs} pairs" in svg) == (n_pairs > 6)  # text is kept in SVG comments
    assert "<!-- What -->" in svg and "<!-- day -->" in svg and "Ġ" not in svg
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg


def test_figure_is_deterministic(tmp_path):
    example = _example(PAIRS)
    first = plot_token_probabilities(example, tmp_path / "a")
    second = plot_token_probabilities(example, tmp_path / "b")
    assert first[1].read_bytes() == second[1].read_bytes()
    assert first[0].read_bytes() == second[0].read_bytes()


def test_figure_of_a_null_example_and_bad_input(tmp_path):
    empty = QualsExample(None, "empty summary", (), 0, 0, 0, 0)
    assert all(p.stat().st_size > 0 for p in plot_token_probabilities(empty, tmp_path / "none"))
    with pytest.raises(ValueError, match="max_pairs"):
        plot_token_probabilities(empty, tmp_path / "x", max_pairs=0)
    short = QAPairScore(**{**PAIRS[0].__dict__, "token_logprobs_document": (-1.0,)})
    with pytest.raises(ValueError, match="5 tokens but 1 document"):
        plot_token_probabilities(_example((short,)), tmp_path / "y")


def test_importing_reports_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, quals.reports\nprint('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def _question(question: str, candidate: str, f1: float) -> QagsQuestion:
    return QagsQuestion(question, candidate, candidate, "" if f1 == 0 else candidate, f1, -0.5, -0.2, 0)


def test_qags_questions_rank_worst_first_and_keep_order_on_ties():
    questions = (_question("Q1", "Leeds", 1.0), _question("Q2", "Friday", 0.0), _question("Q3", "mayor", 0.0))
    assert [q.question for q in rank_questions(questions)] == ["Q2", "Q3", "Q1"]


def test_qags_candidates_are_highlighted_where_they_occur_case_insensitively():
    summary = "The Mayor opened a bridge in Leeds."
    ranked = [_question("Q1", "mayor", 0.0), _question("Q2", "Leeds", 1.0), _question("Q3", "Paris", 0.0)]
    covered = {summary[s.start:s.end]: s.pairs for s in candidate_segments(summary, ranked) if s.pairs}
    assert covered == {"Mayor": (0,), "Leeds": (1,)}  # "Paris" is not in the summary: not shown
    assert "".join(summary[s.start:s.end] for s in candidate_segments(summary, ranked)) == summary
    # Lower-casing "İ" adds a character; the offsets must still be those of the original text.
    dotted = "İstanbul hosts the Leeds team."
    covered = {dotted[s.start:s.end] for s in candidate_segments(dotted, [_question("Q", "Leeds", 1.0)]) if s.pairs}
    assert covered == {"Leeds"}


def test_qags_f1_colours_run_from_green_to_red():
    assert f1_colour(1.0) == difference_colour(0.0) and f1_colour(0.0) == difference_colour(-2.0)
    assert f1_colour(1.5) == f1_colour(1.0)  # clamped


def test_pairs_rank_by_what_they_count_under_the_aggregation():
    """With an answer-only token set a pair's contribution is not its all-token LL_D - LL_S."""
    counted = (-3.0, -0.1, -1.0, -0.4)  # the "Who" pair, best by LL_D - LL_S, is now the worst
    pairs = tuple(QAPairScore(**{**p.__dict__, "value": v}) for p, v in zip(PAIRS, counted, strict=True))
    assert [p.answer for p in rank_pairs(pairs)] == ["The mayor", "the bridge", "opened the bridge", "Monday"]
    page = render_explanation(DOCUMENT, SUMMARY, _example(pairs), "sig", None)
    table = page[page.index("<table>"):page.index("</table>")]
    cells = re.findall(r'<td class="num" style="background:#[0-9a-f]{6}">(-?[0-9.]+)</td>', table)
    coloured = [float(v) for v in cells]
    assert coloured == sorted(counted)
    body = table[table.index("<tbody>"):]
    first_row = body[:body.index("</tr>")]
    assert "Who opened the bridge?" in first_row and ">-0.100<" in first_row  # its all-token difference, uncoloured
