"""FactCC-style classifier training on a tiny BERT: the loss falls, the adapter and its head load
back into the scorer, and the scorer sees exactly the trained inputs."""

from __future__ import annotations

import json

import pytest
from fixtures.tiny_models import build_bert_classifier

from quals.metrics.factcc import FactCC
from quals.training.factcc.trainer import FactccTrainingConfig, best_overlap_chunk, read_claims, train_factcc

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")

DOCUMENT = "the cat sat on the mat in paris on monday . scientists found water on mars ."
# negatives carry words the positives never do, so that a dozen steps of a tiny model can learn them
CLAIMS = [("the cat sat on the mat in paris .", 1), ("who sat on the mat in paris ?", 0),
          ("scientists found water on mars .", 1), ("where did scientists find water ?", 0)] * 4


@pytest.fixture()
def claims_file(tmp_path):
    path = tmp_path / "claims.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "document": DOCUMENT, "claim": c, "label": y}) + "\n"
                            for i, (c, y) in enumerate(CLAIMS)))
    return path


def _config(encoder, claims_file, output, **overrides):
    settings = dict(model=str(encoder), train_file=str(claims_file), eval_file=str(claims_file),
                    output_dir=str(output), max_length=32, max_steps=12, batch_size=4, learning_rate=3e-3,
                    eval_steps=6, save_steps=6, logging_steps=1, progress=False, seed=3, lora_r=4)
    settings.update(overrides)
    return FactccTrainingConfig(**settings)


@pytest.mark.parametrize("lora", [True, False])
def test_training_lowers_the_loss_and_the_scorer_loads_what_was_trained(tmp_path, claims_file, lora):
    encoder = build_bert_classifier(tmp_path / "bert", id2label={0: "LABEL_0", 1: "LABEL_1"}, max_positions=40)
    result = train_factcc(_config(encoder, claims_file, tmp_path / "out", lora=lora))
    info = json.loads((tmp_path / "out" / "quals_classifier.json").read_text())
    history = json.loads((tmp_path / "out" / "checkpoints" / "checkpoint-12" / "trainer_state.json").read_text())
    losses = [e["loss"] for e in history["log_history"] if "loss" in e]
    assert result.global_step == 12 and losses[-1] < losses[0]
    assert result.eval_accuracy is not None and info["id2label"] == {"0": "inconsistent", "1": "consistent"}
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file() is lora
    scorer = FactCC(str(tmp_path / "out"), device="cpu", dtype="float32")
    assert (scorer.max_length, scorer.chunk_overlap) == (32, 64)  # as trained
    assert scorer.label == 1  # from quals_classifier.json: the base's generic labels would be refused
    scores = scorer.score([DOCUMENT] * 2, ["the cat sat on the mat in paris .", "who sat on the mat in paris ?"])
    assert scores.scores[0] > scores.scores[1]  # learnt from 12 steps on these very claims
    if lora:  # the merged adapter and its trained head are the PeftModel peft itself loads
        import torch
        from peft import PeftModel
        from transformers import AutoModelForSequenceClassification

        peft_model = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(encoder),
                                               str(tmp_path / "out")).eval()
        ids = scorer.tokenizer(DOCUMENT, add_special_tokens=False)["input_ids"]
        claim = scorer.tokenizer("who sat on the mat in paris ?", add_special_tokens=False)["input_ids"]
        feature = scorer.layout.build(ids[:12], claim)
        with torch.no_grad():
            logits = peft_model(**{k: torch.tensor([v]) for k, v in feature.items()}).logits
        assert scorer.probabilities([(ids[:12], claim)])[0] == pytest.approx(
            torch.softmax(logits, -1)[0, 1].item(), abs=1e-3)  # float16 adapter vs merged


def test_the_training_chunk_is_the_one_sharing_most_tokens_with_the_claim():
    document = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert best_overlap_chunk(document, [9, 10, 99], budget=4, overlap=0) == (8, 12)
    assert best_overlap_chunk(document, [77], budget=4, overlap=0) == (0, 4)  # no overlap: the first
    assert best_overlap_chunk(document[:3], [3], budget=4, overlap=0) == (0, 3)


def test_malformed_claims_name_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"document": "d", "claim": "c", "label": 1}) + "\n"
                    + json.dumps({"document": "d", "claim": "c", "label": "yes"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: label must be 0"):
        read_claims(path, None, 0)
    path.write_text('{"document": "d"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: field\(s\) \['claim'\]"):
        read_claims(path, None, 0)


def test_a_rerun_of_a_finished_run_returns_it(tmp_path, claims_file):
    encoder = build_bert_classifier(tmp_path / "bert", max_positions=40)
    first = train_factcc(_config(encoder, claims_file, tmp_path / "out", max_steps=2))
    weights = (tmp_path / "out" / "adapter_model.safetensors").read_bytes()
    assert train_factcc(_config(encoder, claims_file, tmp_path / "out", max_steps=2)) == first
    assert (tmp_path / "out" / "adapter_model.safetensors").read_bytes() == weights


def test_the_train_factcc_command_trains_and_prints_its_result(tmp_path, claims_file, capsys):
    from quals.cli.main import main

    encoder = build_bert_classifier(tmp_path / "bert", max_positions=40)
    argv = ["train-factcc", str(claims_file), "-o", str(tmp_path / "out"), "--model", str(encoder),
            "--max-steps", "2", "--batch-size", "4", "--max-length", "32", "--no-progress", "--device", "cpu",
            "--seed", "5", "--lora-r", "2"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    info = json.loads((tmp_path / "out" / "quals_classifier.json").read_text())
    assert result["global_step"] == 2 and info["run"]["seed"] == 5 and info["run"]["batch_size"] == 4
    assert main([*argv[:4], "--dtype", "float16"]) == 2  # refused before anything trains


def test_modules_to_save_train_in_full_and_load_with_the_adapter(tmp_path, claims_file):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    encoder = build_bert_classifier(tmp_path / "bert", id2label={0: "LABEL_0", 1: "LABEL_1"}, max_positions=40)
    train_factcc(_config(encoder, claims_file, tmp_path / "out", lora_modules_to_save="pooler", max_steps=4))
    saved = load_file(str(tmp_path / "out" / "adapter_model.safetensors"))
    assert any("pooler" in name for name in saved) and any("classifier" in name for name in saved)
    base = AutoModelForSequenceClassification.from_pretrained(encoder).bert.pooler.dense.weight
    scorer = FactCC(str(tmp_path / "out"), device="cpu", dtype="float32")
    trained = scorer.model.bert.pooler.dense.weight
    assert not torch.allclose(trained, base)  # the scorer reads the trained pooler, not the base's


def test_nli_pairs_are_read_as_claims(tmp_path):
    path = tmp_path / "nli.jsonl"
    path.write_text("\n" + json.dumps({"id": "m-1", "premise": "A man sleeps.", "hypothesis": "A man rests.",
                                       "label": "entailment", "entailed": 1}) + "\n"
                    + json.dumps({"id": "m-2", "premise": "A man sleeps.", "hypothesis": "A man runs.",
                                  "label": "not_entailment", "entailed": 0}) + "\n")
    records = read_claims(path, None, 0)
    assert [(r["document"], r["claim"], r["label"], r["id"]) for r in records] == [
        ("A man sleeps.", "A man rests.", 1, "m-1"), ("A man sleeps.", "A man runs.", 0, "m-2")]
    path.write_text(json.dumps({"premise": "p", "hypothesis": "h", "entailed": 1}) + "\n"
                    + json.dumps({"premise": "p", "hypothesis": "h", "entailed": 2}) + "\n")
    with pytest.raises(ValueError, match=r"nli.jsonl:2: entailed must be 0"):
        read_claims(path, None, 0)


def test_a_second_stage_continues_the_first_stages_adapter_and_head_on_the_plain_base(tmp_path, claims_file):
    from safetensors.torch import load_file

    encoder = build_bert_classifier(tmp_path / "bert", id2label={0: "LABEL_0", 1: "LABEL_1"}, max_positions=40)
    train_factcc(_config(encoder, claims_file, tmp_path / "stage1", lora_modules_to_save="pooler", max_steps=4))
    # learning rate 0: the second stage's weights are the first stage's only if it loaded them
    train_factcc(_config(tmp_path / "stage1", claims_file, tmp_path / "stage2", max_steps=2, learning_rate=0.0))
    first = load_file(str(tmp_path / "stage1" / "adapter_model.safetensors"))
    second = load_file(str(tmp_path / "stage2" / "adapter_model.safetensors"))
    assert first.keys() == second.keys() and any("pooler" in name for name in second)
    assert all((first[name] == second[name]).all() for name in first)
    adapter_config = json.loads((tmp_path / "stage2" / "adapter_config.json").read_text())
    info = json.loads((tmp_path / "stage2" / "quals_classifier.json").read_text())
    assert adapter_config["base_model_name_or_path"] == str(encoder) == info["base_model"]  # not stage 1
    scorer = FactCC(str(tmp_path / "stage2"), device="cpu", dtype="float32")  # loads on the plain base
    assert scorer.label == 1
    with pytest.raises(ValueError, match="continue it with LoRA"):
        train_factcc(_config(tmp_path / "stage1", claims_file, tmp_path / "full", max_steps=2, lora=False))


def test_a_classifier_adapter_without_its_head_is_refused(tmp_path, claims_file):
    from safetensors.torch import load_file, save_file

    encoder = build_bert_classifier(tmp_path / "bert", max_positions=40)
    train_factcc(_config(encoder, claims_file, tmp_path / "out", max_steps=1))
    weights = tmp_path / "out" / "adapter_model.safetensors"
    save_file({k: v for k, v in load_file(str(weights)).items() if "classifier" not in k}, str(weights))
    with pytest.raises(ValueError, match="holds no classification head"):  # not a random head, silently
        FactCC(str(tmp_path / "out"), device="cpu", dtype="float32")
