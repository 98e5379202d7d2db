"""GrowingCache must give the numbers DynamicCache gives, bit for bit: QUALS runs resume across code
versions, and carried scores are only comparable if the cache changes nothing but the copying."""

from __future__ import annotations

import pytest
import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

import quals.models.backbone as backbone_module
from quals.generation import GenerationConfig, diverse_beam_search
from quals.models import kv_cache
from quals.models.kv_cache import GrowingCache, GrowingLayer
from quals.models.scoring import score_sequences

TEXTS = ["The cat sat on the mat in Paris.", "Officials said 12 people were hurt near Leeds on Friday.",
         "Rain is expected."]


def _states(rows: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(rows, 2, length, 4, generator=gen), torch.randn(rows, 2, length, 4, generator=gen)


def _same(layer_a, layer_b) -> None:
    assert layer_a.get_seq_length() == layer_b.get_seq_length()
    assert torch.equal(layer_a.keys, layer_b.keys) and torch.equal(layer_a.values, layer_b.values)


def test_layer_matches_dynamic_layer_through_growth_reorder_and_crop(monkeypatch):
    monkeypatch.setattr(kv_cache, "GROWTH", 3)  # reallocate often
    ours, theirs = GrowingLayer(), DynamicLayer()
    for layer in (ours, theirs):
        layer.update(*_states(3, 5, 0))
    _same(ours, theirs)
    for step in range(7):  # one token at a time, past several reallocations
        returned = ours.update(*_states(3, 1, step + 1))
        expected = theirs.update(*_states(3, 1, step + 1))
        assert all(torch.equal(a, b) for a, b in zip(returned, expected, strict=True))
    rows = torch.tensor([2, 0, 0])
    ours.reorder_cache(rows)
    theirs.reorder_cache(rows)
    _same(ours, theirs)
    ours.batch_repeat_interleave(2)
    theirs.batch_repeat_interleave(2)
    _same(ours, theirs)
    ours.batch_select_indices(torch.tensor([5, 1]))
    theirs.batch_select_indices(torch.tensor([5, 1]))
    _same(ours, theirs)
    ours.crop(-4)
    theirs.crop(-4)
    _same(ours, theirs)
    # after a crop the next token goes where the cropped ones were
    ours.update(*_states(2, 2, 99))
    theirs.update(*_states(2, 2, 99))
    _same(ours, theirs)


def test_cache_replaces_only_plain_layers(tiny_backbones):
    config = tiny_backbones["llama"].model.config
    assert all(type(layer) is GrowingLayer for layer in GrowingCache(config=config).layers)
    lazy = GrowingCache()
    lazy.update(*_states(1, 2, 0), layer_idx=1)
    assert [type(layer) for layer in lazy.layers] == [GrowingLayer, GrowingLayer]


@pytest.mark.parametrize("kind", ["llama", "bart", "t5"])
def test_search_and_scoring_are_bit_identical_to_dynamic_cache(tiny_backbones, monkeypatch, kind):
    backbone = tiny_backbones[kind]
    prompts = [backbone.prompt_ids(backbone.tokenize(t)) for t in TEXTS]
    # enough groups that some finish early and the cache is compacted; long enough to reallocate
    config = GenerationConfig(num_groups=12, group_width=1, diversity_penalty=0.5, min_length=2, max_length=80)
    monkeypatch.setattr(kv_cache, "GROWTH", 4)

    def run():
        hyps = diverse_beam_search(backbone, prompts, config)
        scored = score_sequences(backbone, [backbone.tokenize(t) for t in TEXTS],
                                 [[h.token_ids for h in per[:5]] for per in hyps], window_tokens=64, batch_size=4)
        return ([[(h.token_ids, h.token_logprobs, h.beam_token_scores, h.score) for h in per] for per in hyps],
                [s.sequences for s in scored])

    ours = run()
    monkeypatch.setattr(backbone_module, "GrowingCache", DynamicCache)
    theirs = run()
    assert ours == theirs  # exact: not approx
