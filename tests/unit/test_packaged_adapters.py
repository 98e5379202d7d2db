"""Split GGUF packages (joined from chunks) and QAGen adapters shipped as package data."""

from __future__ import annotations

import hashlib
import json
import sys

import pytest
import torch

from quals.models import load_backbone, packaged


@pytest.fixture
def chunked_package(tmp_path, monkeypatch):
    root = tmp_path / "site"
    chunks = [b"first chunk|", b"second|", b"third"]
    parts = []
    for i, payload in enumerate(chunks):
        package = root / f"fake_chunk_pkg_part{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"model.gguf.part{i:02d}").write_bytes(payload)
        parts.append((package.name, f"data/model.gguf.part{i:02d}"))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("QUALS_CACHE_DIR", str(tmp_path / "cache"))
    digest = hashlib.sha256(b"".join(chunks)).hexdigest()
    spec = packaged.PackagedModel("chunked", "fake_chunk_pkg", "model.gguf", digest, "pip install chunked", "MIT",
                                  parts=tuple(parts))
    monkeypatch.setitem(packaged.PACKAGED_MODELS, "chunked", spec)
    yield spec, b"".join(chunks)
    for i in range(len(chunks)):
        sys.modules.pop(f"fake_chunk_pkg_part{i}", None)


def test_chunks_are_joined_in_order(chunked_package, tmp_path):
    spec, payload = chunked_package
    joined = packaged._join_parts(spec, tmp_path)
    assert joined.name == "model.gguf" and joined.read_bytes() == payload


def test_joined_file_is_checked_and_nothing_is_left_behind(chunked_package, tmp_path, monkeypatch):
    spec, _ = chunked_package
    corrupt = packaged.PackagedModel(**{**spec.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(packaged.PACKAGED_MODELS, "chunked", corrupt)
    with pytest.raises(ValueError, match="pip install chunked"):
        packaged.packaged_model_dir("packaged:chunked")
    models = tmp_path / "cache" / "models"
    assert [p.name for p in models.iterdir() if not p.name.endswith(".lock")] == []


def test_missing_chunk_names_the_install_command(chunked_package, monkeypatch):
    spec, _ = chunked_package
    broken = packaged.PackagedModel(**{**spec.__dict__, "parts": (*spec.parts, ("no_such_chunk_pkg", "data/x"))})
    monkeypatch.setitem(packaged.PACKAGED_MODELS, "chunked", broken)
    with pytest.raises(FileNotFoundError, match="pip install chunked"):
        packaged._join_parts(broken, packaged.cache_dir())


def test_registered_models_and_adapters():
    assert packaged.PACKAGED_MODELS["gemma3-270m"].parts and packaged.DEFAULT_BASE_MODEL in (
        packaged.PACKAGED_PREFIX + name for name in packaged.PACKAGED_MODELS)
    for adapter in packaged.PACKAGED_ADAPTERS.values():
        assert packaged.packaged_spec(adapter.base).name in packaged.PACKAGED_MODELS
        assert packaged.is_packaged_adapter(packaged.PACKAGED_PREFIX + adapter.name)
    assert not packaged.is_packaged_adapter(packaged.DEFAULT_BASE_MODEL)
    with pytest.raises(ValueError, match="smollm2-135m-qagen"):
        packaged.packaged_spec("packaged:nope")


def _save_adapter(base_dir, directory, base_name: str):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from quals.models.weights import quiet_peft

    torch.manual_seed(0)
    network = AutoModelForCausalLM.from_pretrained(base_dir)
    with quiet_peft():  # the library's own loads hide peft's deprecation warning too
        model = get_peft_model(network, LoraConfig(r=2, lora_alpha=4, target_modules="all-linear",
                                                   init_lora_weights=False, task_type="CAUSAL_LM"))
    model.save_pretrained(directory)
    config_file = directory / "adapter_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "base_model_name_or_path": base_name}))


def test_shipped_adapter_loads_base_plus_adapter(tiny_dirs, tmp_path, monkeypatch):
    monkeypatch.setattr(packaged, "ADAPTERS_ROOT", tmp_path / "adapters")
    base = str(tiny_dirs["llama"])
    monkeypatch.setitem(packaged.PACKAGED_ADAPTERS, "tiny-qagen",
                        packaged.PackagedAdapter("tiny-qagen", base, "tiny", "MIT", "test adapter"))
    with pytest.raises(FileNotFoundError, match="reproduce/train_qagen_default.sh"):
        load_backbone("packaged:tiny-qagen", device="cpu")
    _save_adapter(base, tmp_path / "adapters" / "tiny", base)
    backbone = load_backbone("packaged:tiny-qagen", device="cpu")
    plain = load_backbone(base, device="cpu")
    assert backbone.model_id == "packaged:tiny-qagen" and backbone.fingerprint != plain.fingerprint
    assert not torch.equal(backbone.model.get_parameter("model.layers.0.self_attn.q_proj.weight"),
                           plain.model.get_parameter("model.layers.0.self_attn.q_proj.weight"))
    _save_adapter(base, tmp_path / "adapters" / "tiny", str(tiny_dirs["bart"]))
    with pytest.raises(ValueError, match="registered with"):
        load_backbone("packaged:tiny-qagen", device="cpu")


def test_adapter_fingerprint_covers_weights_config_and_base_but_not_checkpoints(tmp_path):
    from quals.models.weights import adapter_fingerprint

    (tmp_path / "adapter_model.safetensors").write_bytes(b"weights")
    (tmp_path / "adapter_config.json").write_text('{"r": 8}')
    first = adapter_fingerprint("sha256:base", tmp_path)
    checkpoint = tmp_path / "checkpoints" / "checkpoint-25"
    checkpoint.mkdir(parents=True)
    (checkpoint / "adapter_model.safetensors").write_bytes(b"older weights")
    assert adapter_fingerprint("sha256:base", tmp_path) == first  # pruning checkpoints changes nothing
    assert adapter_fingerprint("sha256:other", tmp_path) != first
    (tmp_path / "adapter_model.safetensors").write_bytes(b"trained further")
    assert adapter_fingerprint("sha256:base", tmp_path) != first
    (tmp_path / "adapter_config.json").write_text('{"r": 16}')
    assert adapter_fingerprint("sha256:base", tmp_path) != first
