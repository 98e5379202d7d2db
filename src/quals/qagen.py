"""QAGen: the joint question-and-answer generation model that QUALS stands on.

Example:
    >>> from quals import QAGen
    >>> qagen = QAGen()                      # packaged SmolLM2-135M-Instruct, CPU or GPU
    >>> pairs = qagen.generate(["The cat sat on the mat in Paris on Monday."])[0]
    >>> kept = [p for p in pairs if p.well_formed]
    >>> scores = qagen.score(["Some document ..."], [[p.hypothesis.token_ids for p in kept]])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quals.generation.config import GenerationConfig
from quals.generation.diverse_beam import TokenConstraint, diverse_beam_search
from quals.models.formats import QAFormat
from quals.models.loading import load_backbone
from quals.models.packaged import DEFAULT_MODEL
from quals.models.quantize import dtype_name
from quals.models.scoring import score_sequences
from quals.models.windows import resolve_overlap
from quals.provenance import version_fields
from quals.types import ContextScores, Hypothesis, QAHypothesis


@dataclass(frozen=True)
class ModelInfo:
    """What produced a result: recorded in every output's signature."""

    model: str
    fingerprint: str
    format_fingerprint: str
    family: str
    device: str
    dtype: str
    quals_version: str
    torch_version: str
    transformers_version: str
    python_version: str


class QAGen:
    """Load a QAGen model once; generate QA pairs from texts and score QA pairs under contexts.

    Args:
        model: hub id, local directory, or ``packaged:NAME`` (default: packaged SmolLM2).
        device: ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``.
        dtype: ``auto`` (bf16 on capable GPUs, else fp32), ``float32``, ``bfloat16``, ``float16``, or
            ``int8`` (CPU only, opt-in: linear layers dynamically quantised; scores move slightly).
        batch_size: most sequences (beams or scored QA pairs) per forward pass.
        window_tokens: most context tokens per scoring window (default: all the model allows,
            capped at 1024 as in the paper's truncation length, but longer contexts are windowed,
            never truncated).
        window_overlap: tokens shared by consecutive windows (default: 128, at most half the window).
        qa_format: override the QA text layout.
        show_progress: tqdm progress bars on long calls.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str = "auto", dtype: str = "auto",
                 batch_size: int = 64, window_tokens: int | None = None, window_overlap: int | None = None,
                 qa_format: QAFormat | None = None, show_progress: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if window_overlap is not None and (window_overlap < 0 or (window_tokens is not None
                                                                   and window_overlap >= window_tokens)):
            raise ValueError(f"window_overlap must be >= 0 and smaller than window_tokens, got {window_overlap} "
                             f"with window_tokens={window_tokens}")
        self.backbone = load_backbone(model, device=device, dtype=dtype, qa_format=qa_format)
        self.batch_size = batch_size
        self.window_overlap = window_overlap
        self._window_tokens = window_tokens
        self.show_progress = show_progress

    # ----- identity --------------------------------------------------------------------------
    @property
    def info(self) -> ModelInfo:
        return ModelInfo(
            model=self.backbone.model_id,
            fingerprint=self.backbone.fingerprint,
            format_fingerprint=self.backbone.format_fingerprint,
            family=self.backbone.family,
            device=str(self.backbone.device),
            dtype=dtype_name(self.backbone.model),
            **version_fields(),
        )

    def window_tokens(self, continuation_tokens: int = 64) -> int:
        """Context tokens per scoring window."""
        limit = self.backbone.max_context_tokens(continuation_tokens)
        window = min(limit, 1024) if self._window_tokens is None else self._window_tokens
        if window > limit:
            raise ValueError(f"window_tokens={window} exceeds what the model allows ({limit})")
        resolve_overlap(self.window_overlap, window)  # a given overlap the window cannot hold is an error here
        return window

    # ----- generation ------------------------------------------------------------------------
    def generate(self, texts: Sequence[str], config: GenerationConfig | None = None, *,
                 constraint: TokenConstraint | None = None) -> list[list[QAHypothesis]]:
        """Generate QA pairs from each text with diverse beam search.

        Raises:
            ValueError: a text is empty or longer than the model's window (named by index).
        """
        config = config or GenerationConfig()
        limit = self.backbone.max_context_tokens(config.max_length)
        prompts = []
        for i, text in enumerate(texts):
            ids = self.backbone.tokenize(text)
            if not text.strip():
                raise ValueError(f"text {i} is empty")
            if len(ids) > limit:
                raise ValueError(f"text {i} has {len(ids)} tokens; the model allows {limit} for generation")
            prompts.append(self.backbone.prompt_ids(ids))
        per_batch = max(1, self.batch_size // config.beams)
        results: list[list[QAHypothesis]] = []
        with self._progress(len(prompts), "generating QA pairs") as bar:
            for start in range(0, len(prompts), per_batch):
                batch = prompts[start:start + per_batch]
                for hyps in diverse_beam_search(self.backbone, batch, config, _shift(constraint, start)):
                    results.append([self.read(h) for h in hyps])
                bar.update(len(batch))
        return results

    def read(self, hypothesis: Hypothesis) -> QAHypothesis:
        """Decode a hypothesis and split it into question and answer."""
        text = self.backbone.decode(hypothesis.token_ids)
        parsed = self.backbone.qa_format.parse(text) if hypothesis.finished else None
        question, answer = parsed if parsed else (None, None)
        return QAHypothesis(hypothesis=hypothesis, text=text, question=question, answer=answer)

    # ----- scoring ---------------------------------------------------------------------------
    def qa_token_ids(self, question: str, answer: str) -> list[int]:
        """Token ids of a QA pair in this model's format, EOS included."""
        return self.backbone.qa_token_ids(question, answer)

    def score(self, contexts: Sequence[str], qa_lists: Sequence[Sequence[Sequence[int]]]) -> list[ContextScores]:
        """Teacher-forced per-token log-probs of QA token sequences under their contexts.

        Args:
            contexts: one text per entry of ``qa_lists``.
            qa_lists: for each context, token-id sequences (e.g. ``Hypothesis.token_ids`` or
                :meth:`qa_token_ids`).

        Returns:
            One :class:`ContextScores` per context; long contexts are split into overlapping
            windows and every window's scores are returned.
        """
        longest = max((len(s) for seqs in qa_lists for s in seqs), default=1)
        window = self.window_tokens(longest)
        tokenized = [self.backbone.tokenize(c) for c in contexts]
        with self._progress(None, "scoring QA pairs") as bar:
            return score_sequences(
                self.backbone, tokenized, qa_lists, window_tokens=window,
                window_overlap=self.window_overlap, batch_size=self.batch_size, progress=bar.update,
            )

    def _progress(self, total: int | None, desc: str):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, disable=not self.show_progress, leave=False)


def _shift(constraint: TokenConstraint | None, offset: int) -> TokenConstraint | None:
    """Make a batch-local input index refer to the caller's list."""
    if constraint is None or offset == 0:
        return constraint
    return lambda index, prefix: constraint(offset + index, prefix)
