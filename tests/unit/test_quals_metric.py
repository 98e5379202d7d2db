"""The QUALS formula, null handling, summary-likelihood modes, windows, cache and constraint."""

from __future__ import annotations

import math
import random

import pytest
from fixtures import reference
from fixtures.fake_qa import fake_generate

from quals.generation import GenerationConfig
from quals.metrics.answer_constraint import SummarySpanConstraint
from quals.metrics.quals import QUALS, QualsConfig
from quals.qagen import QAGen

DOCUMENT = "The cat sat on the mat in Paris on Monday. Officials said 12 people were hurt near Leeds."
SUMMARY = "The cat sat on the mat in Paris."
SMALL = dict(num_groups=3, min_length=1, max_length=8)


@pytest.fixture(scope="module")
def qagens(tiny_dirs):
    return {kind: QAGen(str(tiny_dirs[kind]), device="cpu", dtype="float32", batch_size=8)
            for kind in ("llama", "bart")}


@pytest.fixture(params=["llama", "bart"])
def scorer(request, qagens, monkeypatch):
    monkeypatch.setattr(QUALS, "generate", fake_generate)
    return QUALS(qagen=qagens[request.param], cache_generations=False, **SMALL)


def test_formula_against_hand_computed_logprobs(scorer):
    example = scorer.score([DOCUMENT], [SUMMARY]).examples[0]
    backbone = scorer.qagen.backbone
    differences = []
    for pair in example.pairs:
        tokens = list(pair.token_ids)
        doc = reference.sequence_logprobs(backbone, backbone.prompt_ids(backbone.tokenize(DOCUMENT)), tokens)
        summ = reference.sequence_logprobs(backbone, backbone.prompt_ids(backbone.tokenize(SUMMARY)), tokens)
        assert pair.token_logprobs_document == pytest.approx(doc, abs=1e-5)
        assert pair.logprob_document == pytest.approx(sum(doc) / len(doc), abs=1e-5)
        assert pair.logprob_summary == pytest.approx(sum(summ) / len(summ), abs=1e-5)
        assert SUMMARY[slice(*pair.answer_span)].lower() == pair.answer.lower()
        differences.append(sum(doc) / len(doc) - sum(summ) / len(summ))
    assert len(example.pairs) == 4  # The, cat, sat, on: four distinct answers
    assert example.score == pytest.approx(sum(differences) / len(differences), abs=1e-5)


def test_identical_document_and_summary_score_zero(scorer):
    assert scorer.score([SUMMARY], [SUMMARY]).examples[0].score == pytest.approx(0.0, abs=1e-6)


def test_beam_mode_uses_generation_scores(qagens, monkeypatch):
    monkeypatch.setattr(QUALS, "generate", fake_generate)
    scorer = QUALS(qagen=qagens["llama"], cache_generations=False, summary_likelihood="beam", **SMALL)
    example = scorer.score([DOCUMENT], [SUMMARY]).examples[0]
    generated = fake_generate(scorer, [SUMMARY])[0]
    for pair, hyp in zip(example.pairs, generated, strict=True):
        beam = hyp.hypothesis.beam_token_scores
        assert pair.token_logprobs_summary == beam
        assert pair.logprob_summary == pytest.approx(sum(beam) / len(beam))


def test_null_when_no_pair_survives(qagens, monkeypatch):
    scorer = QUALS(qagen=qagens["llama"], cache_generations=False, **SMALL)  # real generation: random model
    result = scorer.score([DOCUMENT, DOCUMENT], [SUMMARY, "   "])
    assert result.scores == [None, None]
    assert result.examples[0].reason in ("no well-formed QA pair generated",
                                         "no generated answer occurs in the summary")
    assert result.examples[0].n_generated == 3
    assert result.examples[1].reason == "empty summary"
    assert result.mean is None and result.n_null == 2


def test_mean_excludes_nulls(scorer):
    result = scorer.score([DOCUMENT, DOCUMENT], [SUMMARY, "!!!"])
    assert result.scores[1] is None
    assert result.mean == pytest.approx(result.scores[0])


def test_long_document_takes_best_window(qagens, monkeypatch):
    monkeypatch.setattr(QUALS, "generate", fake_generate)
    long_document = "Officials said 12 people were hurt near Leeds. " * 12 + SUMMARY
    scorer = QUALS(qagen=QAGen(str(qagens["llama"].backbone.model_id), device="cpu", window_tokens=24,
                               window_overlap=4), cache_generations=False, window_tokens=24, window_overlap=4,
                   **SMALL)
    example = scorer.score([long_document], [SUMMARY]).examples[0]
    assert example.n_windows > 3
    backbone = scorer.qagen.backbone
    for pair in example.pairs:
        per_window = scorer.qagen.score([long_document], [[list(pair.token_ids)]])[0].sequences[0]
        means = [per_window.mean(w) for w in range(example.n_windows)]
        assert pair.document_window == max(range(len(means)), key=means.__getitem__)
        assert pair.logprob_document == pytest.approx(max(means))
    assert backbone.family == "causal"


def test_generation_cache_hits(qagens, tmp_path, monkeypatch):
    monkeypatch.setenv("QUALS_CACHE_DIR", str(tmp_path))
    first = QUALS(qagen=qagens["llama"], **SMALL)
    one = first.score([DOCUMENT], [SUMMARY])
    assert first.cache.misses == 1 and first.cache.hits == 0
    second = QUALS(qagen=qagens["llama"], **SMALL)
    two = second.score(["another document"], [SUMMARY])
    assert second.cache.hits == 1
    assert [h.hypothesis for h in second.generate([SUMMARY])[0]] == [h.hypothesis for h in first.generate([SUMMARY])[0]]
    other = QUALS(qagen=qagens["llama"], **{**SMALL, "num_groups": 4})  # other settings: other key
    other.score([DOCUMENT], [SUMMARY])
    assert other.cache.misses == 1
    assert one.examples[0].n_generated == two.examples[0].n_generated == 3
    repeated = QUALS(qagen=qagens["llama"], **{**SMALL, "num_groups": 2})
    twice = repeated.generate(["A new summary.", "A new summary.", ""])
    assert repeated.cache.misses == 1 and twice[0] == twice[1] and twice[2] == []


def test_span_constraint_only_allows_summary_substrings(qagens):
    backbone = qagens["bart"].backbone
    summary = "Officials said 12 people were hurt near Leeds."
    constraint = SummarySpanConstraint(backbone, [summary])
    question = backbone.tokenize("Who said it?" + backbone.qa_format.separator.rstrip())
    assert constraint(0, backbone.tokenize("Who said")) is None  # question part: free
    rng = random.Random(0)
    for _ in range(20):
        prefix = list(question)
        for _ in range(12):
            allowed = constraint(0, prefix)
            assert allowed
            token = rng.choice(allowed)
            if token == backbone.eos_token_id:
                break
            prefix.append(token)
        answer = backbone.decode(prefix).split(backbone.qa_format.separator.strip(), 1)[1].strip()
        assert answer.lower() in summary.lower()


def test_span_constraint_in_generation(qagens):
    backbone = qagens["llama"].backbone
    summary = "Officials said 12 people were hurt near Leeds."
    constraint = SummarySpanConstraint(backbone, [summary])
    prompt = backbone.prompt_ids(backbone.tokenize(summary)) + backbone.tokenize(" Who was hurt?\nAnswer:")
    from quals.generation import diverse_beam_search

    hyps = diverse_beam_search(backbone, [prompt], GenerationConfig(num_groups=4, min_length=1, max_length=6),
                               constraint=lambda i, prefix: constraint(
                                   i, backbone.tokenize(" Q\nAnswer:") + list(prefix)))[0]
    for hyp in hyps:
        text = backbone.decode(hyp.token_ids).strip()
        assert text.lower() in summary.lower()


def test_unknown_setting_is_rejected(qagens):
    with pytest.raises(TypeError, match="unknown QUALS settings"):
        QUALS(qagen=qagens["llama"], num_grups=3)
    with pytest.raises(ValueError, match="summary_likelihood"):
        QualsConfig(summary_likelihood="mean")


def test_results_do_not_depend_on_batch_composition(scorer):
    documents = [DOCUMENT, "A different document about Leeds and 12 people.", DOCUMENT]
    summaries = [SUMMARY, "Officials said 12 people were hurt.", "The mat was in Paris."]
    together = scorer.score(documents, summaries).scores
    alone = [scorer.score([d], [s]).scores[0] for d, s in zip(documents, summaries, strict=True)]
    assert all(math.isclose(a, b, abs_tol=1e-5) for a, b in zip(together, alone, strict=True))


def test_damaged_generation_cache_entries_are_misses_not_wrong_scores(qagens, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("QUALS_CACHE_DIR", str(tmp_path))
    fresh = QUALS(qagen=qagens["llama"], **SMALL)
    expected = [h.hypothesis for h in fresh.generate([SUMMARY])[0]]
    entry = next((tmp_path / "generations").rglob("*.json"))
    good = entry.read_text()
    for damage in ("[]", '[{"x": 1}]', good[: len(good) // 2], '[{"token_ids": "12"}]'):
        entry.write_text(damage)
        scorer = QUALS(qagen=qagens["llama"], **SMALL)
        with caplog.at_level("WARNING", logger="quals.metrics.generation_cache"):
            again = [h.hypothesis for h in scorer.generate([SUMMARY])[0]]
        assert again == expected and scorer.cache.misses == 1 and scorer.cache.hits == 0
        assert "generating again" in caplog.text
        assert entry.read_text() == good  # rewritten whole
        caplog.clear()


def test_signature_and_cache_key_change_with_the_prompt_and_the_dtype(tiny_dirs, tmp_path, monkeypatch):
    import dataclasses

    monkeypatch.setenv("QUALS_CACHE_DIR", str(tmp_path))
    plain = QAGen(str(tiny_dirs["llama"]), device="cpu", dtype="float32", batch_size=8)
    prompt = dataclasses.replace(plain.backbone.qa_format, prompt_suffix="\n\nAsk:")
    other = QAGen(str(tiny_dirs["llama"]), device="cpu", dtype="float32", batch_size=8,
                  qa_format=dataclasses.replace(prompt, question_prefix=" "))
    half = QAGen(str(tiny_dirs["llama"]), device="cpu", dtype="bfloat16", batch_size=8)
    scorers = [QUALS(qagen=q, **SMALL) for q in (plain, other, half)]
    assert len({s.signature for s in scorers}) == 3
    assert plain.info.format_fingerprint != other.info.format_fingerprint
    assert plain.info.format_fingerprint == half.info.format_fingerprint  # the dtype is its own part
    for scorer in scorers:
        scorer.generate([SUMMARY])
    assert [s.cache.misses for s in scorers] == [1, 1, 1]  # no scorer reads another's generations
    again = QUALS(qagen=plain, **SMALL)
    again.generate([SUMMARY])
    assert again.cache.hits == 1


def test_shared_qagen_settings_are_checked_not_dropped(qagens):
    with pytest.warns(UserWarning, match="dtype, batch_size given here are ignored"):
        QUALS(qagen=qagens["llama"], dtype="bfloat16", batch_size=4, cache_generations=False)
    with pytest.raises(ValueError, match="differ from the shared QAGen"):
        QUALS(qagen=qagens["llama"], window_tokens=32, cache_generations=False)
    with pytest.raises(ValueError, match="smaller than"):
        QAGen(str(qagens["llama"].backbone.model_id), device="cpu", window_tokens=64, window_overlap=64)
    with pytest.raises(ValueError, match="window_overlap=500 must be >= 0 and smaller than the"):
        QAGen(str(qagens["llama"].backbone.model_id), device="cpu", window_overlap=500).window_tokens()
