"""Shared result types. Frozen dataclasses, never bare tuples or nested dicts."""

from __future__ import annotations

from dataclasses import dataclass

from quals.provenance import signature


@dataclass(frozen=True)
class Hypothesis:
    """One sequence returned by diverse beam search.

    Attributes:
        token_ids: generated tokens; ends with EOS when ``finished``.
        token_logprobs: the model's own log-prob of each token (no penalty, no masks).
        beam_token_scores: the per-token scores the search ranked by: ``token_logprobs`` minus
            the Hamming diversity penalty of that step (equal to ``token_logprobs`` in group 0).
        group: diversity group the hypothesis came from (0 = plain beam search).
        rank: position within its group, best first.
        finished: False when the hypothesis hit ``max_length`` without emitting EOS.
        score: ``sum(beam_token_scores) / len(token_ids) ** length_penalty`` (fairseq's ranking).
    """

    token_ids: tuple[int, ...]
    token_logprobs: tuple[float, ...]
    beam_token_scores: tuple[float, ...]
    group: int
    rank: int
    finished: bool
    score: float

    @property
    def logprob_sum(self) -> float:
        return float(sum(self.token_logprobs))

    @property
    def beam_score_sum(self) -> float:
        return float(sum(self.beam_token_scores))


@dataclass(frozen=True)
class QAHypothesis:
    """A generated hypothesis read as a question-answer pair.

    ``question`` and ``answer`` are None when the text does not follow the QA format
    (no separator, empty part, or unfinished); such hypotheses are kept so callers can count them.
    """

    hypothesis: Hypothesis
    text: str
    question: str | None
    answer: str | None

    @property
    def well_formed(self) -> bool:
        return self.question is not None and self.answer is not None


@dataclass(frozen=True)
class WindowedLogprobs:
    """Per-token log-probs of one token sequence under each window of its context.

    ``by_window[w][t]`` is log p(x_t | x_<t, window w of the context).
    """

    by_window: tuple[tuple[float, ...], ...]

    def mean(self, window: int) -> float:
        values = self.by_window[window]
        return float(sum(values) / len(values))

    def best_window(self) -> int:
        """Window under which the sequence is most likely (mean token log-prob), first on ties."""
        means = [self.mean(w) for w in range(len(self.by_window))]
        return max(range(len(means)), key=lambda w: (means[w], -w))


@dataclass(frozen=True)
class ContextScores:
    """Scores of all sequences given for one context.

    Attributes:
        windows: ``(start, end)`` token offsets of each context window in the tokenized context;
            one window when the context fits the model.
        sequences: one entry per given sequence, in the given order.
    """

    windows: tuple[tuple[int, int], ...]
    sequences: tuple[WindowedLogprobs, ...]


@dataclass(frozen=True)
class ScoreSignature:
    """Everything that determines a QUALS score, built once per scorer.

    ``str()`` is the one-line signature written beside every output; :meth:`generation_key`
    is the part that determines generated QA pairs, from which the generation cache key is made,
    so the two cannot drift apart.
    """

    quals_version: str
    model: str
    weights: str
    format: str
    dtype: str
    device_kind: str
    settings: str  # canonical JSON of all metric settings
    generation: str  # canonical JSON of the settings that determine generation
    torch_version: str
    transformers_version: str

    def __str__(self) -> str:
        return signature(f"quals:{self.quals_version}", model=self.model, weights=self.weights, format=self.format,
                         dtype=self.dtype, device=self.device_kind, settings=self.settings, torch=self.torch_version,
                         transformers=self.transformers_version)

    def generation_key(self) -> dict:
        """What a cached generation must share to be reused (the summary text is added by the cache)."""
        return {"weights": self.weights, "format": self.format, "dtype": self.dtype, "device": self.device_kind,
                "generation": self.generation}
