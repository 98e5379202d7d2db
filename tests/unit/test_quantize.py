"""Opt-in int8 dynamic quantisation: which layers, where it runs, and that signatures say so."""

from __future__ import annotations

import pytest
import torch

from quals.metrics.quals import QUALS
from quals.models import load_backbone
from quals.models.quantize import INT8_NAME, dtype_name, is_quantized, quantized_layers


def test_only_layers_reading_the_hidden_state_are_quantized(tiny_dirs):
    plain = load_backbone(str(tiny_dirs["llama"]), device="cpu", dtype="float32").model
    names = quantized_layers(plain)
    assert names and all(not name.endswith("down_proj") for name in names)
    assert any(name.endswith("up_proj") for name in names) and any(name.endswith("q_proj") for name in names)
    int8 = load_backbone(str(tiny_dirs["llama"]), device="cpu", dtype="int8").model
    assert is_quantized(int8) and not is_quantized(plain)
    modules = dict(int8.named_modules())
    assert all(type(modules[name]).__module__.startswith("torch.ao.nn.quantized") for name in names)
    assert all(isinstance(m, torch.nn.Linear) for n, m in modules.items() if n.endswith("down_proj"))
    assert dtype_name(int8) == INT8_NAME and dtype_name(plain) == "float32"


@pytest.mark.parametrize("kind", ["llama", "bart"])
def test_int8_scores_close_to_float32_and_signs_itself(tiny_dirs, kind):
    document = "The cat sat on the mat in Paris on Monday. Officials said 12 people were hurt near Leeds."
    settings = dict(device="cpu", cache_generations=False, num_groups=3, min_length=1, max_length=8)
    full = QUALS(str(tiny_dirs[kind]), dtype="float32", **settings)
    int8 = QUALS(str(tiny_dirs[kind]), dtype="int8", **settings)
    assert "dtype:int8-dynamic" in int8.signature and "dtype:float32" in full.signature
    pairs = full.qagen.qa_token_ids("Where did the cat sit?", "on the mat")
    a, b = (q.qagen.score([document], [[pairs]])[0].sequences[0].by_window[0] for q in (full, int8))
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1.0  # quantised, not broken


def test_int8_refuses_other_devices_and_training(tiny_dirs):
    from quals.models.weights import load_model

    with pytest.raises(ValueError, match="runs on the CPU only"):
        load_model(str(tiny_dirs["llama"]), device=None, dtype="int8")
    from quals.models.device import bf16_setting

    with pytest.raises(ValueError, match="training dtype must be"):
        bf16_setting("int8")
