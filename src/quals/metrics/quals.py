"""QUALS (Nan et al., ACL-IJCNLP 2021, "Improving Factual Consistency of Abstractive
Summarization via Question Answering").

Replicated: QA pairs generated from the summary by diverse beam search (60 groups of width 1,
lambda 0.5, min 8, max 60 tokens), the authors' filter (see :mod:`quals.metrics.filtering`), and
QUALS = mean over kept pairs of (mean token log-prob given the document - mean token log-prob given
the summary), averages over question, SEP, answer and EOS tokens.

Differs, on purpose and configurable:
- ``summary_likelihood='rescore'`` (default) rescales the summary side by teacher forcing; the
  authors used the beam score, which carries the diversity penalty (``'beam'`` reproduces that).
- No QA pair kept -> score ``None`` with a reason, not the authors' -1e5 sentinel.
- Long documents are scored over overlapping windows (best window per pair), not truncated.
- ``answer_constraint='summary_span'`` optionally constrains answers to summary substrings.

Example:
    >>> from quals import QUALS
    >>> scorer = QUALS()
    >>> result = scorer.score(["The mayor opened the bridge on Friday."],
    ...                       ["The mayor opened the bridge on Monday."])
    >>> result.examples[0].score  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from quals.generation.config import GenerationConfig
from quals.metrics.answer_constraint import SummarySpanConstraint
from quals.metrics.aggregation import AggregationConfig, token_roles
from quals.metrics.filtering import NO_ENTITY_ANSWER, Candidate, answer_span, select_pairs_with_rounds
from quals.metrics.generation_cache import GenerationCache
from quals.metrics.quals_config import (  # noqa: F401  (re-exported: the config belongs with the metric)
    ANSWER_CONSTRAINTS,
    DEFAULT_NUM_GROUPS,
    PRESETS,
    SUMMARY_LIKELIHOODS,
    QualsConfig,
)
from quals.metrics.results import QAPairScore, QualsExample, QualsResult, check_pairs
from quals.models.packaged import DEFAULT_MODEL
from quals.paths import cache_dir
from quals.qagen import QAGen
from quals.types import QAHypothesis, ScoreSignature

class QUALS:
    """Load a QAGen once and score (document, summary) pairs.

    Args:
        model: QAGen model (hub id, directory, ``packaged:NAME``; default: packaged SmolLM2).
        device, dtype, batch_size: see :class:`quals.QAGen`.
        config: full settings; ``**settings`` override single fields (e.g. ``max_pairs=5``,
            ``num_groups=20`` for the generation part).
        qagen: an already loaded :class:`quals.QAGen` to share between metrics.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str = "auto", dtype: str = "auto",
                 batch_size: int = 64, config: QualsConfig | None = None, qagen: QAGen | None = None,
                 show_progress: bool = False, **settings) -> None:
        self.config = _apply_settings(config or QualsConfig(), settings)
        if qagen is not None:
            _check_shared(qagen, self.config, model=model, device=device, dtype=dtype, batch_size=batch_size)
        self.qagen = qagen or QAGen(model, device=device, dtype=dtype, batch_size=batch_size,
                                    window_tokens=self.config.window_tokens,
                                    window_overlap=self.config.window_overlap, show_progress=show_progress)
        self.cache = GenerationCache(cache_dir() / "generations" if self.config.cache_generations else None)
        self._answer_kinds = None

    @property
    def identity(self) -> ScoreSignature:
        """Everything that determines the scores (model, weights, format, dtype, settings, versions)."""
        info = self.qagen.info

        def canonical(value) -> str:
            return json.dumps(value, sort_keys=True, separators=(",", ":"))

        return ScoreSignature(info.quals_version, info.model, info.fingerprint, info.format_fingerprint, info.dtype,
                              info.device.split(":")[0], canonical(self.config.to_dict()),
                              canonical(self.config.generation_settings()), info.torch_version,
                              info.transformers_version)

    @property
    def signature(self) -> str:
        """One line naming everything that determines the scores."""
        return str(self.identity)

    def run_info(self) -> dict:
        """The run fingerprint written beside outputs."""
        return {"metric": "quals", "signature": self.signature, "model": asdict(self.qagen.info),
                "settings": self.config.to_dict(), "batch_size": self.qagen.batch_size}

    def count_tokens(self, text: str) -> int:
        return len(self.qagen.backbone.tokenize(text))

    # ----- scoring -----------------------------------------------------------------------
    def score(self, documents: Sequence[str], summaries: Sequence[str]) -> QualsResult:
        """Score each (document, summary) pair; document first, summary second."""
        check_pairs(documents, summaries)
        generated = self.generate(summaries)
        examples = self._score_generated(documents, summaries, generated)
        return QualsResult(examples=tuple(examples), signature=self.signature)

    def generate(self, summaries: Sequence[str]) -> list[list[QAHypothesis]]:
        """QA hypotheses of every summary (none for empty ones), from the cache when possible.

        A summary repeated in ``summaries`` is generated once.
        """
        identity = self.identity
        settings, fingerprint = identity.generation_key(), identity.weights
        found: dict[str, list[QAHypothesis]] = {}
        missing: list[str] = []
        for summary in dict.fromkeys(summaries):
            if not summary.strip():
                found[summary] = []
                continue
            cached = self.cache.get(GenerationCache.key(summary, fingerprint, settings))
            if cached is None:
                missing.append(summary)
            else:
                found[summary] = [self.qagen.read(h) for h in cached]
        if missing:
            constraint = (SummarySpanConstraint(self.qagen.backbone, missing)
                          if self.config.answer_constraint == "summary_span" else None)
            fresh = self.qagen.generate(missing, self.config.generation, constraint=constraint)
            for summary, hyps in zip(missing, fresh, strict=True):
                self.cache.put(GenerationCache.key(summary, fingerprint, settings), [h.hypothesis for h in hyps])
                found[summary] = hyps
        return [found[summary] for summary in summaries]

    def kept_pairs(self, summaries: Sequence[str],
                   generated: Sequence[Sequence[QAHypothesis]]) -> list[list[tuple[QAHypothesis, int]]]:
        """The filter: for each summary, the kept hypotheses and the filter round that kept each."""
        kept: list[list[tuple[QAHypothesis, int]]] = []
        allowed = self._allowed_answers(summaries)
        for summary, hyps, answers in zip(summaries, generated, allowed, strict=True):
            candidates = [Candidate(h.question, h.answer, h.hypothesis.beam_score_sum) for h in hyps]
            kept.append([(hyps[i], r) for i, r in select_pairs_with_rounds(candidates, summary, self.config.max_pairs,
                                                                           answers)])
        return kept

    def _score_generated(self, documents, summaries, generated) -> list[QualsExample]:
        kept = self.kept_pairs(summaries, generated)
        contexts, qa_lists, owners = [], [], []
        for i, pairs in enumerate(kept):
            if not pairs:
                continue
            sequences = [list(p.hypothesis.token_ids) for p, _ in pairs]
            contexts.append(documents[i])
            qa_lists.append(sequences)
            owners.append((i, "document"))
            if self.config.summary_likelihood == "rescore":
                contexts.append(summaries[i])
                qa_lists.append(sequences)
                owners.append((i, "summary"))
        scored = self.qagen.score(contexts, qa_lists) if contexts else []
        by_owner = dict(zip(owners, scored, strict=True))
        return [self._example(summaries[i], generated[i], kept[i], by_owner.get((i, "document")),
                              by_owner.get((i, "summary"))) for i in range(len(summaries))]

    def _allowed_answers(self, summaries) -> list[frozenset[str] | None]:
        if self.config.answer_types == "any":
            return [None] * len(summaries)
        if self._answer_kinds is None:
            from quals.metrics.answer_extraction import AnswerExtractor

            self._answer_kinds = AnswerExtractor()
        return self._answer_kinds.answer_kinds(summaries)

    def _example(self, summary, hyps, pairs, document_scores, summary_scores) -> QualsExample:
        n_well_formed = sum(h.well_formed for h in hyps)
        n_in_summary = sum(h.well_formed and h.answer.lower() in summary.lower() for h in hyps)
        if not summary.strip():
            return QualsExample(None, "empty summary", (), 0, 0, 0, 0)
        if not pairs:
            reason = ("no well-formed QA pair generated" if n_well_formed == 0
                      else "no generated answer occurs in the summary" if n_in_summary == 0
                      else NO_ENTITY_ANSWER)
            return QualsExample(None, reason, (), len(hyps), n_well_formed, n_in_summary, 0)
        backbone = self.qagen.backbone
        aggregation = self.config.aggregation
        out = []
        for k, (pair, filter_round) in enumerate(pairs):
            doc = document_scores.sequences[k]
            window = doc.best_window()
            if summary_scores is not None:
                summary_logprobs = summary_scores.sequences[k].by_window[0]
            else:
                summary_logprobs = pair.hypothesis.beam_token_scores
            token_ids = pair.hypothesis.token_ids
            roles = token_roles(token_ids, backbone.decode, backbone.qa_format.separator, backbone.eos_token_id)
            out.append(QAPairScore(
                question=pair.question,
                answer=pair.answer,
                answer_span=answer_span(pair.answer, summary),
                tokens=tuple(backbone.tokenizer.convert_ids_to_tokens(list(token_ids))),
                token_ids=token_ids,
                token_roles=roles,
                logprob_document=doc.mean(window),
                logprob_summary=float(sum(summary_logprobs) / len(summary_logprobs)),
                token_logprobs_document=doc.by_window[window],
                token_logprobs_summary=tuple(summary_logprobs),
                value=aggregation.pair_value(doc.by_window[window], summary_logprobs, roles),
                document_window=window,
                filter_round=filter_round,
                generation_score=pair.hypothesis.beam_score_sum,
            ))
        score = aggregation.combine([p.value for p in out])
        return QualsExample(score, None, tuple(out), len(hyps), n_well_formed, n_in_summary,
                            len(document_scores.windows))


def _check_shared(qagen: QAGen, config: QualsConfig, **given) -> None:
    """A shared QAGen brings its own model and loading settings: say so when others were given,
    and refuse window settings it does not have (the signature would name the wrong ones)."""
    import warnings

    defaults = {"model": DEFAULT_MODEL, "device": "auto", "dtype": "auto", "batch_size": 64}
    ignored = [name for name, value in given.items() if value != defaults[name]]
    if ignored:
        warnings.warn(f"QUALS(qagen=...) uses that QAGen's model, device, dtype and batch size; "
                      f"{', '.join(ignored)} given here are ignored", UserWarning, stacklevel=3)
    theirs = (qagen._window_tokens, qagen.window_overlap)
    if (config.window_tokens, config.window_overlap) != theirs:
        raise ValueError(f"window_tokens/window_overlap {config.window_tokens}/{config.window_overlap} differ from "
                         f"the shared QAGen's {theirs[0]}/{theirs[1]}; build the QAGen with them")


def _apply_settings(config: QualsConfig, settings: dict) -> QualsConfig:
    import dataclasses

    quals_fields = {f.name for f in dataclasses.fields(QualsConfig)}
    generation_fields = {f.name for f in dataclasses.fields(GenerationConfig)}
    aggregation_fields = {f.name for f in dataclasses.fields(AggregationConfig)}
    nested = {"generation", "aggregation"}
    unknown = set(settings) - quals_fields - generation_fields - aggregation_fields
    if unknown:
        raise TypeError(f"unknown QUALS settings {sorted(unknown)}; allowed: "
                        f"{sorted((quals_fields | generation_fields | aggregation_fields) - nested)}")
    generation = dataclasses.replace(config.generation, **{k: v for k, v in settings.items() if k in generation_fields})
    aggregation = dataclasses.replace(config.aggregation,
                                      **{k: v for k, v in settings.items() if k in aggregation_fields})
    return dataclasses.replace(config, generation=generation, aggregation=aggregation,
                               **{k: v for k, v in settings.items() if k in quals_fields})


def score(documents: Sequence[str], summaries: Sequence[str], **overrides) -> QualsResult:
    """One call: build a :class:`QUALS` scorer with ``overrides`` and score."""
    return QUALS(**overrides).score(documents, summaries)
