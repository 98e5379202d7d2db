"""The ConSeq selection rule on synthetic scores: ratios, intersection, missing scores, ROUGE variant."""

from __future__ import annotations

import json

import pytest

from quals.training.conseq.config import SelectionConfig
from quals.training.conseq.select import (
    distribution,
    highest_share,
    lowest_share,
    select_documents,
    selection_report,
    share_count,
    worst_candidate,
)


def test_worst_candidate_skips_missing_scores_and_takes_the_first_on_ties():
    assert worst_candidate([-1.0, None, -3.0, -3.0]) == (2, -3.0)
    assert worst_candidate([None, None]) is None
    assert worst_candidate([]) is None
    assert worst_candidate([float("nan"), 0.5]) == (1, 0.5)


def test_share_count_rounds_like_the_authors():
    assert share_count(0.3, 80) == 24
    assert share_count(0.3, 5) == 2   # 1.5 -> 2 (half to even)
    assert share_count(0.5, 5) == 2   # 2.5 -> 2 (half to even)
    assert share_count(0.3, 1) == 0
    assert share_count(1.0, 7) == 7
    with pytest.raises(ValueError):
        share_count(0.0, 10)


def test_lowest_and_highest_share_rank_stably():
    scores = [0.5, -1.0, None, -1.0, 2.0, 0.0]
    assert lowest_share(scores, 0.4) == [1, 3]     # 5 scored -> round(2.0) = 2, tie kept in index order
    assert highest_share(scores, 0.4) == [4, 0]


def test_select_documents_ten_documents_by_hand():
    # Worst candidates: document d has worst score -d (d = 0..9), so S- (lowest 30%) = {9, 8, 7}.
    candidates = [[0.5, -float(d), 0.1] for d in range(10)]
    # References: the three highest are 0.95 (doc 7), 0.9 (doc 9) and 0.6 (doc 6): S+ = {7, 9, 6}.
    references = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.95, 0.05, 0.9]
    selection = select_documents(references, candidates, negative_share=0.3, positive_share=0.3)
    assert selection.negative == (9, 8, 7)
    assert selection.positive == (7, 9, 6)
    assert selection.kept == (7, 9)
    assert selection.worst[7] == (1, -7.0)


def test_ratios_change_the_selection():
    candidates = [[-float(d)] for d in range(10)]
    references = [float(d) for d in range(10)]  # documents with bad candidates also have good references
    assert select_documents(references, candidates, negative_share=0.5, positive_share=0.5).kept == (5, 6, 7, 8, 9)
    assert select_documents(references, candidates, negative_share=0.2, positive_share=0.5).kept == (8, 9)
    assert select_documents(references, candidates, negative_share=1.0, positive_share=1.0).kept == tuple(range(10))


def test_missing_scores_are_never_numbers():
    candidates = [[None, None], [-1.0, None], [-2.0], [-0.5]]
    references = [1.0, None, 0.5, 0.7]
    selection = select_documents(references, candidates, negative_share=0.5, positive_share=0.5)
    # S- ranks documents 1..3 only (3 scored -> round(1.5) = 2): worst -2.0 (doc 2), -1.0 (doc 1).
    assert selection.negative == (2, 1)
    # S+ ranks documents 0, 2, 3 (3 scored -> 2): 1.0 (doc 0), 0.7 (doc 3).
    assert selection.positive == (0, 3)
    assert selection.kept == ()
    assert selection.worst[0] is None


def test_rouge_variant_has_no_reference_ranking():
    candidates = [[0.2, 0.1], [0.6], [0.05, 0.9], [0.4]]
    selection = select_documents(None, candidates, negative_share=0.5)
    assert selection.positive == (0, 1, 2, 3)
    assert selection.negative == (2, 0)
    assert selection.kept == (0, 2)


def test_select_documents_checks_lengths():
    with pytest.raises(ValueError, match="reference scores"):
        select_documents([0.1], [[0.1], [0.2]])


def test_distribution_and_report():
    dist = distribution([1.0, 2.0, None, 3.0])
    assert dist["n"] == 3 and dist["n_missing"] == 1 and dist["mean"] == pytest.approx(2.0)
    assert dist["q50"] == pytest.approx(2.0) and dist["q00"] == 1.0 and dist["q100"] == 3.0
    assert distribution([None]) == {"n": 0, "n_missing": 1}
    candidates = [[-float(d)] for d in range(4)]
    references = [float(d) for d in range(4)]
    selection = select_documents(references, candidates, negative_share=0.5, positive_share=0.5)
    report = selection_report(selection, references, candidates)
    assert (report["n_documents"], report["n_positive"], report["n_negative"], report["n_kept"]) == (4, 2, 2, 2)
    assert report["negative_threshold"] == -2.0 and report["positive_threshold"] == 2.0
    assert report["kept_positives"]["mean"] == pytest.approx(2.5)
    json.dumps(report)  # serialisable


def test_selection_config_checks_values():
    with pytest.raises(ValueError, match="by must be"):
        SelectionConfig(by="bleu")
    with pytest.raises(ValueError, match="negative_share"):
        SelectionConfig(negative_share=1.5)


def test_rouge_scores_and_rouge_selection_end_to_end(tmp_path):
    """ConSeq-ROUGE on a candidates file: the candidate furthest from the reference is the negative."""
    from quals.metrics.rouge import rouge_f
    from quals.training.conseq.selection import select_triples

    same = rouge_f("The cat sat on the mat.", "The cat sat on the mat.")
    assert same == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}
    rows = []
    for i in range(4):
        reference = f"The mayor of town {i} opened the new bridge on Friday."
        candidates = [reference, f"The mayor opened a bridge in town {i}.", "Rain fell all week."]
        if i % 2:
            candidates[2] = f"The mayor of town {i} opened the bridge."
        rows.append({"row": i, "id": f"d{i}", "document": f"Document {i}.", "reference": reference,
                     "candidates": candidates, "source_truncated": False, "error": None})
    rows.append({"row": 4, "id": "bad", "document": None, "reference": None, "candidates": None,
                 "source_truncated": None, "error": "empty field(s) ['document']"})
    path = tmp_path / "candidates.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "triples.jsonl"
    report = select_triples(path, out, config=SelectionConfig(by="rouge", negative_share=0.5))
    triples = [json.loads(line) for line in out.read_text().splitlines()]
    # Documents 0 and 2 have the unrelated "Rain fell all week." (ROUGE 0) as worst candidate.
    assert [t["row"] for t in triples] == [0, 2]
    assert all(t["negative"] == "Rain fell all week." and t["negative_score"] == 0.0 for t in triples)
    assert all(t["positive"] == t["negative"] or t["positive"].startswith("The mayor") for t in triples)
    assert report["n_documents"] == 4 and report["n_skipped_rows"] == 1 and report["n_positive"] == 4
    assert "references" not in report
    scores = [json.loads(line) for line in (tmp_path / "triples.rouge-scores.jsonl").read_text().splitlines()]
    assert [s["id"] for s in scores[:4]] == ["0:reference", "0:candidate-0", "0:candidate-1", "0:candidate-2"]
    assert scores[0]["score"] == pytest.approx(1.0)
