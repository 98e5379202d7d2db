"""QAGS question answering: the QAGen backbone answering greedily, or an extractive QA model.

**Backbone (default).** A QAGen writes ``question SEP answer EOS`` after a context, so it answers a
question when the question and SEP are forced after the context and the answer is decoded
greedily until EOS (or a newline; at most ``max_answer_tokens``). A QAGen fine-tuned for QUALS is
thus also the QA model, and untuned chat models get an explicit QA cue (``Question: ...
Answer:``). Each context window is prefilled once per batch and its KV cache (or encoder output)
is shared by all the questions asked of it, as in teacher-forced scoring. The shared part of the
forced tokens is fed in one multi-token pass; the rest of each question is then forced one token
per step while shorter questions already decode their answers, so rows never need padding
between question and answer. Long documents are read in overlapping windows and a question's
answer is the one from the window where it is most likely (highest mean log-prob of the answer
tokens and the end token).

**Extractive (``--qa-model``).** Any ``AutoModelForQuestionAnswering``: question and context
as a pair, long contexts in overlapping features (``max_length``/``stride``), the best span
``start <= end < start + max_answer_tokens`` inside the context by start + end logit, best
feature wins; optionally the empty answer when the null (CLS) score beats every span (SQuAD 2.0
models).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from quals.models.backbone import Backbone
from quals.models.windows import resolve_overlap, split_windows

_COMPACT_DEAD_SHARE = 0.25


@dataclass(frozen=True)
class ModelAnswer:
    """An answer and how confident the model was.

    Attributes:
        text: the answer ("" when the model gave none).
        score: backbone: mean log-prob (nats) of the answer tokens and the end token;
            extractive: start + end logit of the span (or of the null answer).
        window: the context window (backbone) or feature (extractive) it came from.
        n_windows: how many windows or features of the context were read.
    """

    text: str
    score: float
    window: int
    n_windows: int = 1


@dataclass
class _Job:
    context: int
    window: int
    prompt: list[int]
    questions: list[int]


def _plan(backbone: Backbone, contexts: Sequence[list[int]], counts: Sequence[int], window_tokens: int,
          overlap: int | None, batch_size: int) -> tuple[list[list[_Job]], list[int]]:
    """Jobs (one context window x up to ``batch_size`` questions) grouped into batches of at most
    ``batch_size`` rows, similar prompt lengths together; also each context's window count."""
    jobs: list[_Job] = []
    n_windows: list[int] = []
    for c, (context, count) in enumerate(zip(contexts, counts, strict=True)):
        windows = split_windows(len(context), window_tokens, resolve_overlap(overlap, window_tokens)) if count else []
        n_windows.append(len(windows))
        for w, (start, end) in enumerate(windows):
            prompt = backbone.prompt_ids(context[start:end])
            for first in range(0, count, batch_size):
                jobs.append(_Job(c, w, prompt, list(range(first, min(first + batch_size, count)))))
    batches: list[list[_Job]] = []
    rows = 0
    for job in sorted(jobs, key=lambda j: len(j.prompt)):
        if not batches or rows + len(job.questions) > batch_size:
            batches.append([])
            rows = 0
        batches[-1].append(job)
        rows += len(job.questions)
    return batches, n_windows


def greedy_continue(backbone: Backbone, prompts: list[list[int]], owners: list[int], forced: list[list[int]],
                    max_new_tokens: int, stop_ids: frozenset[int]) -> list[tuple[list[int], list[float], int | None]]:
    """For row r: prompt ``prompts[owners[r]]``, then ``forced[r]`` (teacher-forced), then greedy
    decoding until a token of ``stop_ids`` or ``max_new_tokens`` tokens.

    Returns:
        Per row: generated tokens (stop token excluded), their log-probs (stop token's last when
        one was produced), and the stop token (None when the row hit ``max_new_tokens``).
    """
    if any(len(f) == 0 for f in forced):
        raise ValueError("every row needs at least one forced token")
    state = backbone.prefill(prompts)
    state.select(torch.tensor(owners, device=backbone.device))
    rows = len(forced)
    common = min(len(f) for f in forced)
    backbone.extend(state, torch.tensor([f[:common] for f in forced], dtype=torch.long))
    position = [common] * rows
    tokens: list[list[int]] = [[] for _ in range(rows)]
    logprobs: list[list[float]] = [[] for _ in range(rows)]
    stops: list[int | None] = [None] * rows
    physical = list(range(rows))  # physical row -> logical row, -1 once finished
    while True:
        feed = [backbone.eos_token_id] * len(physical)
        generating = [(p, r) for p, r in enumerate(physical) if r >= 0 and position[r] >= len(forced[r])]
        if generating:
            index = torch.tensor([p for p, _ in generating], device=backbone.device)
            best = state.next_logprobs.index_select(0, index).max(-1)
            for (p, r), value, token in zip(generating, best.values.tolist(), best.indices.tolist(), strict=True):
                logprobs[r].append(value)
                if token in stop_ids:
                    stops[r] = token
                    physical[p] = -1
                    continue
                tokens[r].append(token)
                if len(tokens[r]) >= max_new_tokens:
                    physical[p] = -1
                    continue
                feed[p] = token
        for p, r in enumerate(physical):
            if r >= 0 and position[r] < len(forced[r]):
                feed[p] = forced[r][position[r]]
                position[r] += 1
        live = [p for p, r in enumerate(physical) if r >= 0]
        if not live:
            break
        if 1 - len(live) / len(physical) > _COMPACT_DEAD_SHARE:
            state.select(torch.tensor(live, device=backbone.device))
            physical = [physical[p] for p in live]
            feed = [feed[p] for p in live]
        backbone.extend(state, torch.tensor(feed, dtype=torch.long)[:, None])
    return [(tokens[r], logprobs[r], stops[r]) for r in range(rows)]


def forced_question_ids(backbone: Backbone, question: str) -> list[int]:
    """Forced tokens: the question as the QAGen writes it, then the separator (its trailing space
    left to the answer's first token, as the tokenizer would join them). QA training
    (:mod:`quals.training.qagen.tasks`) builds its inputs with this same function."""
    fmt = backbone.qa_format
    return backbone.tokenize(f"{fmt.question_prefix}{question.strip()}{fmt.separator.rstrip()}")


class BackboneAnswerer:
    """Greedy answers from a QAGen backbone (see the module docstring).

    Args:
        backbone: the model (its ``qa_format`` gives the question prefix and separator).
        window_tokens: callable giving context tokens per window for a continuation length
            (e.g. :meth:`quals.QAGen.window_tokens`).
        window_overlap: tokens shared by consecutive windows.
        batch_size: most rows (questions x windows) per forward pass.
        max_answer_tokens: most answer tokens decoded.
    """

    def __init__(self, backbone: Backbone, window_tokens, *, window_overlap: int | None = None, batch_size: int = 64,
                 max_answer_tokens: int = 24) -> None:
        self.backbone = backbone
        self.window_tokens = window_tokens
        self.window_overlap = window_overlap
        self.batch_size = batch_size
        self.max_answer_tokens = max_answer_tokens
        tokenizer = backbone.tokenizer
        special = set(tokenizer.all_special_ids)
        newline = {i for i in range(len(tokenizer)) if i not in special and "\n" in tokenizer.decode([i])}
        self.stop_ids = frozenset({backbone.eos_token_id, *newline})

    def question_ids(self, question: str) -> list[int]:
        return forced_question_ids(self.backbone, question)

    def answer(self, contexts: Sequence[str], questions: Sequence[Sequence[str]]) -> list[list[ModelAnswer]]:
        """``out[c][q]``: the answer to ``questions[c][q]`` read from ``contexts[c]``."""
        if len(contexts) != len(questions):
            raise ValueError(f"{len(contexts)} contexts but {len(questions)} question lists")
        forced = [[self.question_ids(q) for q in qs] for qs in questions]
        longest = max((len(f) for fs in forced for f in fs), default=1)
        window = self.window_tokens(longest + self.max_answer_tokens)
        tokenized = [self.backbone.tokenize(c) if qs else [] for c, qs in zip(contexts, questions, strict=True)]
        batches, n_windows = _plan(self.backbone, tokenized, [len(qs) for qs in questions], window,
                                   self.window_overlap, self.batch_size)
        found: list[list[list[ModelAnswer | None]]] = [
            [[None] * n_windows[c] for _ in qs] for c, qs in enumerate(questions)]
        for batch in batches:
            owners = [j for j, job in enumerate(batch) for _ in job.questions]
            rows = [forced[job.context][q] for job in batch for q in job.questions]
            results = iter(greedy_continue(self.backbone, [job.prompt for job in batch], owners, rows,
                                           self.max_answer_tokens, self.stop_ids))
            for job in batch:
                for q in job.questions:
                    found[job.context][q][job.window] = self._read(*next(results), window=job.window)
        return [[dataclasses.replace(max(per_window, key=lambda a: (a.score, -a.window)), n_windows=len(per_window))
                 for per_window in per_question] for per_question in found]

    def _read(self, tokens: list[int], logprobs: list[float], stop: int | None, window: int) -> ModelAnswer:
        shown = tokens + ([stop] if stop is not None and stop != self.backbone.eos_token_id else [])
        text = self.backbone.decode(shown).split("\n")[0].strip()
        score = sum(logprobs) / len(logprobs) if logprobs else float("-inf")
        return ModelAnswer(text, float(score), window)


class ExtractiveAnswerer:
    """Span answers from a Hugging Face extractive QA model (see the module docstring).

    Args:
        model: hub id or local directory of an ``AutoModelForQuestionAnswering`` (safetensors, no
            remote code) with a fast tokenizer (offsets are needed to cut the span from the text).
        device, dtype: as for :func:`quals.models.load_backbone`.
        batch_size: most features per forward pass.
        max_answer_tokens: longest span, in model tokens.
        max_length: tokens per feature (question + context + special tokens).
        stride: context tokens shared by consecutive features of a long context.
        no_answer: answer "" when the null score beats the best span (SQuAD 2.0 models).
    """

    def __init__(self, model: str, *, device: str = "auto", dtype: str = "auto", batch_size: int = 64,
                 max_answer_tokens: int = 24, max_length: int = 384, stride: int = 128,
                 no_answer: bool = False) -> None:
        from quals.models.weights import load_model

        if not 0 <= stride < max_length:
            raise ValueError(f"stride must be in [0, max_length={max_length}), got {stride}")
        loaded = load_model(model, device=device, dtype=dtype, head="question-answering")
        self.model, self.tokenizer = loaded.network, loaded.tokenizer
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError(f"{model}: extractive QA needs a fast tokenizer (character offsets)")
        self.model_id = model
        self.device = self.model.device
        self.fingerprint = loaded.fingerprint
        self.batch_size = batch_size
        self.max_answer_tokens = max_answer_tokens
        self.max_length = max_length
        self.stride = stride
        self.no_answer = no_answer
        self.question_first = self.tokenizer.padding_side == "right"

    def answer(self, contexts: Sequence[str], questions: Sequence[Sequence[str]]) -> list[list[ModelAnswer]]:
        """``out[c][q]``: the answer to ``questions[c][q]`` read from ``contexts[c]``."""
        if len(contexts) != len(questions):
            raise ValueError(f"{len(contexts)} contexts but {len(questions)} question lists")
        pairs = [(c, q) for c, qs in enumerate(questions) for q in range(len(qs))]
        best: dict[tuple[int, int], ModelAnswer] = {}
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start:start + self.batch_size]
            for (c, q), answer in zip(chunk, self._answer_pairs([questions[c][q] for c, q in chunk],
                                                                [contexts[c] for c, _ in chunk]), strict=True):
                best[(c, q)] = answer
        return [[best[(c, q)] for q in range(len(qs))] for c, qs in enumerate(questions)]

    @torch.inference_mode()
    def _answer_pairs(self, questions: list[str], contexts: list[str]) -> list[ModelAnswer]:
        first, second = (questions, contexts) if self.question_first else (contexts, questions)
        encoded = self.tokenizer(first, second, truncation="only_second" if self.question_first else "only_first",
                                 max_length=self.max_length, stride=self.stride, return_overflowing_tokens=True,
                                 return_offsets_mapping=True, padding=True, return_tensors="pt")
        owner = encoded["overflow_to_sample_mapping"].tolist()
        inputs = {k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        starts, ends = [], []
        for first_row in range(0, len(owner), self.batch_size):
            batch = {k: v[first_row:first_row + self.batch_size].to(self.device) for k, v in inputs.items()}
            out = self.model(**batch)
            starts.append(out.start_logits.float().cpu())
            ends.append(out.end_logits.float().cpu())
        start_logits, end_logits = torch.cat(starts), torch.cat(ends)
        context_id = 1 if self.question_first else 0
        answers: list[ModelAnswer | None] = [None] * len(questions)
        feature_of: list[int] = [0] * len(questions)
        n_features = [owner.count(pair) for pair in range(len(questions))]
        for row, pair in enumerate(owner):
            in_context = torch.tensor([s == context_id for s in encoded.sequence_ids(row)])
            candidate = self._best_span(start_logits[row], end_logits[row], in_context,
                                        encoded["offset_mapping"][row], contexts[pair], encoded["input_ids"][row])
            window = feature_of[pair]
            feature_of[pair] += 1
            if candidate is not None and (answers[pair] is None or candidate[1] > answers[pair].score):
                answers[pair] = ModelAnswer(candidate[0], candidate[1], window, n_features[pair])
        return [a if a is not None else ModelAnswer("", float("-inf"), 0, n_features[pair])
                for pair, a in enumerate(answers)]

    def _best_span(self, start: torch.Tensor, end: torch.Tensor, in_context: torch.Tensor, offsets: torch.Tensor,
                   context: str, input_ids: torch.Tensor) -> tuple[str, float] | None:
        if not bool(in_context.any()):
            return None
        length = start.shape[0]
        scores = start[:, None] + end[None, :]
        span = torch.ones((length, length), dtype=torch.bool).triu().tril(self.max_answer_tokens - 1)
        allowed = span & in_context[:, None] & in_context[None, :]
        flat = scores.masked_fill(~allowed, float("-inf")).view(-1).argmax()
        s, e = divmod(int(flat), length)
        value = float(scores[s, e])
        if self.no_answer:
            cls_positions = (input_ids == self.tokenizer.cls_token_id).nonzero()
            cls = int(cls_positions[0]) if self.tokenizer.cls_token_id is not None and len(cls_positions) else 0
            null = float(start[cls] + end[cls])
            if null > value:
                return "", null
        return context[int(offsets[s][0]):int(offsets[e][1])].strip(), value
