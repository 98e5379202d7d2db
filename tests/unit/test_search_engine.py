"""The search's GPU-minded mechanics, checked on CPU: check steps, host transfers, batched constraint."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import quals.generation.diverse_beam as diverse_beam
from quals.generation import GenerationConfig, diverse_beam_search

TEXTS = ["The cat sat on the mat in Paris.", "Officials said 12 people were hurt near Leeds on Friday."]
ENGINE_FILES = tuple(str(Path(diverse_beam.__file__).parent / name) for name in ("diverse_beam.py", "finished.py"))


def _prompts(backbone):
    return [backbone.prompt_ids(backbone.tokenize(t)) for t in TEXTS]


def _summary(results):
    return [[(h.group, h.rank, h.token_ids, h.finished) for h in hyps] for hyps in results]


def _scores(results):
    return [[value for h in hyps for value in (h.score, *h.token_logprobs, *h.beam_token_scores)] for hyps in results]


@pytest.mark.parametrize("width", [1, 2])
def test_check_interval_never_changes_the_hypotheses(backbone, width):
    config = GenerationConfig(num_groups=4, group_width=width, diversity_penalty=0.5, min_length=1, max_length=10)
    every_step = diverse_beam_search(backbone, _prompts(backbone), config, sync_every=1)
    for sync_every in (3, 1000):
        later = diverse_beam_search(backbone, _prompts(backbone), config, sync_every=sync_every)
        assert _summary(later) == _summary(every_step)
        for a, b in zip(_scores(later), _scores(every_step), strict=True):
            # dead rows leave the cache at other steps, and a matrix product's rounding depends on
            # how many rows it has: the same numbers up to float32 noise
            assert a == pytest.approx(b, abs=1e-5)


def test_sync_every_is_checked(tiny_backbones):
    with pytest.raises(ValueError, match="sync_every must be >= 1"):
        diverse_beam_search(tiny_backbones["llama"], [[1, 2]], GenerationConfig(num_groups=1), sync_every=0)


class _HostReads:
    """Counts the ways Python code reads tensor values (the calls that wait for a GPU) made by the
    search's step loop: its own files, except the functions that run once after the loop."""

    AFTER_THE_LOOP = ("close_unfinished", "lists", "finished_lists", "results")

    NAMES = ("tolist", "item", "__bool__", "__int__", "__float__", "nonzero")

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        for name in self.NAMES:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._counting(original))
        original_nonzero = torch.nonzero
        monkeypatch.setattr(torch, "nonzero", self._counting(original_nonzero))
        for name in ("__getitem__", "__setitem__"):
            monkeypatch.setattr(torch.Tensor, name, self._mask_indexing(getattr(torch.Tensor, name)))

    def _from_engine(self) -> bool:
        code = sys._getframe(2).f_code
        return code.co_filename in ENGINE_FILES and code.co_name not in self.AFTER_THE_LOOP

    def _counting(self, original):
        def wrapper(*args, **kwargs):
            if self._from_engine():
                self.count += 1
            return original(*args, **kwargs)
        return wrapper

    def _mask_indexing(self, original):
        def wrapper(tensor, index, *rest):
            parts = index if isinstance(index, tuple) else (index,)
            if any(isinstance(p, torch.Tensor) and p.dtype == torch.bool for p in parts) and self._from_engine():
                self.count += 1  # indexing by a boolean mask needs the number of True values
            return original(tensor, index, *rest)
        return wrapper


def _reads(monkeypatch, backbone, steps: int, constraint=None) -> int:
    # min_length = steps - 1: no hypothesis can finish early, so the loop runs all `steps` steps
    config = GenerationConfig(num_groups=3, group_width=2, min_length=steps - 1, max_length=steps)
    with monkeypatch.context() as patch:
        reads = _HostReads(patch)
        diverse_beam_search(backbone, _prompts(backbone), config, constraint, sync_every=10 ** 6)
        return reads.count


def test_step_loop_reads_nothing_back_between_check_steps(monkeypatch, tiny_backbones):
    backbone = tiny_backbones["llama"]
    short, long = _reads(monkeypatch, backbone, 4), _reads(monkeypatch, backbone, 9)
    assert short == long == 0


def test_constrained_step_moves_tokens_to_the_host_once(monkeypatch, tiny_backbones):
    backbone = tiny_backbones["llama"]
    allowed = sorted(set(backbone.tokenize("the cat sat on the mat")))
    short = _reads(monkeypatch, backbone, 4, lambda i, prefix: allowed)
    long = _reads(monkeypatch, backbone, 9, lambda i, prefix: allowed)
    assert (short, long) == (2 * 4, 2 * 9)  # per step: the live-beam flags and the beams' tokens


class _FakeBackbone:
    eos_token_id = 0
    device = torch.device("cpu")


def test_batched_constraint_masks_like_a_loop_over_beams():
    generator = torch.Generator().manual_seed(0)
    n, groups, width, vocab, steps = 2, 3, 2, 11, 4
    rules = {}

    def constraint(index, prefix):
        key = (index, tuple(prefix))
        if key not in rules:  # a fixed random rule per beam: no limit, nothing allowed, or a few tokens
            kind = len(rules) % 3
            rules[key] = None if kind == 0 else [] if kind == 1 else sorted({(index + 3 * t) % vocab for t in prefix})
        return rules[key]

    search = diverse_beam._Search(_FakeBackbone(), n, GenerationConfig(num_groups=groups, group_width=width,
                                                                       min_length=0, max_length=5), constraint)
    search.tokens = torch.randint(1, vocab, (n, groups, width, steps), generator=generator)
    search.running = torch.randn((n, groups, width), generator=generator)
    search.running[0, 1, 1] = float("-inf")  # a dead beam: never asked
    search.done[1, 2] = True  # a done group: never asked
    scores = torch.randn((n, groups, width, vocab), generator=generator)
    expected = scores.clone()
    for i in range(n):
        for g in range(groups):
            for b in range(width):
                if not torch.isfinite(search.running[i, g, b]) or search.done[i, g]:
                    continue
                allowed = constraint(i, search.tokens[i, g, b].tolist())
                if allowed is not None:
                    keep = torch.zeros(vocab, dtype=torch.bool)
                    keep[allowed] = True
                    expected[i, g, b] = expected[i, g, b].masked_fill(~keep, float("-inf"))
    search._apply_constraint(scores)
    assert torch.equal(scores, expected)
    assert len(rules) == n * groups * width - 1 - width  # the dead beam and the done group's beams were skipped


def test_prebuilt_decoding_masks_give_the_same_search(tiny_backbones):
    backbone = tiny_backbones["llama"]
    config = GenerationConfig(num_groups=3, group_width=2, min_length=1, max_length=10)
    plain = diverse_beam_search(backbone, _prompts(backbone), config)
    backbone.prebuilt_masks = True  # what a GPU backbone does
    try:
        prebuilt = diverse_beam_search(backbone, _prompts(backbone), config)
    finally:
        backbone.prebuilt_masks = False
    assert _summary(prebuilt) == _summary(plain)
    for a, b in zip(_scores(prebuilt), _scores(plain), strict=True):
        assert a == pytest.approx(b, abs=1e-5)


def test_causal_mask_by_hand():
    from quals.models.backbone import causal_mask

    mask = torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1]])
    built = causal_mask(mask, 2)
    assert built.shape == (2, 1, 2, 4)
    assert built[0, 0].int().tolist() == [[0, 1, 1, 0], [0, 1, 1, 1]]  # padding never, the future never
    assert built[1, 0].int().tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
