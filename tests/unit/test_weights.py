"""The one model loader: the same weights get the same fingerprint whoever loads them."""

from __future__ import annotations

import json

import pytest
import torch

from quals.models.weights import (
    adapter_fingerprint,
    load_model,
    plain_fingerprint,
    same_weights,
    weights_fingerprint,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")


@pytest.fixture(scope="module")
def adapter_dir(tiny_dirs, tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_dirs["llama"]),
                           LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM", init_lora_weights=False))
    directory = tmp_path_factory.mktemp("adapter") / "a"
    model.save_pretrained(directory)
    return directory


def test_same_weights_accepts_a_commitless_hub_record_only_for_that_id():
    assert same_weights("sha256:ab", "sha256:ab")
    assert not same_weights("sha256:ab", "sha256:cd")
    assert same_weights("hub:org/m", "hub:org/m@123")
    assert not same_weights("hub:org/m", "hub:org/mm@123")
    assert not same_weights("hub:org/m@123", "hub:org/m@456")


def test_qagen_scoring_and_summarizer_loading_fingerprint_a_model_alike(tiny_dirs, adapter_dir):
    from quals.models import load_backbone
    from quals.training.summarizer.model import load_summarizer

    for model in (str(tiny_dirs["llama"]), str(adapter_dir)):
        expected = weights_fingerprint(model)
        assert load_backbone(model, device="cpu", dtype="float32").fingerprint == expected
        assert load_summarizer(model, device="cpu", dtype="float32").fingerprint == expected
        assert load_model(model, device="cpu", dtype="float32").fingerprint == expected
    base = plain_fingerprint(str(tiny_dirs["llama"]))
    assert weights_fingerprint(str(adapter_dir)) == adapter_fingerprint(base, adapter_dir) != base


def test_adapter_is_merged_into_its_recorded_base(tiny_dirs, adapter_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    merged = load_model(str(adapter_dir), device="cpu", dtype="float32")
    trainable = load_model(str(adapter_dir), device=None, dtype="float32", trainable_adapter=True)
    assert merged.is_adapter and merged.base_fingerprint == plain_fingerprint(str(tiny_dirs["llama"]))
    assert isinstance(trainable.network, PeftModel) and not isinstance(merged.network, PeftModel)
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_dirs["llama"]), str(adapter_dir))
    ids = torch.tensor([[1, 7, 4, 9]])
    with torch.no_grad():
        assert torch.allclose(merged.network(input_ids=ids).logits, reference.eval()(input_ids=ids).logits, atol=1e-5)
    with pytest.raises(ValueError, match="LoRA adapter; train from its base"):
        load_model(str(adapter_dir), allow_adapter=False)


def test_an_adapter_whose_base_changed_is_refused(tiny_dirs, adapter_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(adapter_dir, copy)
    (copy / "quals_summarizer.json").write_text(json.dumps({
        "base_model": str(tiny_dirs["llama"]), "base_fingerprint": "sha256:" + "0" * 64}))
    with pytest.raises(ValueError, match="trained on base weights sha256:0000"):
        load_model(str(copy), device="cpu")


def test_heads_other_than_language_models_load_through_the_same_loader(tiny_dirs):
    loaded = load_model(str(tiny_dirs["bart"]), device="cpu", dtype="float32", head="sequence-classification")
    assert type(loaded.network).__name__ == "BartForSequenceClassification"
    assert loaded.fingerprint == plain_fingerprint(str(tiny_dirs["bart"]))
    with pytest.raises(ValueError, match="head must be one of"):
        load_model(str(tiny_dirs["bart"]), head="vision")
