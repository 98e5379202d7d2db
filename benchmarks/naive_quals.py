"""QUALS written the plain way with transformers: the reference that benchmarks/throughput.py times.

What "naive" means here, stage by stage, and why it is a fair stand-in:

- **Generation.** transformers 5 no longer has diverse beam search in ``generate`` (it moved to a
  hub repository that an offline machine cannot fetch), so this is what its
  ``generate(num_beams=G*B, num_beam_groups=G, diversity_penalty=...)`` did in transformers 4,
  written out over the model's forward with a ``DynamicCache``: one summary at a time, its prompt
  repeated for every beam and encoded G*B times, one forward per step over all beams, the cache
  reordered by ``index_select`` every step (as ``generate``'s beam search does), every beam kept
  running until all groups are done, groups processed in a Python loop, and the answer
  constraint called once per beam with a per-row mask (``prefix_allowed_tokens_fn``'s logits
  processor). The selection rule is ours (fairseq's), so the hypotheses are the same ones.
- **Scoring.** One forward of ``prompt + QA pair`` per pair and context window, logits only at
  the scored positions: no cache shared between pairs.
- **Filter and aggregation.** The library's own pure functions (no model work), so both sides
  produce the same records.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import DynamicCache

from quals.generation.config import GenerationConfig
from quals.metrics.answer_constraint import SummarySpanConstraint
from quals.metrics.quals import QUALS
from quals.models.windows import resolve_overlap, split_windows
from quals.types import ContextScores, Hypothesis, QAHypothesis, WindowedLogprobs


def _forward(backbone, ids: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
    out = backbone.model(input_ids=ids, use_cache=True, logits_to_keep=1, **{backbone._cache_kw: cache})
    return out.logits[:, -1].float().log_softmax(-1)


def _group_step(g: int, lp: torch.Tensor, beams: list, groups: list, counts: torch.Tensor,
                config: GenerationConfig, eos: int, step: int, constraint) -> list:
    """One group's selection at one step; returns its new beams as (parent row, token, raw, pen, total)."""
    width = config.group_width
    scores = lp[g * width:(g + 1) * width].clone()
    if step < config.min_length:
        scores[:, eos] = float("-inf")
    totals = torch.tensor([b[3] for b in beams], device=lp.device)
    for b, (tokens, *_rest) in enumerate(beams):
        if constraint is not None and bool(torch.isfinite(totals[b])):
            allowed = constraint(0, tokens)
            if allowed is not None:
                mask = torch.full_like(scores[b], float("-inf"))
                mask[list(allowed)] = 0.0
                scores[b] += mask
    penalty = config.diversity_penalty * counts
    candidates = totals[:, None] + scores - penalty[None]
    top, index = candidates.view(-1).topk(min(2 * width, candidates.numel()))
    chosen, new_beams = [], []
    vocab = lp.shape[-1]
    for rank, (value, flat) in enumerate(zip(top.tolist(), index.tolist(), strict=True)):
        if value == float("-inf"):
            break
        b, token = divmod(flat, vocab)
        tokens, raw, pen, _ = beams[b]
        row_lp = lp[g * width + b, token]
        # as our engine rounds it: float32 for a kept token, float64 for a finishing EOS
        penalised = float(row_lp) - float(penalty[token]) if token == eos else float(row_lp - penalty[token])
        entry = (tokens + [token], raw + [float(row_lp)], pen + [penalised], value)
        if token == eos:
            if rank < width:
                chosen.append(token)
                if len(groups[g]["finished"]) < width:
                    groups[g]["finished"].append((*entry, True))
        elif len(new_beams) < width:
            chosen.append(token)
            new_beams.append((g * width + b, token, entry))
    for token in chosen:
        counts[token] += 1
    return new_beams


def generate(backbone, summary: str, config: GenerationConfig, constrained: bool) -> list[Hypothesis]:
    """Diverse beam search for one summary, plainly (see the module docstring)."""
    eos, groups_n, width = backbone.eos_token_id, config.num_groups, config.group_width
    rows = groups_n * width
    constraint = SummarySpanConstraint(backbone, [summary]) if constrained else None
    prompt = backbone.prompt_ids(backbone.tokenize(summary))
    cache = DynamicCache(config=backbone.model.config)
    lp = _forward(backbone, torch.tensor([prompt] * rows, device=backbone.device), cache)
    groups = [{"beams": [([], [], [], 0.0)] + [([], [], [], float("-inf"))] * (width - 1), "finished": [],
               "done": False} for _ in range(groups_n)]
    for step in range(config.max_length):
        counts = torch.zeros(lp.shape[-1], device=lp.device)
        parents, feed = list(range(rows)), [eos] * rows
        for g, group in enumerate(groups):
            if group["done"]:
                continue
            new_beams = _group_step(g, lp, group["beams"], groups, counts, config, eos, step, constraint)
            group["beams"] = [entry for _, _, entry in new_beams]
            group["beams"] += [([], [], [], float("-inf"))] * (width - len(new_beams))
            for b, (parent, token, _) in enumerate(new_beams):
                parents[g * width + b], feed[g * width + b] = parent, token
            group["done"] = len(group["finished"]) >= width or not new_beams
        if step == config.max_length - 1:
            _close_unfinished(groups, width)
            break
        if all(group["done"] for group in groups):
            break
        cache.reorder_cache(torch.tensor(parents, device=backbone.device))
        lp = _forward(backbone, torch.tensor(feed, device=backbone.device)[:, None], cache)
    return _hypotheses(groups, config.length_penalty)


def _close_unfinished(groups: list, width: int) -> None:
    for group in groups:
        if group["done"]:
            continue
        live = sorted((b for b in group["beams"] if b[3] != float("-inf")), key=lambda b: -b[3])
        for beam in live[:width - len(group["finished"])]:
            group["finished"].append((*beam, False))


def _hypotheses(groups: list, length_penalty: float) -> list[Hypothesis]:
    out = []
    for g, group in enumerate(groups):
        ranked = sorted(group["finished"], key=lambda h: -h[3] / len(h[0]) ** length_penalty)
        for r, (tokens, raw, pen, total, finished) in enumerate(ranked):
            out.append(Hypothesis(token_ids=tuple(tokens), token_logprobs=tuple(raw), beam_token_scores=tuple(pen),
                                  group=g, rank=r, finished=finished, score=total / len(tokens) ** length_penalty))
    return out


def pair_logprobs(backbone, prompt: list[int], sequence) -> list[float]:
    """Per-token log-probs of ``sequence`` after ``prompt``: one forward of both, no cache, logits
    only at the scored positions."""
    full = torch.tensor([prompt + list(sequence)], device=backbone.device)
    logits = backbone.model(input_ids=full, logits_to_keep=len(sequence) + 1).logits[0, :-1]
    target = torch.tensor(list(sequence), device=backbone.device)[:, None]
    return logits.float().log_softmax(-1).gather(1, target)[:, 0].tolist()


def score_context(scorer: QUALS, context: str, sequences: list[list[int]]) -> ContextScores:
    """Per-token log-probs of every sequence under every window of ``context``, one forward each."""
    qagen, backbone = scorer.qagen, scorer.qagen.backbone
    ids = backbone.tokenize(context)
    window = qagen.window_tokens(max(len(s) for s in sequences))
    spans = split_windows(len(ids), window, resolve_overlap(qagen.window_overlap, window))
    per_sequence: list[list[tuple[float, ...]]] = [[] for _ in sequences]
    for start, end in spans:
        prompt = backbone.prompt_ids(ids[start:end])
        for s, sequence in enumerate(sequences):
            per_sequence[s].append(tuple(pair_logprobs(backbone, prompt, sequence)))
    return ContextScores(windows=tuple(spans),
                         sequences=tuple(WindowedLogprobs(by_window=tuple(w)) for w in per_sequence))


class NaiveQUALS:
    """The same metric, one row at a time; ``generate`` and ``score`` are the timed stages."""

    def __init__(self, scorer: QUALS) -> None:
        self.scorer = scorer

    def generate(self, summary: str) -> list[QAHypothesis]:
        constrained = self.scorer.config.answer_constraint == "summary_span"
        hyps = generate(self.scorer.qagen.backbone, summary, self.scorer.config.generation, constrained)
        return [self.scorer.qagen.read(h) for h in hyps]

    def score(self, document: str, summary: str, hyps: list[QAHypothesis]):
        pairs = self.scorer.kept_pairs([summary], [hyps])[0]
        if not pairs:
            return self.scorer._example(summary, hyps, pairs, None, None)
        sequences = [list(p.hypothesis.token_ids) for p, _ in pairs]
        document_scores = score_context(self.scorer, document, sequences)
        summary_scores = (score_context(self.scorer, summary, sequences)
                          if self.scorer.config.summary_likelihood == "rescore" else None)
        return self.scorer._example(summary, hyps, pairs, document_scores, summary_scores)
