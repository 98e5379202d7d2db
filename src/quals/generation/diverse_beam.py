"""Diverse beam search (Vijayakumar et al. 2018, Hamming diversity) with fairseq's semantics.

Written here because transformers 5 no longer ships group beam search in its core (it fetches it
from a model hub at run time, which offline machines cannot do).

One decoding step, for every input of the batch at once:

1. one forward pass gives next-token log-probs for all live beams of all groups;
2. groups are processed in order g = 0..G-1; token v's score in group g is its log-prob minus
   ``diversity_penalty`` times the number of continuations (kept beams and finished EOS) that
   groups 0..g-1 chose at this step; group 0 is plain beam search;
3. a group takes its top 2B candidates; an EOS among the first B ranks finishes a hypothesis
   (EOS is blocked before ``min_length`` tokens); the first B non-EOS candidates are its new beams;
4. a group stops once it holds B finished hypotheses; at ``max_length`` its live beams are returned
   as unfinished.

Finished groups leave the KV cache lazily: their rows keep running until a quarter of the rows are
dead, then the cache is compacted, which avoids copying the cache every time one group finishes.

The step loop keeps its state on the model's device and asks the device for a value only on
"check" steps: whether every group is done, and whether to compact the cache (which changes the
number of rows, so the host must know it). On a CPU every step is a check step, as host and
device are the same; on a GPU it is every :data:`CUDA_SYNC_EVERY`-th step, so the host can queue
steps ahead of the device. Finished hypotheses go to a device-side store
(:mod:`quals.generation.finished`), and a constrained search moves the live beams' tokens to the
host once per step (the constraint is defined on their decoded text) and applies all beams'
allowed tokens as one mask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from quals.generation.config import GenerationConfig
from quals.generation.finished import FinishedStore
from quals.models.backbone import Backbone, DecodeState
from quals.types import Hypothesis

#: ``allowed(input_index, prefix_token_ids) -> allowed next token ids, or None for no limit``.
TokenConstraint = Callable[[int, Sequence[int]], "Sequence[int] | None"]

_COMPACT_DEAD_SHARE = 0.25
#: Steps between check steps on a GPU: at most this many steps run after the last group finished,
#: and dead rows wait at most this long to leave the cache.
CUDA_SYNC_EVERY = 8


class _Search:
    """Bookkeeping of one batched search; tensors are laid out (inputs, groups, beams)."""

    def __init__(self, backbone: Backbone, n_inputs: int, config: GenerationConfig,
                 constraint: TokenConstraint | None) -> None:
        self.backbone = backbone
        self.config = config
        self.constraint = constraint
        self.eos = backbone.eos_token_id
        n, g, b = n_inputs, config.num_groups, config.group_width
        self.shape = (n, g, b)
        dev = backbone.device
        self.running = torch.full(self.shape, float("-inf"), device=dev)
        self.running[:, :, 0] = 0.0  # at step 0 only one beam per group is alive
        self.tokens = torch.zeros((*self.shape, 0), dtype=torch.long, device=dev)
        self.raw = torch.zeros((*self.shape, 0), device=dev)
        self.pen = torch.zeros((*self.shape, 0), device=dev)
        self.done = torch.zeros((n, g), dtype=torch.bool, device=dev)
        self.store = FinishedStore(n, g, b, config.max_length, dev)
        self.finished: list[list[list[tuple]]] | None = None  # read from the store after the loop
        self.slots = n * g * b
        # physical row -> logical slot; rows leave only when their whole group is done, so every
        # slot of a group still searching has a row
        self.phys_slot = torch.arange(self.slots, device=dev)

    # -- one step -------------------------------------------------------------------------
    def logical_logprobs(self, state: DecodeState) -> torch.Tensor:
        vocab = state.next_logprobs.shape[-1]
        lp = torch.full((self.slots, vocab), float("-inf"), device=state.next_logprobs.device)
        lp.index_copy_(0, self.phys_slot, state.next_logprobs)
        return lp.view(*self.shape, vocab)

    def selection_scores(self, lp: torch.Tensor, step: int) -> torch.Tensor:
        scores = lp.clone()
        if step < self.config.min_length:
            scores[..., self.eos] = float("-inf")
        if self.constraint is not None:
            self._apply_constraint(scores)
        return scores

    def _apply_constraint(self, scores: torch.Tensor) -> None:
        """Mask every live beam's disallowed tokens at once: one transfer of the beams' tokens to
        the host, the constraint called per beam there, one mask back."""
        n, g, b = self.shape
        vocab = scores.shape[-1]
        live = (torch.isfinite(self.running) & ~self.done[:, :, None]).view(-1).tolist()
        tokens = self.tokens.view(self.slots, -1).tolist()
        limited, rows, allowed_ids = [], [], []
        for slot, is_live in enumerate(live):
            if not is_live:
                continue
            allowed = self.constraint(slot // (g * b), tokens[slot])
            if allowed is None:
                continue
            limited.append(slot)
            rows.extend([slot] * len(allowed))
            allowed_ids.extend(allowed)
        if not limited:
            return
        device = scores.device
        blocked = torch.zeros((self.slots, vocab), dtype=torch.bool, device=device)
        blocked[torch.tensor(limited, device=device)] = True
        if rows:
            blocked[torch.tensor(rows, device=device), torch.tensor(allowed_ids, device=device)] = False
        scores.view(self.slots, vocab).masked_fill_(blocked, float("-inf"))

    def step(self, lp: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Select continuations for every group; returns (new tokens, parent beam), both (n, g, b)."""
        n, groups, width = self.shape
        vocab = lp.shape[-1]
        lam = self.config.diversity_penalty
        counts = torch.zeros((n, vocab), device=lp.device)
        new_tokens = torch.full(self.shape, self.eos, dtype=torch.long, device=lp.device)
        parents = torch.zeros(self.shape, dtype=torch.long, device=lp.device)
        new_running = torch.full(self.shape, float("-inf"), device=lp.device)
        new_raw = torch.zeros(self.shape, device=lp.device)
        new_pen = torch.zeros(self.shape, device=lp.device)
        rank = torch.arange(2 * width, device=lp.device)[None, :]
        for g in range(groups):  # a done group finds no finite candidate and changes nothing
            active = ~self.done[:, g]
            penalty = lam * counts
            candidates = self.running[:, g, :, None] + scores[:, g] - penalty[:, None, :]
            k = min(2 * width, width * vocab)
            top_scores, top_index = candidates.view(n, width * vocab).topk(k, dim=-1)
            beam_of, token = top_index // vocab, top_index % vocab
            finite = torch.isfinite(top_scores) & active[:, None]
            is_eos = token == self.eos
            finalize = is_eos & finite & (rank[:, :k] < width)
            keep = ~is_eos & finite
            keep &= keep.cumsum(-1) <= width
            order = torch.sort((~keep).to(torch.int8), dim=-1, stable=True).indices[:, :width]
            valid = keep.gather(1, order)
            chosen_beam, chosen_token = beam_of.gather(1, order), token.gather(1, order)
            parents[:, g] = chosen_beam
            new_tokens[:, g] = torch.where(valid, chosen_token, self.eos)
            new_running[:, g] = torch.where(valid, top_scores.gather(1, order), float("-inf"))
            raw_chosen = lp[:, g].reshape(n, width * vocab).gather(1, chosen_beam * vocab + chosen_token)
            new_raw[:, g] = raw_chosen
            new_pen[:, g] = raw_chosen - penalty.gather(1, chosen_token)
            self.store.add(g, finalize, top_scores, beam_of, lp, penalty, (self.tokens, self.raw, self.pen), self.eos)
            counts.scatter_add_(1, token, (keep | finalize).to(counts.dtype))
        self._advance(parents, new_tokens, new_running, new_raw, new_pen)
        return new_tokens, parents

    def _advance(self, parents, new_tokens, new_running, new_raw, new_pen) -> None:
        index = parents[..., None].expand(-1, -1, -1, self.tokens.shape[-1])
        self.tokens = torch.cat([self.tokens.gather(2, index), new_tokens[..., None]], -1)
        self.raw = torch.cat([self.raw.gather(2, index), new_raw[..., None]], -1)
        self.pen = torch.cat([self.pen.gather(2, index), new_pen[..., None]], -1)
        self.running = new_running
        full = self.store.count >= self.shape[2]
        exhausted = ~torch.isfinite(self.running).any(-1)
        self.done |= full | exhausted
        self.running = self.running.masked_fill(self.done[:, :, None], float("-inf"))

    def close_unfinished(self) -> None:
        """At max_length, live beams become unfinished hypotheses (best first) until groups hold B."""
        n, groups, width = self.shape
        finished = self.finished_lists()
        for i in range(n):
            for g in range(groups):
                order = torch.argsort(self.running[i, g], descending=True, stable=True).tolist()
                for b in order:
                    if len(finished[i][g]) >= width or not torch.isfinite(self.running[i, g, b]):
                        break
                    finished[i][g].append((
                        self.tokens[i, g, b].tolist(), self.raw[i, g, b].tolist(),
                        self.pen[i, g, b].tolist(), float(self.running[i, g, b]), False,
                    ))

    def finished_lists(self) -> list[list[list[tuple]]]:
        if self.finished is None:
            self.finished = self.store.lists()
        return self.finished

    # -- KV cache maintenance ---------------------------------------------------------------
    def update_state(self, state: DecodeState, new_tokens: torch.Tensor, parents: torch.Tensor, check: bool) -> None:
        """Point every row at its new beam's parent, compact on check steps, feed the new tokens."""
        width = self.shape[2]
        source = None
        if width > 1:  # with one beam per group every row continues itself
            parent_slot = (self.phys_slot // width) * width + parents.view(-1)[self.phys_slot]
            phys_of_slot = torch.full((self.slots,), -1, dtype=torch.long, device=self.phys_slot.device)
            phys_of_slot[self.phys_slot] = torch.arange(len(self.phys_slot), device=self.phys_slot.device)
            source = phys_of_slot[parent_slot]
        if check:
            row_done = self.done.view(-1).repeat_interleave(width)[self.phys_slot]
            if float(row_done.sum()) / state.rows > _COMPACT_DEAD_SHARE:
                keep = torch.nonzero(~row_done).view(-1)
                source = keep if source is None else source[keep]
                self.phys_slot = self.phys_slot[keep]
        if source is not None:
            state.select(source)
        # a dead row (its group done) is fed its slot's token too: it only ever affects its own row
        self.backbone.extend(state, new_tokens.view(-1)[self.phys_slot][:, None])

    def results(self) -> list[list[Hypothesis]]:
        lp_exp = self.config.length_penalty
        out: list[list[Hypothesis]] = []
        for per_input in self.finished_lists():
            hyps: list[Hypothesis] = []
            for g, group in enumerate(per_input):
                ranked = sorted(group, key=lambda h: -h[3] / len(h[0]) ** lp_exp)
                for r, (tokens, raw, pen, total, finished) in enumerate(ranked):
                    hyps.append(Hypothesis(
                        token_ids=tuple(tokens), token_logprobs=tuple(raw), beam_token_scores=tuple(pen),
                        group=g, rank=r, finished=finished, score=total / len(tokens) ** lp_exp,
                    ))
            out.append(hyps)
        return out


def diverse_beam_search(
    backbone: Backbone,
    prompts: list[list[int]],
    config: GenerationConfig | None = None,
    constraint: TokenConstraint | None = None,
    *,
    sync_every: int | None = None,
) -> list[list[Hypothesis]]:
    """Run diverse beam search for a batch of prompts (from ``Backbone.prompt_ids``).

    Args:
        backbone: the model.
        prompts: tokenized model inputs, one per text.
        config: search settings (default: the paper's 60 groups of width 1).
        constraint: optional per-beam whitelist of next tokens (see :data:`TokenConstraint`).
        sync_every: steps between check steps (see the module docstring; default 1 on a CPU,
            :data:`CUDA_SYNC_EVERY` elsewhere). It never changes which hypotheses are found.

    Returns:
        For each prompt, up to G*B hypotheses ordered by group, then rank within the group.
    """
    config = config or GenerationConfig()
    if not prompts:
        return []
    if sync_every is None:
        sync_every = 1 if backbone.device.type == "cpu" else CUDA_SYNC_EVERY
    if sync_every < 1:
        raise ValueError(f"sync_every must be >= 1, got {sync_every}")
    search = _Search(backbone, len(prompts), config, constraint)
    state = backbone.prefill(prompts)
    state.select(torch.arange(len(prompts), device=backbone.device).repeat_interleave(config.beams))
    with torch.inference_mode():
        for step in range(config.max_length):
            lp = search.logical_logprobs(state)
            new_tokens, parents = search.step(lp, search.selection_scores(lp, step))
            if step == config.max_length - 1:
                search.close_unfinished()
                break
            check = (step + 1) % sync_every == 0
            if check and bool(search.done.all()):
                break
            search.update_state(state, new_tokens, parents, check)
    return search.results()
