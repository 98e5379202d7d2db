"""QAGS (Wang, Cho and Lewis, ACL 2020, "Asking and Answering Questions to Evaluate the Factual
Consistency of Summaries"), the QA-based baseline that QUALS replaces.

Replicated (authors' code, ``qg_utils.py``/``qa_utils.py``):
1. answer candidates = spaCy named entities and noun chunks of the summary, deduplicated, at
   most 10 per summary (:mod:`quals.metrics.answer_extraction`);
2. answer-conditional question generation, beam search of width 10, 10 hypotheses per candidate
   (:mod:`quals.metrics.qags_questions`);
3. cleaning: cut after the first ``?``, at least 3 words, deduplicated; answer-consistency filter:
   every question is answered from the summary and dropped when that answer does not match its
   candidate; the ``max_questions`` (authors: 20) most probable questions are kept;
4. each kept question is answered from the document; QAGS = mean SQuAD token F1 between the
   summary answer and the document answer (:mod:`quals.metrics.answers`).

Differs, on purpose:
- Models: by default LoRA adapters trained here on SQuAD-format data, on the packaged SmolLM2
  (the authors: BART-large QG on NewsQA, BERT-large QA on SQuAD 2.0): an answer-conditional
  question generator (beam search) and a generative answerer (greedy; see
  ``quals.models.packaged.DEFAULT_QAGS_QA``). Naming a ``model`` instead prompts that one backbone
  for both jobs; ``qg_model`` / ``qa_model`` name any HF QG model and any HF QA model (extractive
  or generative).
- Match: the authors' README drops a question when the summary answer "doesn't match" the
  candidate; their scoring run only dropped unanswerable questions. Here a question is consistent
  when token F1(summary answer, candidate) >= ``answer_match_f1`` (default 0.5: the answer may
  add or drop a word of a short candidate; 1.0 = same normalised tokens, i.e. exact match up to
  word order); an answer that is empty after normalisation never matches.
- No padding: with fewer than ``max_questions`` consistent questions the authors topped the list
  up with random unfiltered questions; here only the consistent ones count. None survive -> score
  ``None`` with a reason.
- Long documents are read in overlapping windows (best window per question), not truncated.

Example:
    >>> from quals import QAGS
    >>> scorer = QAGS()
    >>> result = scorer.score(["The mayor opened the bridge on Friday."],
    ...                       ["The mayor opened the bridge on Monday."])
    >>> result.examples[0].score  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence

from quals.metrics.answer_extraction import AnswerExtractor
from quals.metrics.answers import answer_tokens, token_f1
from quals.metrics.qags_answering import BackboneAnswerer, ExtractiveAnswerer, ModelAnswer
from quals.metrics.qags_config import QagsConfig
from quals.metrics.results import check_pairs
from quals.metrics.qags_questions import (
    GeneratedQuestion,
    QGPrompt,
    QGPromptRecord,
    QuestionCandidate,
    QuestionGenerator,
    clean_question,
    select_questions,
    selection_settled,
    unanswered_questions,
)
from quals.metrics.qags_results import QagsExample, QagsQuestion, QagsResult
from quals.models.loading import is_extractive_qa, load_backbone, trained_info
from quals.models.packaged import DEFAULT_BASE_MODEL, DEFAULT_QAGS_QA, DEFAULT_QAGS_QG
from quals.provenance import signature, version_fields


def qags_components(model: str | None, qg_model: str | None, qa_model: str | None) -> tuple[str | None, str | None]:
    """The question generator and answerer QAGS reads: the given ones; where none is given and no
    backbone is named, the trained packaged adapters; where a backbone is named, ``None`` (that
    backbone, prompted, does the job). One place, so the class and the CLI never disagree."""
    if model is not None:
        return qg_model, qa_model
    return qg_model or DEFAULT_QAGS_QG, qa_model or DEFAULT_QAGS_QA


class QAGS:
    """Load QAGS's models once and score (document, summary) pairs.

    Args:
        model: a backbone that, prompted, does whatever ``qg_model``/``qa_model`` do not replace.
            Default (``None``): no backbone; the trained packaged components do both jobs
            (``DEFAULT_QAGS_QG`` and ``DEFAULT_QAGS_QA`` of :mod:`quals.models.packaged`, docs/qags.md). Name
            ``packaged:smollm2-135m-instruct`` for the prompted baseline of earlier versions.
        qg_model: a question generator: one trained by ``quals train-qagen --task qg`` (its
            recorded prompt is used), or any Hugging Face seq2seq (or causal) QG model, fed
            ``qg_template``; default: the packaged one, or with ``model`` that backbone, prompted.
        qa_model: an answerer: an extractive ``...ForQuestionAnswering`` model (best span), or a
            language model that answers greedily after the forced question (a ``--task qa``
            adapter, a QAGen); default: the packaged one, or with ``model`` that backbone.
        device, dtype, batch_size: as for :class:`quals.QAGen` (batch size default: the shared
            ``qagen``'s, else 64).
        config: full settings; ``**settings`` override single fields.
        qagen: an already loaded :class:`quals.QAGen` to share with QUALS.
        show_progress: progress bars of the backbone, when this scorer loads it.
    """

    def __init__(self, model: str | None = None, *, qg_model: str | None = None, qa_model: str | None = None,
                 device: str = "auto", dtype: str = "auto", batch_size: int | None = None,
                 config: QagsConfig | None = None, qagen=None, show_progress: bool = False, **settings) -> None:
        self.config = _apply_settings(config or QagsConfig(), settings)
        cfg = self.config
        if batch_size is None:
            batch_size = qagen.batch_size if qagen is not None else 64
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.extractor = AnswerExtractor(cfg.num_answers, cfg.seed, cfg.spacy_model)
        if qagen is None:
            qg_model, qa_model = qags_components(model, qg_model, qa_model)
        self.qagen = qagen
        if self.qagen is None and (qg_model is None or qa_model is None):  # the backbone does a job
            from quals.qagen import QAGen

            self.qagen = QAGen(model or DEFAULT_BASE_MODEL, device=device, dtype=dtype, batch_size=batch_size,
                               window_tokens=cfg.window_tokens, window_overlap=cfg.window_overlap,
                               show_progress=show_progress)
        self.trained_qg_prompt: QGPromptRecord | None = None
        if qg_model is None:
            qg_backbone, prompt = self.qagen.backbone, QGPrompt(self.qagen.backbone, cfg.qg_template,
                                                                cfg.qg_instruction)
        else:
            qg_backbone = load_backbone(qg_model, device=device, dtype=dtype)
            info = trained_info(qg_model) or {}
            if info.get("task") == "qg":  # trained by `quals train-qagen --task qg`: its own prompt
                self.trained_qg_prompt = QGPromptRecord(**info["qg_prompt"])
                prompt = self.trained_qg_prompt.prompt(qg_backbone)
            else:
                prompt = QGPrompt(qg_backbone, cfg.qg_template, None)
        self.generator = QuestionGenerator(
            qg_backbone, prompt, beam_size=cfg.beam_size,
            questions_per_answer=cfg.questions_per_answer, max_question_tokens=cfg.max_question_tokens,
            batch_size=batch_size)
        if qa_model is None:
            self.answerer = backbone_answerer(self.qagen, cfg, batch_size)
        else:
            self.answerer = load_answerer(qa_model, cfg, device=device, dtype=dtype, batch_size=batch_size,
                                          show_progress=show_progress)

    # ----- identity ----------------------------------------------------------------------
    def models(self) -> dict:
        """Which weights do each job."""
        qg = self.generator.backbone
        qa = self.answerer
        qa_model = qa.backbone if isinstance(qa, BackboneAnswerer) else qa
        qg_entry = {"model": qg.model_id, "weights": qg.fingerprint, "family": qg.family,
                    "format": qg.format_fingerprint, "dtype": _dtype(qg.model)}
        if self.trained_qg_prompt is not None:
            qg_entry["prompt"] = self.trained_qg_prompt.to_dict()
        return {"qg": qg_entry,
                "qa": {"model": qa_model.model_id, "weights": qa_model.fingerprint,
                       "kind": "backbone-greedy" if isinstance(qa, BackboneAnswerer) else "extractive",
                       "dtype": _dtype(qa_model.model)},
                "answers": self.extractor.version}

    @property
    def signature(self) -> str:
        """One line naming everything that determines the scores."""
        models, versions = self.models(), version_fields()
        settings = json.dumps(self.config.to_dict(), sort_keys=True, separators=(",", ":"))
        qg, qa = models["qg"], models["qa"]
        trained_prompt = {"qg_prompt": json.dumps(qg["prompt"], sort_keys=True)} if "prompt" in qg else {}
        return signature(f"qags:{versions['quals_version']}", qg=qg["model"], qg_weights=qg["weights"],
                         qg_format=qg["format"], **trained_prompt, qa=qa["model"], qa_weights=qa["weights"],
                         answers=models["answers"],
                         dtype=f"{qg['dtype']}/{qa['dtype']}", settings=settings, torch=versions["torch_version"],
                         transformers=versions["transformers_version"])

    def run_info(self) -> dict:
        """The run fingerprint written beside outputs."""
        return {"metric": "qags", "signature": self.signature, "models": self.models(), **version_fields(),
                "settings": self.config.to_dict(), "batch_size": self.batch_size}

    def count_tokens(self, text: str) -> int:
        """Tokens of a document for the model that reads it."""
        if isinstance(self.answerer, BackboneAnswerer):
            return len(self.answerer.backbone.tokenize(text))
        return len(self.answerer.tokenizer(text, add_special_tokens=False)["input_ids"])

    # ----- pipeline stages -----------------------------------------------------------------
    def extract_answers(self, summaries: Sequence[str]) -> list[list[str]]:
        """Answer candidates of every summary."""
        return self.extractor.extract(summaries)

    def generate_questions(self, summaries: Sequence[str], candidates: Sequence[Sequence[str]]):
        """``out[s][a]``: generated questions for candidate a of summary s."""
        return self.generator.generate(summaries, candidates)

    def answer(self, contexts: Sequence[str], questions: Sequence[Sequence[str]]) -> list[list[ModelAnswer]]:
        """``out[c][q]``: the QA model's answer to ``questions[c][q]`` from ``contexts[c]``."""
        return self.answerer.answer(contexts, questions)

    # ----- scoring -----------------------------------------------------------------------
    def score(self, documents: Sequence[str], summaries: Sequence[str]) -> QagsResult:
        """Score each (document, summary) pair; document first, summary second."""
        check_pairs(documents, summaries)
        unique = [s for s in dict.fromkeys(summaries) if s.strip()]
        candidates = dict(zip(unique, self.extract_answers(unique), strict=True))
        with_candidates = [s for s in unique if candidates[s]]
        generated = dict(zip(with_candidates, self.generate_questions(
            with_candidates, [candidates[s] for s in with_candidates]), strict=True))
        cleaned = {s: _clean(generated[s], self.config.min_question_words) for s in with_candidates}
        summary_answers = self._filter_answers(cleaned, candidates)
        kept = {s: self._select(cleaned[s], candidates[s], summary_answers[s]) for s in with_candidates}
        to_read = [i for i, s in enumerate(summaries) if kept.get(s)]
        read = self.answer([documents[i] for i in to_read], [[q.question for q in kept[summaries[i]]] for i in to_read])
        document_answers = dict(zip(to_read, read, strict=True))
        examples = []
        for i, summary in enumerate(summaries):
            if not summary.strip():
                examples.append(QagsExample(None, "empty summary", (), (), 0, 0, 0, 0, 0))
                continue
            examples.append(self._example(
                candidates=candidates[summary],
                generated=generated.get(summary, []), cleaned=cleaned.get(summary, []),
                summary_answers=summary_answers.get(summary, {}), kept=kept.get(summary, []),
                document_answers=document_answers.get(i, [])))
        return QagsResult(examples=tuple(examples), signature=self.signature)

    def _filter_answers(self, cleaned: dict[str, list[QuestionCandidate]],
                        candidates: dict[str, list[str]]) -> dict[str, dict[str, ModelAnswer]]:
        """Answer questions from their summaries, best first, in batched rounds of
        ``max_questions`` per summary, until each summary's selection is settled (see
        :func:`selection_settled`): the kept questions are exactly those of answering them all."""
        answers: dict[str, dict[str, ModelAnswer]] = {s: {} for s in cleaned}
        pending = [s for s in cleaned if cleaned[s]]
        while pending:
            asks = [unanswered_questions(cleaned[s], answers[s])[:self.config.max_questions] for s in pending]
            for summary, asked, answered in zip(pending, asks, self.answer(pending, asks), strict=True):
                answers[summary].update(zip(asked, answered, strict=True))
            pending = [s for s in pending if not selection_settled(
                cleaned[s], answers[s], self._consistency(candidates[s], answers[s]), self.config.max_questions)]
        return answers

    def _consistency(self, candidates: list[str], answers: dict[str, ModelAnswer]):
        """``consistent(q)``: the summary answer to q matches the candidate q was generated for."""
        threshold = self.config.answer_match_f1

        def consistent(q: QuestionCandidate) -> bool:
            answer = answers.get(q.question)  # unanswered: ranked below the settled selection
            if answer is None:
                return False
            return bool(answer_tokens(answer.text)) and token_f1(answer.text, candidates[q.candidate]) >= threshold

        return consistent

    def _select(self, cleaned: list[QuestionCandidate], candidates: list[str],
                answers: dict[str, ModelAnswer]) -> list[QuestionCandidate]:
        return select_questions(cleaned, self._consistency(candidates, answers), self.config.max_questions)

    def _example(self, *, candidates, generated, cleaned, summary_answers, kept, document_answers) -> QagsExample:
        consistent = self._consistency(candidates, summary_answers)
        counts = dict(candidates=tuple(candidates), n_generated=sum(len(g) for g in generated),
                      n_clean=len({q.question for q in cleaned}), n_answered=len(summary_answers),
                      n_consistent=len({q.question for q in cleaned if consistent(q)}))
        if not candidates:
            return QagsExample(None, "no answer candidate (entity or noun chunk) in the summary", (), **counts,
                               n_windows=0)
        if not cleaned:
            return QagsExample(None, "no well-formed question generated", (), **counts, n_windows=0)
        if not kept:
            return QagsExample(None, "no question passed the answer-consistency filter", (), **counts, n_windows=0)
        questions = []
        for q, doc_answer in zip(kept, document_answers, strict=True):
            summary_answer = summary_answers[q.question].text
            questions.append(QagsQuestion(
                question=q.question, answer_candidate=candidates[q.candidate], answer_summary=summary_answer,
                answer_document=doc_answer.text, f1=token_f1(summary_answer, doc_answer.text),
                generation_score=q.score, answer_score_document=doc_answer.score,
                document_window=doc_answer.window))
        score = math.fsum(q.f1 for q in questions) / len(questions)
        return QagsExample(score, None, tuple(questions), **counts,
                           n_windows=max(a.n_windows for a in document_answers))


def backbone_answerer(qagen, config: QagsConfig, batch_size: int) -> BackboneAnswerer:
    """Greedy answers from a loaded :class:`quals.QAGen`'s backbone, windows as it reads documents."""
    return BackboneAnswerer(qagen.backbone, qagen.window_tokens, window_overlap=config.window_overlap,
                            batch_size=batch_size, max_answer_tokens=config.max_answer_tokens)


def load_answerer(model: str, config: QagsConfig, *, device: str = "auto", dtype: str = "auto", batch_size: int = 64,
                  show_progress: bool = False) -> BackboneAnswerer | ExtractiveAnswerer:
    """QAGS's answerer for ``model``: the best span of an extractive ``...ForQuestionAnswering``
    model, else greedy answers of a language model (a ``--task qa`` adapter, a QAGen, any LM)."""
    if is_extractive_qa(model):
        return ExtractiveAnswerer(model, device=device, dtype=dtype, batch_size=batch_size,
                                  max_answer_tokens=config.max_answer_tokens, max_length=config.qa_max_length,
                                  stride=config.qa_stride, no_answer=config.extractive_no_answer)
    from quals.qagen import QAGen

    reader = QAGen(model, device=device, dtype=dtype, batch_size=batch_size, window_tokens=config.window_tokens,
                   window_overlap=config.window_overlap, show_progress=show_progress)
    return backbone_answerer(reader, config, batch_size)


def _dtype(model) -> str:
    from quals.models.quantize import dtype_name

    return dtype_name(model)


def _clean(generated: list[list[GeneratedQuestion]], min_words: int) -> list[QuestionCandidate]:
    out = []
    for candidate, hypotheses in enumerate(generated):
        for hypothesis in hypotheses:
            question = clean_question(hypothesis.text, min_words)
            if question is not None:
                out.append(QuestionCandidate(question, hypothesis.score, candidate))
    return out


def _apply_settings(config: QagsConfig, settings: dict) -> QagsConfig:
    allowed = {f.name for f in dataclasses.fields(QagsConfig)}
    unknown = set(settings) - allowed
    if unknown:
        raise TypeError(f"unknown QAGS settings {sorted(unknown)}; allowed: {sorted(allowed)}")
    return dataclasses.replace(config, **settings)


def score(documents: Sequence[str], summaries: Sequence[str], **overrides) -> QagsResult:
    """One call: build a :class:`QAGS` scorer with ``overrides`` and score."""
    return QAGS(**overrides).score(documents, summaries)
