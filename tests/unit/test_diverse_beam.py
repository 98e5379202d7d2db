"""Diverse beam search against greedy decoding, plain beam search and a brute-force reference."""

from __future__ import annotations

import pytest
import torch
from fixtures import reference

from quals.generation import GenerationConfig, diverse_beam_search

TEXTS = ["The cat sat on the mat in Paris.", "Officials said 12 people were hurt near Leeds on Friday."]


def _prompts(backbone):
    return [backbone.prompt_ids(backbone.tokenize(t)) for t in TEXTS]


def _hf_greedy(backbone, prompt, min_length, max_length):
    kwargs = dict(do_sample=False, num_beams=1, min_new_tokens=min_length, max_new_tokens=max_length,
                  eos_token_id=backbone.eos_token_id, pad_token_id=backbone.pad_token_id)
    ids = torch.tensor([prompt])
    out = backbone.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)[0].tolist()
    out = out[len(prompt):] if backbone.family == "causal" else out[1:]  # drop prompt / decoder start
    if backbone.eos_token_id in out:
        out = out[:out.index(backbone.eos_token_id) + 1]
    return out


def test_zero_diversity_groups_are_copies_of_greedy(backbone):
    config = GenerationConfig(num_groups=4, group_width=1, diversity_penalty=0.0, min_length=3, max_length=12)
    results = diverse_beam_search(backbone, _prompts(backbone), config)
    for prompt, hyps in zip(_prompts(backbone), results, strict=True):
        greedy = _hf_greedy(backbone, prompt, config.min_length, config.max_length)
        assert len(hyps) == 4
        for hyp in hyps:
            assert list(hyp.token_ids) == greedy
            assert hyp.beam_token_scores == pytest.approx(hyp.token_logprobs)


def test_group_zero_is_plain_beam_search(backbone):
    plain = diverse_beam_search(backbone, _prompts(backbone),
                                GenerationConfig(num_groups=1, group_width=3, min_length=2, max_length=10))
    diverse = diverse_beam_search(backbone, _prompts(backbone),
                                  GenerationConfig(num_groups=3, group_width=3, diversity_penalty=0.7,
                                                   min_length=2, max_length=10))
    for prompt, p_hyps, d_hyps in zip(_prompts(backbone), plain, diverse, strict=True):
        # one group is plain beam search: the independent reference without a diversity term
        expected = reference.diverse_beam_search(backbone, prompt, 1, 3, 0.0, 2, 10)
        assert [list(h.token_ids) for h in p_hyps] == [tokens for _, _, (tokens, *_) in expected]
        assert [h.score for h in p_hyps] == pytest.approx([total / len(tokens)
                                                           for _, _, (tokens, _, _, total, _) in expected], abs=1e-4)
        # and the first group of a diverse search sees no penalty, so it is that same search
        group0 = [h for h in d_hyps if h.group == 0]
        assert [h.token_ids for h in group0] == [h.token_ids for h in p_hyps]
        assert [h.score for h in group0] == pytest.approx([h.score for h in p_hyps], abs=1e-5)


@pytest.mark.parametrize("width", [1, 2])
def test_matches_brute_force_reference(backbone, width):
    config = GenerationConfig(num_groups=3, group_width=width, diversity_penalty=0.5, min_length=2, max_length=7,
                              length_penalty=1.0)
    results = diverse_beam_search(backbone, _prompts(backbone), config)
    for prompt, hyps in zip(_prompts(backbone), results, strict=True):
        expected = reference.diverse_beam_search(backbone, prompt, 3, width, 0.5, 2, 7)
        assert [(h.group, h.rank, list(h.token_ids), h.finished) for h in hyps] == [
            (g, r, tokens, finished) for g, r, (tokens, _, _, _, finished) in expected
        ]
        for hyp, (_, _, (tokens, raw, pen, total, _)) in zip(hyps, expected, strict=True):
            assert hyp.token_logprobs == pytest.approx(raw, abs=1e-4)
            assert hyp.beam_token_scores == pytest.approx(pen, abs=1e-4)
            assert hyp.score == pytest.approx(total / len(tokens), abs=1e-4)


def test_penalty_makes_groups_differ_and_is_recorded(tiny_backbones):
    backbone = tiny_backbones["llama"]
    config = GenerationConfig(num_groups=5, group_width=1, diversity_penalty=5.0, min_length=2, max_length=6)
    hyps = diverse_beam_search(backbone, _prompts(backbone)[:1], config)[0]
    first_tokens = [h.token_ids[0] for h in hyps]
    assert len(set(first_tokens)) == 5  # a large penalty forbids repeating an earlier group's choice
    for hyp in hyps[1:]:
        assert hyp.beam_token_scores[0] == pytest.approx(hyp.token_logprobs[0])  # first token unique
    assert hyps[0].beam_token_scores == pytest.approx(hyps[0].token_logprobs)


def test_min_and_max_length(backbone):
    config = GenerationConfig(num_groups=6, group_width=1, min_length=4, max_length=6)
    for hyps in diverse_beam_search(backbone, _prompts(backbone), config):
        for hyp in hyps:
            assert len(hyp.token_ids) <= 6
            assert backbone.eos_token_id not in hyp.token_ids[:4]
            assert hyp.finished == (hyp.token_ids[-1] == backbone.eos_token_id)
            assert len(hyp.token_logprobs) == len(hyp.token_ids) == len(hyp.beam_token_scores)


def test_batching_does_not_change_results(backbone):
    config = GenerationConfig(num_groups=4, group_width=2, min_length=2, max_length=8)
    together = diverse_beam_search(backbone, _prompts(backbone), config)
    alone = [diverse_beam_search(backbone, [p], config)[0] for p in _prompts(backbone)]
    for a, b in zip(together, alone, strict=True):
        assert [h.token_ids for h in a] == [h.token_ids for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5)


def test_constraint_restricts_tokens(tiny_backbones):
    backbone = tiny_backbones["bart"]
    allowed = sorted(set(backbone.tokenize("the cat sat on the mat")) | {backbone.eos_token_id})
    config = GenerationConfig(num_groups=3, group_width=1, min_length=1, max_length=6)
    hyps = diverse_beam_search(backbone, _prompts(backbone)[:1], config, constraint=lambda i, prefix: allowed)[0]
    assert hyps
    for hyp in hyps:
        assert set(hyp.token_ids) <= set(allowed)
