"""QAGS: question cleaning and selection, the answer-consistency filter, batched greedy answering
and beam-search question generation against slow references, extractive QA, and the whole metric
on tiny random models of both families (prompted backbone, and explicit QG + QA models)."""

from __future__ import annotations

import math
import random

import pytest
import torch
from fixtures import reference
from fixtures.tiny_qa import build_bert_qa, fake_questions
from hypothesis import given, settings
from hypothesis import strategies as st

from quals.metrics.answers import token_f1
from quals.metrics.qags import QAGS
from quals.metrics.qags_answering import BackboneAnswerer, ExtractiveAnswerer, ModelAnswer, greedy_continue
from quals.metrics.qags_config import QagsConfig
from quals.metrics.qags_questions import (
    QGPrompt,
    QuestionCandidate,
    QuestionGenerator,
    clean_question,
    select_questions,
    selection_settled,
    unanswered_questions,
)
from quals.models.windows import split_windows
from quals.qagen import QAGen

DOCUMENT = "The cat sat on the mat in Paris on Monday. Officials said 12 people were hurt near Leeds."
SUMMARY = "The cat sat on the mat in Paris."
TINY = dict(beam_size=2, questions_per_answer=2, max_question_tokens=6, max_answer_tokens=4)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core machine two OpenMP threads
    make each tiny forward pass ~100x slower; restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----- pure parts ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("Who sat on the mat? The cat.", "Who sat on the mat?"),
    ("  Where is it??", "Where is it?"),
    ("Who sat?", None),                      # fewer than 3 words
    ("Who sat on the mat", None),            # no question mark
    ("What ? is this", None),                # cut after the first '?': 2 words
])
def test_clean_question(text, expected):
    assert clean_question(text) == expected


def test_select_questions_filters_sorts_deduplicates_and_caps():
    qs = [QuestionCandidate("Q1?", -0.5, 0), QuestionCandidate("Q2?", -0.1, 1), QuestionCandidate("Q1?", -0.2, 2),
          QuestionCandidate("Q3?", -0.3, 0), QuestionCandidate("Q4?", -0.05, 3)]
    consistent = lambda q: q.candidate != 3  # noqa: E731  (Q4's only instance is inconsistent)
    kept = select_questions(qs, consistent, k=10)
    assert [(q.question, q.candidate) for q in kept] == [("Q2?", 1), ("Q1?", 2), ("Q3?", 0)]
    assert [q.question for q in select_questions(qs, consistent, k=2)] == ["Q2?", "Q1?"]
    assert select_questions(qs, lambda q: False, k=3) == []
    with pytest.raises(ValueError, match="k must be >= 1"):
        select_questions(qs, consistent, k=0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(-50, 0), st.integers(0, 3)), max_size=25),
       st.integers(1, 6), st.integers(1, 5), st.integers(0, 10_000))
def test_incremental_filter_rounds_give_the_full_selection(rows, k, round_size, seed):
    """Answering best-first in rounds until settled keeps exactly what answering everything keeps."""
    rng = random.Random(seed)
    qs = [QuestionCandidate(f"Q{q}?", score / 10, cand) for q, score, cand in rows]
    verdict = {(q.question, q.candidate): rng.random() < 0.5 for q in qs}
    consistent = lambda q: verdict[(q.question, q.candidate)]  # noqa: E731
    answered: set[str] = set()
    while not selection_settled(qs, answered, consistent, k):
        batch = unanswered_questions(qs, answered)[:round_size]
        assert batch
        answered.update(batch)
    full = select_questions(qs, consistent, k)
    partial = select_questions([q for q in qs if q.question in answered], consistent, k)
    assert [q.question for q in partial] == [q.question for q in full]


def test_config_checks():
    with pytest.raises(ValueError, match="questions_per_answer"):
        QagsConfig(beam_size=2, questions_per_answer=3)
    with pytest.raises(ValueError, match="answer_match_f1"):
        QagsConfig(answer_match_f1=1.5)
    with pytest.raises(ValueError, match=r"\{answer\}"):
        QagsConfig(qg_template="context: {context}")


# ----- batched greedy answering ----------------------------------------------------------------
def _reference_greedy(backbone, prompt, forced, max_new, stop_ids):
    tokens = []
    while True:
        lp = reference.next_logprobs(backbone, prompt, forced + tokens)
        token = int(lp.argmax())
        if token in stop_ids:
            return tokens, token
        tokens.append(token)
        if len(tokens) >= max_new:
            return tokens, None


def test_greedy_continue_equals_uncached_reference(backbone):
    prompts = [backbone.prompt_ids(backbone.tokenize(t)) for t in (DOCUMENT, SUMMARY)]
    questions = ["Who sat?", "Where did the cat sit on the mat on Monday?", "What?", "Who said 12 people were hurt?"]
    forced = [backbone.tokenize(q) for q in questions] * 2
    owners = [0, 0, 0, 0, 1, 1, 1, 1]
    stop_ids = frozenset({backbone.eos_token_id})
    got = greedy_continue(backbone, prompts, owners, forced, 5, stop_ids)
    for row, (tokens, logprobs, stop) in enumerate(got):
        expected_tokens, expected_stop = _reference_greedy(backbone, prompts[owners[row]], forced[row], 5, stop_ids)
        assert tokens == expected_tokens and stop == expected_stop
        assert len(logprobs) == len(tokens) + (stop is not None)
        reference_logprobs = reference.sequence_logprobs(backbone, prompts[owners[row]],
                                                         forced[row] + tokens + ([stop] if stop is not None else []))
        assert logprobs == pytest.approx(reference_logprobs[len(forced[row]):], abs=1e-4)


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_answerer_windows_and_batch_size_do_not_change_answers(tiny_backbones, batch_size):
    backbone = tiny_backbones["llama"]
    long_document = DOCUMENT * 4
    answerer = BackboneAnswerer(backbone, lambda n: 40, window_overlap=10, batch_size=batch_size, max_answer_tokens=4)
    questions = [["Who sat on the mat?", "Where?", "What did officials say?"], ["Who sat?"]]
    got = answerer.answer([long_document, SUMMARY], questions)
    n_windows = len(split_windows(len(backbone.tokenize(long_document)), 40, 10))
    assert n_windows > 1 and all(a.n_windows == n_windows for a in got[0]) and got[1][0].n_windows == 1
    full = BackboneAnswerer(backbone, lambda n: 40, window_overlap=10, batch_size=64, max_answer_tokens=4)
    expected = full.answer([long_document, SUMMARY], questions)
    for mine, theirs in zip(sum(got, []), sum(expected, []), strict=True):
        assert (mine.text, mine.window, mine.n_windows) == (theirs.text, theirs.window, theirs.n_windows)
        assert mine.score == pytest.approx(theirs.score, abs=1e-5)
    # the chosen window is the one with the best mean answer log-prob
    context = backbone.tokenize(long_document)
    best = None
    for w, (start, end) in enumerate(split_windows(len(context), 40, 10)):
        prompt = backbone.prompt_ids(context[start:end])
        forced = answerer.question_ids(questions[0][0])
        tokens, stop = _reference_greedy(backbone, prompt, forced, 4, answerer.stop_ids)
        seq = forced + tokens + ([stop] if stop is not None else [])
        lps = reference.sequence_logprobs(backbone, prompt, seq)[len(forced):]
        mean = sum(lps) / len(lps)
        if best is None or mean > best[0] + 1e-9:
            best = (mean, w)
    assert got[0][0].window == best[1] and got[0][0].score == pytest.approx(best[0], abs=1e-4)


# ----- question generation ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["llama", "bart"])
def test_question_generation_is_plain_beam_search_per_input(tiny_backbones, kind):
    backbone = tiny_backbones[kind]
    prompt = QGPrompt(backbone)
    contexts, answers = [SUMMARY, DOCUMENT], [["the cat", "Paris", "the mat"], ["Leeds"]]
    generator = QuestionGenerator(backbone, prompt, beam_size=3, questions_per_answer=2, max_question_tokens=6,
                                  batch_size=6)
    generator._question_marks = frozenset()  # compare the search itself; the '?' stop is tested below
    got = generator.generate(contexts, answers)
    for c, context in enumerate(contexts):
        for a, answer in enumerate(answers[c]):
            ids = prompt.ids(context, answer)
            hyps = reference.diverse_beam_search(backbone, ids, groups=1, width=3, lam=0.0, min_length=1,
                                                 max_length=6)
            ranked = sorted(hyps, key=lambda h: -h[2][3] / len(h[2][0]))[:2]
            assert [q.text for q in got[c][a]] == [backbone.decode(h[2][0]).strip() for h in ranked]
            assert [q.score for q in got[c][a]] == pytest.approx([h[2][3] / len(h[2][0]) for h in ranked], abs=1e-4)
    one_by_one = QuestionGenerator(backbone, prompt, beam_size=3, questions_per_answer=2, max_question_tokens=6,
                                   batch_size=3)
    one_by_one._question_marks = frozenset()
    again = one_by_one.generate(contexts, answers)
    texts = lambda out: [[[q.text for q in qs] for qs in per] for per in out]  # noqa: E731
    assert texts(again) == texts(got)
    assert [q.score for per in again for qs in per for q in qs] == pytest.approx(
        [q.score for per in got for qs in per for q in qs], abs=1e-5)


def test_generation_stops_after_question_mark(tiny_backbones):
    backbone = tiny_backbones["llama"]
    generator = QuestionGenerator(backbone, QGPrompt(backbone), beam_size=2, questions_per_answer=2,
                                  max_question_tokens=8)
    mark = backbone.tokenize("?")[0]
    assert mark in generator._question_marks
    assert generator._after_question_mark(0, [5, 6]) is None
    assert generator._after_question_mark(0, [5, mark]) == [backbone.eos_token_id]
    # forcing '?' first: every hypothesis must end right after it
    generator._after_question_mark = lambda i, prefix: [mark] if not prefix else [backbone.eos_token_id]
    out = generator.generate([SUMMARY], [["Paris"]])[0][0]
    assert out and all(q.text == "?" and q.finished for q in out)


def test_prompts_follow_the_family(tiny_backbones):
    causal, seq2seq = tiny_backbones["llama"], tiny_backbones["bart"]
    text = QGPrompt(causal, instruction="Ask.").text("ctx", "ans")
    assert "ctx" in text and "ans" in text and text.rstrip().endswith("Question:")  # no chat template: plain
    assert QGPrompt(seq2seq).text("ctx", "ans") == "answer: ans  context: ctx"
    ids = QGPrompt(seq2seq).ids("ctx", "ans")
    assert ids[0] == seq2seq.tokenizer.bos_token_id and ids[-1] == seq2seq.eos_token_id
    with pytest.raises(ValueError, match="must contain"):
        QGPrompt(seq2seq, template="{context}")


# ----- extractive QA ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return build_bert_qa(tmp_path_factory.mktemp("tiny-bert-qa"))


def _brute_force_span(start, end, allowed, max_len):
    best = (-math.inf, None)
    for s in range(len(start)):
        for e in range(s, min(len(start), s + max_len)):
            if allowed[s] and allowed[e] and start[s] + end[e] > best[0]:
                best = (float(start[s] + end[e]), (s, e))
    return best


@pytest.mark.parametrize("no_answer", [False, True])
def test_extractive_answer_is_the_best_span_over_features(bert_dir, no_answer):
    answerer = ExtractiveAnswerer(str(bert_dir), device="cpu", dtype="float32", batch_size=2, max_answer_tokens=3,
                                  max_length=24, stride=6, no_answer=no_answer)
    context = "the cat sat on the mat in paris on monday . officials said 12 people were hurt near leeds ."
    got = answerer.answer([context, "the cat sat ."], [["who sat on the mat ?", "where ?"], ["who sat ?"]])
    tok = answerer.tokenizer
    enc = tok(["who sat on the mat ?"], [context], truncation="only_second", max_length=24, stride=6,
              return_overflowing_tokens=True, return_offsets_mapping=True, padding=True, return_tensors="pt")
    assert len(enc["input_ids"]) > 1 and got[0][0].n_windows == len(enc["input_ids"])
    with torch.no_grad():
        out = answerer.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                             token_type_ids=enc["token_type_ids"])
    best = (-math.inf, "", 0)
    for row in range(len(enc["input_ids"])):
        allowed = [s == 1 for s in enc.sequence_ids(row)]
        start, end = out.start_logits[row].tolist(), out.end_logits[row].tolist()
        score, span = _brute_force_span(start, end, allowed, 3)
        text = context[enc["offset_mapping"][row][span[0]][0]:enc["offset_mapping"][row][span[1]][1]]
        if no_answer and start[0] + end[0] > score:
            score, text = start[0] + end[0], ""
        if score > best[0]:
            best = (score, text, row)
    assert (got[0][0].text, got[0][0].window) == (best[1], best[2])
    assert got[0][0].score == pytest.approx(best[0], abs=1e-4)
    assert all(a.text in context for a in got[0]) and got[1][0].text in "the cat sat ."


# ----- the metric --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def qagens(tiny_dirs):
    return {kind: QAGen(str(tiny_dirs[kind]), device="cpu", dtype="float32", batch_size=8)
            for kind in ("llama", "bart")}


class _FakeAnswers:
    """Answers by (context, question) from a table; anything else gets 'nothing'."""

    def __init__(self, table):
        self.table = table
        self.calls = []

    def __call__(self, contexts, questions):
        self.calls.append([len(q) for q in questions])
        return [[ModelAnswer(self.table.get((c, q), "nothing"), -1.0, 0, 1) for q in qs]
                for c, qs in zip(contexts, questions, strict=True)]


def test_consistency_filter_and_formula(qagens, monkeypatch):
    scorer = QAGS(qagen=qagens["llama"], **TINY)
    monkeypatch.setattr(scorer, "generate_questions", fake_questions.__get__(scorer))
    monkeypatch.setattr(scorer, "extract_answers", lambda summaries: [["Paris", "the cat", "the mat"]])
    fake = _FakeAnswers({
        (SUMMARY, "What about Paris here?"): "in Paris",        # F1 2/3 with "Paris": kept at 0.5, not at 1.0
        (SUMMARY, "What about the cat here?"): "The cat",       # exact match
        (SUMMARY, "What about the mat here?"): "the",           # empty after normalisation: never matches
        (DOCUMENT, "What about Paris here?"): "Paris",
        (DOCUMENT, "What about the cat here?"): "a dog",
    })
    monkeypatch.setattr(scorer, "answer", fake)
    example = scorer.score([DOCUMENT], [SUMMARY]).examples[0]
    assert len(example.candidates) == 3
    assert (example.n_clean, example.n_answered, example.n_consistent) == (3, 3, 2)
    by_question = {q.question: q for q in example.questions}
    assert set(by_question) == {"What about Paris here?", "What about the cat here?"}
    assert by_question["What about Paris here?"].f1 == pytest.approx(token_f1("in Paris", "Paris"))
    assert by_question["What about the cat here?"].f1 == 0.0
    assert example.score == pytest.approx((2 / 3 + 0.0) / 2)
    assert [q.question for q in example.questions] == ["What about Paris here?", "What about the cat here?"]

    strict = QAGS(qagen=qagens["llama"], answer_match_f1=1.0, **TINY)
    monkeypatch.setattr(strict, "generate_questions", fake_questions.__get__(strict))
    monkeypatch.setattr(strict, "extract_answers", lambda summaries: [["Paris", "the cat", "the mat"]])
    monkeypatch.setattr(strict, "answer", fake)
    example = strict.score([DOCUMENT], [SUMMARY]).examples[0]
    assert [q.question for q in example.questions] == ["What about the cat here?"] and example.score == 0.0

    nothing = _FakeAnswers({})
    monkeypatch.setattr(strict, "answer", nothing)
    example = strict.score([DOCUMENT], [SUMMARY]).examples[0]
    assert example.score is None and example.reason == "no question passed the answer-consistency filter"
    assert example.to_dict(details=False)["n_questions"] == 0


def test_filter_answers_best_first_and_stops_once_settled(qagens, monkeypatch):
    scorer = QAGS(qagen=qagens["llama"], max_questions=1, **TINY)
    monkeypatch.setattr(scorer, "generate_questions", fake_questions.__get__(scorer))
    monkeypatch.setattr(scorer, "extract_answers", lambda summaries: [["Paris", "the cat", "the mat"]])
    fake = _FakeAnswers({(SUMMARY, "What about Paris here?"): "Paris"})
    monkeypatch.setattr(scorer, "answer", fake)
    example = scorer.score([DOCUMENT], [SUMMARY]).examples[0]
    assert fake.calls[0] == [1]  # the best question alone; consistent, so the selection is settled
    assert example.n_answered == 1 and [q.question for q in example.questions] == ["What about Paris here?"]


@pytest.mark.parametrize("kind", ["llama", "bart"])
def test_end_to_end_on_tiny_models(qagens, kind, monkeypatch):
    scorer = QAGS(qagen=qagens[kind], answer_match_f1=0.0, **TINY)
    real = scorer.score([DOCUMENT, DOCUMENT, DOCUMENT], [SUMMARY, "", "  ."])
    assert real.examples[1].reason == "empty summary"
    assert real.examples[2].reason == "no answer candidate (entity or noun chunk) in the summary"
    first = real.examples[0]
    assert first.n_generated == len(first.candidates) * 2 and first.candidates
    assert first.score is None or 0.0 <= first.score <= 1.0
    monkeypatch.setattr(scorer, "generate_questions", fake_questions.__get__(scorer))
    result = scorer.score([DOCUMENT, SUMMARY], [SUMMARY, SUMMARY])
    for example in result.examples:
        if example.score is None:
            assert example.reason == "no question passed the answer-consistency filter"
            continue
        assert example.score == pytest.approx(sum(q.f1 for q in example.questions) / len(example.questions))
        for q in example.questions:
            assert q.f1 == pytest.approx(token_f1(q.answer_summary, q.answer_document))
    if result.examples[1].score is not None:
        assert result.examples[1].score == 1.0  # identical document and summary: QAGS's fixed point
    again = scorer.score([SUMMARY, DOCUMENT], [SUMMARY, SUMMARY])  # order and batch do not matter
    assert again.scores == result.scores[::-1]
    assert "qags:" in result.signature and "settings:" in result.signature


def test_explicit_qg_and_qa_models(tiny_dirs, bert_dir, monkeypatch):
    scorer = QAGS(qg_model=str(tiny_dirs["bart"]), qa_model=str(bert_dir), device="cpu", dtype="float32",
                  answer_match_f1=0.0, **TINY)
    assert scorer.qagen is None  # no backbone loaded when both models are named
    models = scorer.models()
    assert models["qg"]["model"] == str(tiny_dirs["bart"]) and models["qa"]["kind"] == "extractive"
    assert scorer.count_tokens("the cat sat") == 3
    real = scorer.score([DOCUMENT], [SUMMARY]).examples[0]
    assert real.n_generated == len(real.candidates) * 2
    monkeypatch.setattr(scorer, "generate_questions", fake_questions.__get__(scorer))
    result = scorer.score([DOCUMENT, SUMMARY], [SUMMARY, SUMMARY])
    assert any(e.score is not None for e in result.examples)
    for example in result.examples:
        for q in example.questions:
            assert q.answer_document.lower() in (DOCUMENT if example is result.examples[0] else SUMMARY).lower()
    if result.examples[1].score is not None:
        assert result.examples[1].score == 1.0
    assert "qa:" + str(bert_dir) in result.signature


def test_unknown_setting_is_rejected(qagens):
    with pytest.raises(TypeError, match="unknown QAGS settings"):
        QAGS(qagen=qagens["llama"], num_groups=3)
