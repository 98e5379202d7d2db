"""Cached, batched teacher-forced scoring against an uncached one-at-a-time reference."""

from __future__ import annotations

import pytest
from fixtures import reference

from quals.models import score_sequences
from quals.models.windows import split_windows

CONTEXTS = [
    "The cat sat on the mat in Paris on Monday.",
    "Officials said 12 people were hurt when a bus crashed near Leeds on Friday evening. " * 2,
    "NASA",
]


def _sequences(backbone):
    qa = [backbone.qa_token_ids("Who sat on the mat?", "the cat"),
          backbone.qa_token_ids("Where?", "Paris"),
          backbone.qa_token_ids("What did officials say about the crash near Leeds on Friday?", "12 people were hurt")]
    return [qa, qa[1:], qa[:1]]


@pytest.mark.parametrize("batch_size", [1, 2, 64])
def test_batched_scoring_equals_reference(backbone, batch_size):
    contexts = [backbone.tokenize(c) for c in CONTEXTS]
    sequences = _sequences(backbone)
    results = score_sequences(backbone, contexts, sequences, window_tokens=200, batch_size=batch_size)
    for context, seqs, result in zip(contexts, sequences, results, strict=True):
        assert result.windows == ((0, len(context)),)
        prompt = backbone.prompt_ids(context)
        for seq, scored in zip(seqs, result.sequences, strict=True):
            expected = reference.sequence_logprobs(backbone, prompt, seq)
            assert len(scored.by_window) == 1
            assert scored.by_window[0] == pytest.approx(expected, abs=1e-5)


def test_long_context_is_windowed_not_truncated(backbone):
    context = backbone.tokenize(CONTEXTS[1] * 3)
    seqs = _sequences(backbone)[0]
    window, overlap = 20, 5
    result = score_sequences(backbone, [context], [seqs], window_tokens=window, window_overlap=overlap,
                             batch_size=4)[0]
    spans = split_windows(len(context), window, overlap)
    assert len(spans) > 2 and result.windows == tuple(spans)
    assert spans[-1][1] == len(context)  # the end of the document is covered
    for seq, scored in zip(seqs, result.sequences, strict=True):
        assert len(scored.by_window) == len(spans)
        for (start, end), values in zip(spans, scored.by_window, strict=True):
            expected = reference.sequence_logprobs(backbone, backbone.prompt_ids(context[start:end]), seq)
            assert values == pytest.approx(expected, abs=1e-5)
        best = scored.best_window()
        assert scored.mean(best) == max(scored.mean(w) for w in range(len(spans)))


def test_empty_sequence_is_rejected(tiny_backbones):
    backbone = tiny_backbones["llama"]
    with pytest.raises(ValueError, match="sequence 0 of context 0 is empty"):
        score_sequences(backbone, [backbone.tokenize("a text")], [[[]]], window_tokens=50)


@pytest.mark.parametrize(
    ("n", "window", "overlap", "expected"),
    [
        (3, 4, 1, [(0, 3)]),
        (4, 4, 1, [(0, 4)]),
        (10, 4, 1, [(0, 4), (3, 7), (6, 10)]),
        (10, 4, 2, [(0, 4), (2, 6), (4, 8), (6, 10)]),
        (11, 4, 0, [(0, 4), (4, 8), (7, 11)]),
        (0, 4, 1, [(0, 0)]),
    ],
)
def test_split_windows(n, window, overlap, expected):
    assert split_windows(n, window, overlap) == expected


@pytest.mark.parametrize(("window", "overlap"), [(0, 0), (4, 4), (4, -1)])
def test_split_windows_rejects_bad_settings(window, overlap):
    with pytest.raises(ValueError):
        split_windows(10, window, overlap)


@pytest.mark.parametrize("batch_size", [2, 64])
def test_repeated_context_is_encoded_once(backbone, batch_size, monkeypatch):
    """One document under several summaries (ConSeq's selection): each caller gets its own
    sequences back, in order, scored as if alone, and the document goes through the model once
    per ``batch_size`` sequences instead of once per caller."""
    import quals.models.scoring as scoring

    document, other = backbone.tokenize(CONTEXTS[0]), backbone.tokenize(CONTEXTS[2])
    qa = _sequences(backbone)[0]
    contexts = [document, other, document, document]
    sequences = [qa[:2], qa[2:], qa[1:], qa[:1]]
    prompts = []
    original = scoring._plan_jobs
    monkeypatch.setattr(scoring, "_plan_jobs", lambda b, c, *rest: (prompts.extend(c), original(b, c, *rest))[1])
    results = score_sequences(backbone, contexts, sequences, window_tokens=200, batch_size=batch_size)
    assert prompts == [document, other]
    assert [len(r.sequences) for r in results] == [2, 1, 2, 1]
    for context, seqs, result in zip(contexts, sequences, results, strict=True):
        prompt = backbone.prompt_ids(context)
        for seq, scored in zip(seqs, result.sequences, strict=True):
            assert scored.by_window[0] == pytest.approx(reference.sequence_logprobs(backbone, prompt, seq), abs=1e-5)
