"""Token roles, token sets, per-pair reductions, aggregation over pairs, smaller caps, re-aggregation
and the paper preset, against values computed by hand on tiny models."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from fixtures import reference

from quals.generation import GenerationConfig
from quals.metrics.aggregation import AggregationConfig, rounds_within, token_roles
from quals.metrics.filtering import Candidate, select_pairs, select_pairs_with_rounds
from quals.metrics.quals import QUALS, QualsConfig
from quals.metrics.reaggregate import reaggregate_record
from quals.qagen import QAGen
from quals.types import Hypothesis, QAHypothesis

DOCUMENT = "The cat sat on the mat in Paris on Monday. Officials said 12 people were hurt near Leeds."
SUMMARY = "The cat sat on the mat in Paris on Monday."
SMALL = dict(num_groups=3, min_length=1, max_length=8)
# Two questions per answer, so the filter needs several rounds and a smaller cap drops pairs.
QUESTIONS = {"cat": ("What sat on the mat?", "Who sat?"), "Paris": ("Where was the mat?", "Which city?"),
             "Monday": ("When did it sit?", "What day?")}


def fake_generate(self, summaries):
    out = []
    for _summary in summaries:
        hyps = []
        for g, (answer, questions) in enumerate(QUESTIONS.items()):
            for r, question in enumerate(questions):
                ids = tuple(self.qagen.qa_token_ids(question, answer))
                scores = tuple(-0.1 * (k + 1 + g + 3 * r) for k in range(len(ids)))
                hyp = Hypothesis(ids, scores, scores, g, r, True, sum(scores) / len(ids))
                hyps.append(QAHypothesis(hyp, f"{question} | {answer}", question, answer))
        out.append(hyps)
    return out


@pytest.fixture(scope="module")
def qagens(tiny_dirs):
    return {kind: QAGen(str(tiny_dirs[kind]), device="cpu", dtype="float32", batch_size=8)
            for kind in ("llama", "bart", "t5")}


def _scorer(qagen, monkeypatch, **settings) -> QUALS:
    monkeypatch.setattr(QUALS, "generate", fake_generate)
    return QUALS(qagen=qagen, cache_generations=False, **{**SMALL, **settings})


@pytest.mark.parametrize("kind", ["llama", "bart", "t5"])
def test_token_roles_split_question_separator_answer_eos(qagens, kind):
    backbone = qagens[kind].backbone
    for question, answer in (("What sat on the mat?", "the cat"), ("Where?", "Paris, France")):
        ids = backbone.qa_token_ids(question, answer)
        roles = token_roles(ids, backbone.decode, backbone.qa_format.separator, backbone.eos_token_id)
        assert len(roles) == len(ids) and roles[-1] == "e" and roles.count("e") == 1
        by_role = {r: backbone.decode([t for t, role in zip(ids, roles, strict=True) if role == r]).strip()
                   for r in "qsa"}
        assert by_role["q"] == question and by_role["a"] == answer
        assert by_role["s"] == backbone.qa_format.separator.strip()
        # question tokens come first, the answer after the separator
        assert "".join(roles).rstrip("e") == "".join(sorted(roles[:-1], key="qsa".index))


def test_token_roles_reject_a_sequence_without_one_separator(qagens):
    backbone = qagens["llama"].backbone
    ids = backbone.tokenize(" Who? no separator here") + [backbone.eos_token_id]
    with pytest.raises(ValueError, match="must occur once"):
        token_roles(ids, backbone.decode, backbone.qa_format.separator, backbone.eos_token_id)


def _hand_pairs(scorer: QUALS, summary_likelihood: str = "rescore"):
    """Per kept pair: (document log-probs, summary log-probs, roles), computed without the scorer."""
    backbone = scorer.qagen.backbone
    generated = fake_generate(scorer, [SUMMARY])[0]
    candidates = [Candidate(h.question, h.answer, h.hypothesis.beam_score_sum) for h in generated]
    out = []
    for index, filter_round in select_pairs_with_rounds(candidates, SUMMARY, scorer.config.max_pairs):
        hyp = generated[index].hypothesis
        ids = list(hyp.token_ids)
        doc = reference.sequence_logprobs(backbone, backbone.prompt_ids(backbone.tokenize(DOCUMENT)), ids)
        summ = (list(hyp.beam_token_scores) if summary_likelihood == "beam" else
                reference.sequence_logprobs(backbone, backbone.prompt_ids(backbone.tokenize(SUMMARY)), ids))
        out.append((doc, summ, token_roles(ids, backbone.decode, backbone.qa_format.separator,
                                           backbone.eos_token_id), filter_round))
    return out


WANTED = {"all": "qsae", "answer": "a", "answer_eos": "ae", "question": "q"}


@pytest.mark.parametrize("kind", ["llama", "bart"])
@pytest.mark.parametrize("token_set", list(WANTED))
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_token_sets_and_reductions_by_hand(qagens, monkeypatch, kind, token_set, reduction):
    scorer = _scorer(qagens[kind], monkeypatch, token_set=token_set, pair_reduction=reduction)
    example = scorer.score([DOCUMENT], [SUMMARY]).examples[0]
    expected = []
    for doc, summ, roles, _ in _hand_pairs(scorer):
        diffs = [d - s for d, s, r in zip(doc, summ, roles, strict=True) if r in WANTED[token_set]]
        expected.append(sum(diffs) / len(diffs) if reduction == "mean" else sum(diffs))
    # fp32 log-probs differ by ~1e-6 per token between the batched and the one-by-one path (more
    # with one thread's summation order), so a sum over a pair's tokens gets a relative tolerance
    assert [p.value for p in example.pairs] == pytest.approx(expected, abs=1e-5, rel=1e-4)
    assert example.score == pytest.approx(sum(expected) / len(expected), abs=1e-5, rel=1e-4)
    if token_set == "all" and reduction == "mean":  # the paper's: value is LL_D - LL_S
        assert [p.difference for p in example.pairs] == pytest.approx([p.value for p in example.pairs], abs=1e-9)


@pytest.mark.parametrize("aggregation,k", [("min", 3), ("lowest_k", 2), ("lowest_k", 100)])
def test_aggregation_over_pairs_by_hand(qagens, monkeypatch, aggregation, k):
    scorer = _scorer(qagens["llama"], monkeypatch, pair_aggregation=aggregation, lowest_k=k)
    example = scorer.score([DOCUMENT], [SUMMARY]).examples[0]
    values = sorted(sum(d - s for d, s in zip(doc, summ, strict=True)) / len(doc)
                    for doc, summ, _, _ in _hand_pairs(scorer))
    expected = values[0] if aggregation == "min" else sum(values[:k]) / len(values[:k])
    assert len(example.pairs) == 6
    assert example.score == pytest.approx(expected, abs=1e-5)


def test_filter_rounds_and_smaller_caps():
    candidates = [Candidate(f"q{i}", a, -i) for i, a in enumerate(["x", "y", "x", "y", "x", "z"])]
    with_rounds = select_pairs_with_rounds(candidates, "x y z", max_pairs=10)
    assert with_rounds == [(0, 0), (1, 0), (5, 0), (2, 1), (3, 1), (4, 2)]
    rounds = [r for _, r in with_rounds]
    for cap in range(1, 8):
        kept = [i for (i, _), keep in zip(with_rounds, rounds_within(rounds, cap), strict=True) if keep]
        assert kept == select_pairs(candidates, "x y z", max_pairs=cap)


def _record(example, row=0) -> dict:
    return json.loads(json.dumps({"row": row, "id": str(row), **example.to_dict(True), "error": None}))


@pytest.mark.parametrize("kind", ["llama", "t5"])
def test_reaggregating_a_score_record_equals_a_fresh_run(qagens, monkeypatch, kind):
    wide = _scorer(qagens[kind], monkeypatch, max_pairs=10)
    record = _record(wide.score([DOCUMENT], [SUMMARY]).examples[0])
    for settings in (dict(token_set="answer", pair_reduction="sum", pair_aggregation="min", max_pairs=2),
                     dict(token_set="question", pair_aggregation="lowest_k", lowest_k=2, max_pairs=4),
                     dict(token_set="answer_eos", max_pairs=10)):
        fresh = _scorer(qagens[kind], monkeypatch, **settings).score([DOCUMENT], [SUMMARY]).examples[0]
        aggregation = AggregationConfig(**{k: v for k, v in settings.items() if k != "max_pairs"})
        again = reaggregate_record(record, aggregation, settings["max_pairs"])
        assert again["n_pairs"] == len(fresh.pairs)
        assert [p["question"] for p in again["pairs"]] == [p.question for p in fresh.pairs]
        # other caps batch other sequences together: float32 noise, nothing more
        assert again["score"] == pytest.approx(fresh.score, abs=1e-5)


def test_reaggregation_needs_details_and_keeps_nulls_and_errors():
    null = {"row": 1, "id": "a", "score": None, "reason": "empty summary", "error": None}
    error = {"row": 2, "id": "b", "error": "bad row"}
    assert reaggregate_record(null, AggregationConfig(token_set="answer")) == null
    assert reaggregate_record(error, AggregationConfig(token_set="answer")) == error
    with pytest.raises(ValueError, match="row 3.*no QA pair details"):
        reaggregate_record({"row": 3, "id": "c", "score": -1.0, "error": None}, AggregationConfig())
    old = {"row": 4, "id": "d", "score": -1.0, "error": None, "pairs": [{"token_logprobs_document": [-1.0]}]}
    with pytest.raises(ValueError, match="row 4.*older quals"):
        reaggregate_record(old, AggregationConfig())


def test_aggregation_config_rejects_unknown_values():
    for bad in (dict(token_set="answers"), dict(pair_reduction="max"), dict(pair_aggregation="median"),
                dict(lowest_k=0)):
        with pytest.raises(ValueError):
            AggregationConfig(**bad)
    with pytest.raises(ValueError, match="no answer tokens"):
        AggregationConfig(token_set="answer").pair_value([-1.0, -2.0], [-1.0, -1.0], ["q", "e"])


def test_paper_preset_is_the_published_method_whatever_the_default():
    paper = QualsConfig.paper()
    assert paper.generation == GenerationConfig()  # the paper's search: 60 groups of 1, lambda 0.5, 8..60
    assert paper.generation.num_groups == 60
    assert (paper.answer_constraint, paper.summary_likelihood, paper.max_pairs) == ("none", "beam", 10)
    assert paper.aggregation == AggregationConfig("all", "mean", "mean")
    # the preset does not follow the default's fields
    assert dataclasses.replace(QualsConfig(), aggregation=AggregationConfig(token_set="answer")).aggregation \
        != paper.aggregation


def test_paper_preset_scores_by_the_paper_formula(qagens, monkeypatch):
    """Paper preset on a tiny model: mean over pairs of (mean LL_D over all tokens - mean beam score)."""
    monkeypatch.setattr(QUALS, "generate", fake_generate)
    scorer = QUALS(qagen=qagens["llama"], config=QualsConfig.paper(), cache_generations=False)
    example = scorer.score([DOCUMENT], [SUMMARY]).examples[0]
    expected = [sum(doc) / len(doc) - sum(summ) / len(summ) for doc, summ, _, _ in _hand_pairs(scorer, "beam")]
    assert len(expected) == 6
    assert example.score == pytest.approx(math.fsum(expected) / len(expected), abs=1e-5)


def test_answer_types_keep_entities_noun_chunks_and_numbers_as_a_fresh_run_and_after_the_fact(qagens, monkeypatch):
    from quals.metrics.answer_extraction import AnswerExtractor
    from quals.metrics.reaggregate import restrict_answers

    summary = "The cat sat on the mat in Paris with 12 friends."
    answers = {"cat": "What sat?", "sat": "What did the cat do?", "Paris": "Where?", "12": "How many friends?",
               "on the": "Which words?"}

    def generator(per_answer: int):
        """One group per answer, ``per_answer`` questions in it (the second ranked lower)."""
        def generate(self, summaries):
            out = []
            for _ in summaries:
                hyps = []
                for g, (answer, question) in enumerate(answers.items()):
                    for rank, q in enumerate((question, question.replace("?", " then?"))[:per_answer]):
                        ids = tuple(self.qagen.qa_token_ids(q, answer))
                        scores = tuple(-0.1 * (k + 1 + g + 5 * rank) for k in range(len(ids)))
                        hyps.append(QAHypothesis(Hypothesis(ids, scores, scores, g, rank, True,
                                                            sum(scores) / len(ids)), f"{q} | {answer}", q, answer))
                out.append(hyps)
            return out
        return generate

    monkeypatch.setattr(QUALS, "generate", generator(1))
    every = QUALS(qagen=qagens["llama"], cache_generations=False, **SMALL).score([DOCUMENT], [summary]).examples[0]
    kinds = QUALS(qagen=qagens["llama"], cache_generations=False, answer_types="entities", **SMALL)
    fresh = kinds.score([DOCUMENT], [summary]).examples[0]
    assert sorted(p.answer for p in every.pairs) == sorted(answers)
    assert sorted(p.answer for p in fresh.pairs) == ["12", "Paris", "cat"]  # "sat" and "on the" are no spans
    allowed = AnswerExtractor().answer_kinds([summary])[0]
    after = reaggregate_record(restrict_answers(_record(every), allowed), AggregationConfig())
    assert after["score"] == pytest.approx(fresh.score, abs=1e-5) and after["n_pairs"] == 3
    # A cap applied after the restriction keeps what a fresh restricted run with that cap keeps.
    # Two questions per answer: the wide run keeps both rounds, cap 2 keeps one round of the 3 entities.
    monkeypatch.setattr(QUALS, "generate", generator(2))
    wide = QUALS(qagen=qagens["llama"], cache_generations=False, **SMALL, max_pairs=20).score(
        [DOCUMENT], [summary]).examples[0]
    assert len(wide.pairs) == 10
    capped = QUALS(qagen=qagens["llama"], cache_generations=False, answer_types="entities", **SMALL, max_pairs=2)
    fresh_capped = capped.score([DOCUMENT], [summary]).examples[0]
    after_capped = reaggregate_record(restrict_answers(_record(wide), allowed), AggregationConfig(), max_pairs=2)
    assert after_capped["n_pairs"] == len(fresh_capped.pairs) == 3
    assert [p["question"] for p in after_capped["pairs"]] == [p.question for p in fresh_capped.pairs]
    assert after_capped["score"] == pytest.approx(fresh_capped.score, abs=1e-5)
    none_left = restrict_answers(_record(every), frozenset({"mat"}))
    assert none_left["score"] is None and "named entity" in none_left["reason"]
    with pytest.raises(ValueError, match="answer_types"):
        QualsConfig(answer_types="nouns")
