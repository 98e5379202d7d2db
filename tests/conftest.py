from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fixtures.tiny_models import build_model  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Tests never write to the user's cache (and start from an empty one)."""
    import os

    if "QUALS_TEST_CACHE_DIR" in os.environ:  # let CI share the converted packaged model between runs
        os.environ["QUALS_CACHE_DIR"] = os.environ["QUALS_TEST_CACHE_DIR"]
    else:
        os.environ["QUALS_CACHE_DIR"] = str(tmp_path_factory.mktemp("quals-cache"))
    yield


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {kind: build_model(kind, root / kind) for kind in ("llama", "bart", "t5")}


@pytest.fixture(scope="session")
def tiny_backbones(tiny_dirs):
    from quals.models import load_backbone

    return {kind: load_backbone(str(path), device="cpu", dtype="float32") for kind, path in tiny_dirs.items()}


@pytest.fixture(params=["llama", "bart", "t5"])
def backbone(request, tiny_backbones):
    return tiny_backbones[request.param]
