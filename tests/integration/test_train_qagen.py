"""QAGen training end to end on tiny random models: the loss falls, every trainable parameter
moves, an interrupted run resumes where it stopped, and ``quals score --model DIR`` loads the
result (full model directory or LoRA adapter)."""

from __future__ import annotations

import dataclasses

import json
from pathlib import Path

import pytest
import torch
from fixtures.fake_qa import fake_generate
from safetensors.torch import load_file

from quals.cli.main import main
from quals.data.qa_datasets import QAExample
from quals.metrics.quals import QUALS
from quals.models import load_backbone
from quals.models.scoring import score_sequences
from quals.training.qagen.trainer import QAGenTrainer, train_qagen
from quals.training.qagen.config import QAGenTrainingConfig

ROWS = [
    ("The cat sat on the mat in Paris on Monday.", "Where did the cat sit?", "on the mat"),
    ("Officials said 12 people were hurt when a bus crashed near Leeds on Friday evening.",
     "How many people were hurt?", "12"),
    ("The company reported profits of 3 billion dollars, up from last year.", "What did the company report?",
     "profits"),
    ("Scientists found water on Mars, NASA announced on Tuesday.", "What did scientists find?", "water"),
]
EXAMPLES = [QAExample(str(i), c, q, a, c.index(a)) for i, (c, q, a) in enumerate(ROWS)]


@pytest.fixture
def qa_file(tmp_path) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps({"context": c, "question": q, "answer": a}) + "\n" for c, q, a in ROWS * 2))
    return path


def _config(model: Path, data: Path, output: Path, **overrides) -> QAGenTrainingConfig:
    settings = dict(model=str(model), train_files=(str(data),), heldout_files=(str(data),), eval_size=4,
                    output_dir=str(output), max_steps=8, batch_size=4, learning_rate=5e-3, warmup_steps=0,
                    save_steps=4, eval_steps=4, logging_steps=1, progress=False, seed=3)
    settings.update(overrides)
    return QAGenTrainingConfig(**settings)


def _nll(model: str) -> float:
    """Mean held-out token NLL of the QA pairs, measured the way QUALS scores them."""
    backbone = load_backbone(model, device="cpu", dtype="float32")
    scores = score_sequences(backbone, [backbone.tokenize(e.context) for e in EXAMPLES],
                             [[backbone.qa_token_ids(e.question, e.answer)] for e in EXAMPLES], window_tokens=200)
    values = [v for context in scores for v in context.sequences[0].by_window[0]]
    return -sum(values) / len(values)


def _weights(directory: Path, name: str) -> dict[str, torch.Tensor]:
    return load_file(str(directory / name))


@pytest.mark.parametrize("kind, lora", [("llama", True), ("llama", False), ("bart", False), ("t5", False)])
def test_a_few_steps_lower_the_loss_and_move_every_trainable_weight(tiny_dirs, qa_file, tmp_path, kind, lora):
    output = tmp_path / "out"
    result = train_qagen(_config(tiny_dirs[kind], qa_file, output, lora=lora))
    assert result.lora is lora and result.global_step == 8 and result.n_train == 8
    assert _nll(str(output)) < _nll(str(tiny_dirs[kind])) - 0.05
    info = json.loads((output / "quals_qagen.json").read_text())
    assert info["global_step"] == 8 and info["data"]["train_examples"] == 8 and info["eval_loss"] is not None
    assert info["base_fingerprint"].startswith("sha256:") and info["train_seconds"] > 0
    assert (output / "quals_format.json").is_file() and not (output / "training_args.bin").exists()
    if lora:
        adapter = _weights(output, "adapter_model.safetensors")
        assert adapter and all(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)
        config = json.loads((output / "adapter_config.json").read_text())
        assert config["base_model_name_or_path"] == str(tiny_dirs[kind].resolve())
        assert not (output / "model.safetensors").exists()
    else:
        before, after = _weights(tiny_dirs[kind], "model.safetensors"), _weights(output, "model.safetensors")
        parameters = {n for n, _ in load_backbone(str(tiny_dirs[kind]), device="cpu").model.named_parameters()}
        unchanged = [k for k in before if k in parameters and torch.equal(before[k], after[k])]
        assert unchanged == [] and (output / "tokenizer.json").is_file()


def test_interrupted_run_resumes_from_its_last_checkpoint(tiny_dirs, qa_file, tmp_path, monkeypatch):
    config = _config(tiny_dirs["llama"], qa_file, tmp_path / "out")
    original = QAGenTrainer.training_step

    def crash_after_checkpoint(self, *args, **kwargs):
        if self.state.global_step == 5:
            raise KeyboardInterrupt("simulated interruption")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QAGenTrainer, "training_step", crash_after_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train_qagen(config)
    assert (tmp_path / "out" / "checkpoints" / "checkpoint-4").is_dir()
    assert not (tmp_path / "out" / "quals_qagen.json").exists()
    monkeypatch.setattr(QAGenTrainer, "training_step", original)
    resumed = train_qagen(config)
    info = json.loads((tmp_path / "out" / "quals_qagen.json").read_text())
    assert resumed.global_step == 8 and info["resumed_from"].endswith("checkpoint-4")

    straight = train_qagen(_config(tiny_dirs["llama"], qa_file, tmp_path / "straight"))
    assert straight.global_step == 8
    a = _weights(tmp_path / "out", "adapter_model.safetensors")
    b = _weights(tmp_path / "straight", "adapter_model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # same seed, same data order: same result


def test_finished_run_returns_at_once_and_changed_settings_are_refused(tiny_dirs, qa_file, tmp_path):
    config = _config(tiny_dirs["llama"], qa_file, tmp_path / "out", max_steps=4)
    first = train_qagen(config)
    weights = (tmp_path / "out" / "adapter_model.safetensors").read_bytes()
    again = train_qagen(dataclasses.replace(config, progress=not config.progress))  # how to run, not what
    assert (again.global_step, again.eval_loss, again.n_train) == (first.global_step, first.eval_loss, first.n_train)
    assert (tmp_path / "out" / "adapter_model.safetensors").read_bytes() == weights
    with pytest.raises(FileExistsError, match="other settings.*--overwrite"):
        train_qagen(_config(tiny_dirs["llama"], qa_file, tmp_path / "out", max_steps=4, learning_rate=1e-3))
    (tmp_path / "out" / "quals_qagen.json").unlink()  # as if it had stopped after its checkpoint
    with pytest.raises(ValueError, match="seed"):
        train_qagen(_config(tiny_dirs["llama"], qa_file, tmp_path / "out", max_steps=4, seed=4))
    result = train_qagen(_config(tiny_dirs["llama"], qa_file, tmp_path / "out", max_steps=4, overwrite=True,
                                 seed=4))
    assert result.global_step == 4


def test_adapter_loads_merged_with_a_fingerprint_of_base_and_adapter(tiny_dirs, qa_file, tmp_path):
    output = tmp_path / "adapter"
    train_qagen(_config(tiny_dirs["llama"], qa_file, output, max_steps=2, adapter_dtype="float16"))
    assert all(v.dtype == torch.float16 for v in _weights(output, "adapter_model.safetensors").values())
    base = load_backbone(str(tiny_dirs["llama"]), device="cpu")
    merged = load_backbone(str(output), device="cpu")
    assert type(merged.model).__name__ == "LlamaForCausalLM"  # merged, no peft wrapper left
    assert merged.fingerprint.startswith("sha256:") and merged.fingerprint != base.fingerprint
    assert merged.qa_format == base.qa_format
    changed = [n for n, p in merged.model.named_parameters() if not torch.equal(p, base.model.get_parameter(n))]
    assert changed and all("proj" in n for n in changed)

    info_file = output / "quals_qagen.json"
    info = json.loads(info_file.read_text())
    info_file.write_text(json.dumps({**info, "base_fingerprint": "sha256:" + "0" * 64}))
    with pytest.raises(ValueError, match="trained on base weights"):
        load_backbone(str(output), device="cpu")
    info_file.write_text(json.dumps(info))
    (output / "adapter_model.safetensors").rename(output / "adapter_model.bin")
    with pytest.raises(ValueError, match="safetensors only"):
        load_backbone(str(output), device="cpu")


@pytest.mark.parametrize("kind, lora", [("llama", True), ("bart", False)])
def test_quals_score_loads_the_trained_directory(tiny_dirs, qa_file, tmp_path, monkeypatch, kind, lora):
    monkeypatch.setattr(QUALS, "generate", fake_generate)  # tiny random models never write a QA pair
    output = tmp_path / "qagen"
    assert main(["train-qagen", str(qa_file), "-o", str(output), "--model", str(tiny_dirs[kind]),
                 "--lora" if lora else "--no-lora", "--max-steps", "2", "--batch-size", "4", "--eval-size", "4",
                 "--no-progress", "--seed", "1"]) == 0
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"id": "a", "document": ROWS[0][0], "summary": "The cat sat on the mat."}) + "\n")
    scores = tmp_path / "scores.jsonl"
    assert main(["score", str(data), "-o", str(scores), "--model", str(output), "--device", "cpu",
                 "--no-progress"]) == 0
    record = json.loads(scores.read_text().splitlines()[0])
    assert isinstance(record["score"], float) and record["error"] is None
    run = json.loads((tmp_path / "scores.jsonl.run.json").read_text())
    assert run["run"]["model"]["model"] == str(output)
    assert run["run"]["model"]["fingerprint"] == load_backbone(str(output), device="cpu").fingerprint


def test_eval_qagen_writes_loglik_and_generation_numbers(tiny_dirs, qa_file, tmp_path):
    output = tmp_path / "eval.json"
    assert main(["eval-qagen", str(qa_file), "-o", str(output), "--model", str(tiny_dirs["llama"]),
                 "--num-passages", "2", "--num-groups", "3", "--max-length", "8", "--min-length", "1",
                 "--device", "cpu"]) == 0
    result = json.loads(output.read_text())
    loglik = result["loglik"]
    assert loglik["pairs"] == 8 and loglik["token_logprob"] < 0
    # Both are the total log-prob of all QA tokens, divided differently.
    assert loglik["pair_total_logprob"] * loglik["pairs"] == pytest.approx(loglik["token_logprob"] * loglik["tokens"])
    generation = result["generation"]
    assert generation["passages"] == 2 and generation["hypotheses"] == 6
    assert 0 <= generation["span_share"] <= generation["well_formed_share"] <= 1
    assert len(result["passages"]) == 2 and result["signature"].startswith("qagen-eval:")
    assert result["model"]["fingerprint"].startswith("sha256:")


def test_train_qagen_cli_errors(tmp_path):
    assert main(["train-qagen", "-o", str(tmp_path / "x")]) == 2
    assert main(["train-qagen", str(tmp_path / "missing.json"), "-o", str(tmp_path / "x"), "--lora-dropout",
                 "1.5"]) == 2


def test_help_renders_without_importing_torch():
    import subprocess
    import sys

    code = ("import sys\nfrom quals.cli.main import main\n"
            "for command in ('train-qagen', 'eval-qagen', 'eval-qa'):\n"
            "    try:\n        main([command, '--help'])\n    except SystemExit as stop:\n"
            "        assert stop.code == 0\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--lora, --no-lora" in done.stdout and "--num-groups" in done.stdout
