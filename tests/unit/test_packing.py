"""Packed teacher-forced scoring (one prompt copy, block mask) against the cached path and by hand."""

from __future__ import annotations

import pytest
import torch
from fixtures import reference

from quals.models.packing import block_mask, pack_row, score_packed
from quals.models.scoring import _batches, _Job, _score_batch

TEXTS = ["The cat sat on the mat in Paris on Monday.", "NASA",
         "Officials said 12 people were hurt when a bus crashed near Leeds on Friday evening. " * 2]


def test_pack_row_layout_by_hand():
    row = pack_row([1, 2, 3], [[4, 5], [6], [7, 8, 9]])
    assert row.tokens == [1, 2, 3, 4, 7, 8]
    assert row.positions == [0, 1, 2, 3, 3, 4]  # every sequence restarts after the prompt
    assert row.block == [-1, -1, -1, 0, 2, 2]
    assert row.predictors == [2, 3, 2, 2, 4, 5]  # first tokens all come from the prompt's last position
    assert row.labels == [4, 5, 6, 7, 8, 9] and row.lengths == [2, 1, 3]


def test_pack_row_rejects_empty_inputs():
    with pytest.raises(ValueError, match="non-empty prompt"):
        pack_row([], [[1]])
    with pytest.raises(ValueError, match="sequence 1 is empty"):
        pack_row([1], [[2], []])


def test_block_mask_by_hand():
    # one padding position, a 2-token prompt, sequence 0 (2 inputs), sequence 1 (1 input)
    block = torch.tensor([[-2, -1, -1, 0, 0, 1]])
    real = torch.tensor([[False, True, True, True, True, True]])
    expected = torch.tensor([
        [1, 0, 0, 0, 0, 0],  # padding: itself only
        [0, 1, 0, 0, 0, 0],
        [0, 1, 1, 0, 0, 0],
        [0, 1, 1, 1, 0, 0],
        [0, 1, 1, 1, 1, 0],
        [0, 1, 1, 0, 0, 1],  # sequence 1 sees the prompt, not sequence 0
    ], dtype=torch.bool)
    mask = block_mask(block, real)
    assert mask.shape == (1, 1, 6, 6)
    assert torch.equal(mask[0, 0], expected)
    assert bool(mask.any(-1).all())  # no query row is fully masked


def _seqs(backbone):
    return [backbone.qa_token_ids("Who sat on the mat?", "the cat"), [backbone.eos_token_id],
            backbone.qa_token_ids("Where?", "Paris")]


def test_packed_rows_of_different_lengths_equal_the_reference(tiny_backbones):
    backbone = tiny_backbones["llama"]
    prompts = [backbone.prompt_ids(backbone.tokenize(t)) for t in TEXTS]
    seqs = _seqs(backbone)
    scored = score_packed(backbone, [pack_row(p, seqs) for p in prompts])  # left-padded in one pass
    for prompt, per_sequence in zip(prompts, scored, strict=True):
        for seq, values in zip(seqs, per_sequence, strict=True):
            assert values == pytest.approx(reference.sequence_logprobs(backbone, prompt, seq), abs=1e-5)


def test_packed_equals_the_cached_path_it_replaces(tiny_backbones):
    backbone = tiny_backbones["llama"]
    prompts = [backbone.prompt_ids(backbone.tokenize(t)) for t in TEXTS]
    seqs = _seqs(backbone)
    jobs = [_Job(c, 0, p, list(range(len(seqs)))) for c, p in enumerate(prompts)]
    cached = _score_batch(backbone, jobs, [seqs] * len(prompts))  # the old path: prompt KV copied per row
    packed = [v for per_row in score_packed(backbone, [pack_row(p, seqs) for p in prompts]) for v in per_row]
    assert len(cached) == len(packed)
    for old, new in zip(cached, packed, strict=True):
        assert new == pytest.approx(old, abs=1e-5)


def test_batches_respect_the_position_budget():
    jobs = [_Job(c, 0, [0] * n, [0, 1]) for c, n in enumerate([50, 10, 30, 20])]
    batches = _batches(jobs, batch_size=64, length=lambda job: len(job.prompt), max_positions=60)
    assert [[len(j.prompt) for j in b] for b in batches] == [[10, 20], [30], [50]]  # sorted; 2 x 20 <= 60 < 3 x 30
    alone = _batches(jobs, batch_size=64, length=lambda job: len(job.prompt), max_positions=5)
    assert [len(b) for b in alone] == [1, 1, 1, 1]  # a job over the budget still runs, alone


def test_packed_rows_equal_the_reference_in_float64(tiny_dirs):
    """Without float32 rounding the packed forward (block mask, restarted positions, shifted
    predictors) is the plain forward to 1e-10: any real layout bug moves values by far more."""
    from quals.models import load_backbone

    backbone = load_backbone(str(tiny_dirs["llama"]), device="cpu", dtype="float64")
    assert backbone.model.dtype == torch.float64
    prompts = [backbone.prompt_ids(backbone.tokenize(t)) for t in TEXTS]
    seqs = _seqs(backbone)
    scored = score_packed(backbone, [pack_row(p, seqs) for p in prompts])
    for prompt, per_sequence in zip(prompts, scored, strict=True):
        for seq, values in zip(seqs, per_sequence, strict=True):
            assert values == pytest.approx(reference.sequence_logprobs(backbone, prompt, seq), abs=1e-10)
