"""ConSeq end to end on tiny random models, in-process through the CLI: MLE -> candidates -> select
-> train -> summarize -> evaluate; resume of interrupted stages; sharded candidates."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fixtures.fake_qa import fake_generate
from safetensors.torch import load_file

from quals.cli.main import main
from quals.metrics.quals import QUALS

FIXTURES = Path(__file__).parents[1] / "fixtures"
TRAIN = [{"id": f"t{i}", "document": f"The cat sat on the mat in Paris on day {i}. Officials said {i} people "
                                     f"were hurt when a bus crashed near Leeds.",
          "summary": f"The cat sat in Paris on day {i}."} for i in range(8)]
TEST = [{"id": f"h{i}", "document": f"Scientists found water on Mars, NASA announced on day {i}.",
         "summary": f"NASA found water on Mars on day {i}."} for i in range(3)]
QUIET = ["--no-progress"]
SMALL_QUALS = ["--num-groups", "3", "--min-length", "1", "--max-length", "8", "--device", "cpu"]
SHORT = ["--max-new-tokens", "8", "--min-new-tokens", "2"]
TRAIN_FAST = ["--batch-size", "2", "--learning-rate", "1e-2", "--logging-steps", "1"]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def fake_generation(monkeypatch):
    monkeypatch.setattr(QUALS, "generate", fake_generate)


def test_complete_pipeline_decoder_only_lora(tiny_dirs, tmp_path, fake_generation):
    train, test = _write(tmp_path / "train.jsonl", TRAIN), _write(tmp_path / "test.jsonl", TEST)
    llama = str(tiny_dirs["llama"])
    mle, conseq = tmp_path / "mle", tmp_path / "conseq"
    assert main(["train-summarizer", str(train), "-o", str(mle), "--model", llama, "--lora", "--max-steps", "3",
                 "--eval-fraction", "0.25", "--adapter-dtype", "float16", *TRAIN_FAST, *QUIET]) == 0
    info = json.loads((mle / "quals_summarizer.json").read_text())
    assert info["complete"] and info["base_model"] == str(Path(llama).resolve())
    assert info["result"]["n_train"] == 6 and info["result"]["n_eval"] == 2
    # The run ends on its epoch: the epoch-end held-out loss is the final one, computed once.
    assert [e["eval_loss"] for e in info["log_history"] if "eval_loss" in e] == [info["result"]["metrics"]["eval_loss"]]
    assert info["run"]["config"]["adapter_dtype"] == "float16" and not (mle / "checkpoints").exists()
    # Stored in half precision (what the later stages load), the rest of the pipeline runs on it.
    assert {t.dtype for t in load_file(str(mle / "adapter_model.safetensors")).values()} == {torch.float16}

    candidates = tmp_path / "candidates.jsonl"
    assert main(["conseq", "candidates", str(train), "-o", str(candidates), "--model", str(mle),
                 "--num-candidates", "3", *SHORT, "--device", "cpu", *QUIET]) == 0
    records = _lines(candidates)
    assert [r["row"] for r in records] == list(range(8))
    assert all(len(r["candidates"]) == 3 and r["reference"] == TRAIN[r["row"]]["summary"] for r in records)

    triples = tmp_path / "triples.jsonl"
    assert main(["conseq", "select", str(candidates), "-o", str(triples), "--model", llama,
                 "--negative-share", "0.5", "--positive-share", "0.5", *SMALL_QUALS, *QUIET]) == 0
    report = json.loads((tmp_path / "triples.report.json").read_text())
    assert report["n_documents"] == 8 and report["n_negative"] == 4 and report["n_positive"] == 4
    assert report["references"]["n"] == 8
    assert report["candidates"]["n"] + report["candidates"]["n_missing"] == 24  # garbage text may get no QA pair
    kept = _lines(triples)
    assert len(kept) == report["n_kept"] >= 1
    for triple in kept:
        source = records[triple["row"]]
        assert triple["positive"] == source["reference"]
        assert triple["negative"] == source["candidates"][triple["negative_candidate"]]
        assert triple["positive_score"] >= report["positive_threshold"]
        assert triple["negative_score"] <= report["negative_threshold"]
    assert len(_lines(tmp_path / "triples.quals-scores.jsonl")) == 8 * 4

    assert main(["conseq", "train", str(triples), "-o", str(conseq), "--model", str(mle), "--max-steps", "2",
                 *TRAIN_FAST, *QUIET]) == 0
    conseq_info = json.loads((conseq / "quals_summarizer.json").read_text())
    assert conseq_info["base_model"] == info["base_model"] and conseq_info["run"]["config"]["lora"] is True
    assert any("loss_negative" in entry for entry in conseq_info["log_history"])
    before, after = load_file(mle / "adapter_model.safetensors"), load_file(conseq / "adapter_model.safetensors")
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before)

    outputs = {}
    for name, model in (("mle", mle), ("conseq", conseq)):
        outputs[name] = tmp_path / f"{name}.jsonl"
        assert main(["summarize", str(test), "-o", str(outputs[name]), "--model", str(model), "--preset", "xsum",
                     *SHORT, "--device", "cpu", *QUIET]) == 0
        assert [r["id"] for r in _lines(outputs[name])] == ["h0", "h1", "h2"]

    evaluation = tmp_path / "eval"
    assert main(["evaluate-summaries", str(outputs["mle"]), str(outputs["conseq"]), "--test", str(test),
                 "-o", str(evaluation), "--model", llama, *SMALL_QUALS, "--bootstrap-resamples", "100", *QUIET]) == 0
    results = json.loads((evaluation / "results.json").read_text())
    assert [s["name"] for s in results["systems"]] == ["mle", "conseq"]
    assert results["columns"] == ["rouge1", "rouge2", "rougeL", "entity_precision", "quals"]
    assert results["systems"][0]["counts"]["rouge1"] == 3
    table = (evaluation / "table.md").read_text()
    assert table.splitlines()[2].startswith("| mle | 3 |") and table.splitlines()[3].startswith("| conseq | 3 |")
    per_row = _lines(evaluation / "mle.jsonl")
    assert {"rouge1", "rouge2", "rougeL", "entity_precision", "n_entities", "quals"} <= set(per_row[0])


def test_pipeline_encoder_decoder_full_finetuning_with_rouge_selection(tiny_dirs, tmp_path):
    train = _write(tmp_path / "train.jsonl", TRAIN[:4])
    mle, conseq = tmp_path / "mle", tmp_path / "conseq"
    assert main(["train-summarizer", str(train), "-o", str(mle), "--model", str(tiny_dirs["bart"]), "--max-steps",
                 "2", *TRAIN_FAST, *QUIET]) == 0
    assert (mle / "model.safetensors").is_file() and not (mle / "training_args.bin").exists()
    candidates, triples = tmp_path / "candidates.jsonl", tmp_path / "triples.jsonl"
    assert main(["conseq", "candidates", str(train), "-o", str(candidates), "--model", str(mle),
                 "--num-candidates", "2", *SHORT, "--device", "cpu", *QUIET]) == 0
    assert main(["conseq", "select", str(candidates), "-o", str(triples), "--by", "rouge", "--negative-share",
                 "0.5", *QUIET]) == 0
    assert len(_lines(triples)) == 2  # ROUGE: every reference is in S+, so kept = S- = 2 of 4
    assert main(["conseq", "train", str(triples), "-o", str(conseq), "--model", str(mle), "--max-steps", "1",
                 *TRAIN_FAST, *QUIET]) == 0
    assert (conseq / "model.safetensors").is_file()
    assert main(["summarize", str(train), "-o", str(tmp_path / "out.jsonl"), "--model", str(conseq),
                 "--preset", "cnndm", *SHORT, "--num-beams", "2", "--device", "cpu", *QUIET]) == 0


def test_rouge_selection_refuses_quals_settings(tmp_path):
    candidates = _write(tmp_path / "c.jsonl", [])
    assert main(["conseq", "select", str(candidates), "-o", str(tmp_path / "t.jsonl"), "--by", "rouge",
                 "--num-groups", "3", *QUIET]) == 2


def test_interrupted_candidates_resume_to_the_same_output(tiny_dirs, tmp_path, monkeypatch):
    from quals.training.summarizer import generate as summarize_module

    train = _write(tmp_path / "train.jsonl", TRAIN[:6])
    args = ["--model", str(tiny_dirs["llama"]), "--num-candidates", "2", *SHORT, "--chunk-size", "2",
            "--device", "cpu", *QUIET]
    reference = tmp_path / "reference.jsonl"
    assert main(["conseq", "candidates", str(train), "-o", str(reference), *args]) == 0

    real, calls, crash = summarize_module.generate_summaries, [], [True]

    def crash_on_second_chunk(summarizer, documents, decoding, **kwargs):
        calls.append(kwargs["rows"])
        if crash[0] and len(calls) == 2:
            raise RuntimeError("simulated crash")
        return real(summarizer, documents, decoding, **kwargs)

    monkeypatch.setattr(summarize_module, "generate_summaries", crash_on_second_chunk)
    resumed = tmp_path / "resumed.jsonl"
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(["conseq", "candidates", str(train), "-o", str(resumed), *args])
    assert len(_lines(resumed)) == 2  # the first chunk was written
    calls.clear()
    crash[0] = False
    assert main(["conseq", "candidates", str(train), "-o", str(resumed), *args]) == 0
    assert calls == [[2, 3], [4, 5]]  # only the missing chunks ran again
    assert resumed.read_bytes() == reference.read_bytes()


def test_interrupted_training_resumes_from_the_last_checkpoint(tiny_dirs, tmp_path, monkeypatch):
    from transformers import Trainer

    train = _write(tmp_path / "train.jsonl", TRAIN)
    args = ["--model", str(tiny_dirs["llama"]), "--lora", "--max-steps", "4", "--save-steps", "2", *TRAIN_FAST,
            *QUIET]
    uninterrupted, resumed = tmp_path / "full", tmp_path / "resumed"
    assert main(["train-summarizer", str(train), "-o", str(uninterrupted), *args]) == 0

    real_step = Trainer.training_step

    def crash_after_checkpoint(self, *a, **kw):
        if self.state.global_step == 3:
            raise RuntimeError("simulated crash")
        return real_step(self, *a, **kw)

    monkeypatch.setattr(Trainer, "training_step", crash_after_checkpoint)
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(["train-summarizer", str(train), "-o", str(resumed), *args])
    assert (resumed / "checkpoints" / "checkpoint-2").is_dir() and not (resumed / "adapter_model.safetensors").exists()
    assert main(["summarize", str(train), "-o", str(tmp_path / "x.jsonl"), "--model", str(resumed)]) == 2
    monkeypatch.setattr(Trainer, "training_step", real_step)
    assert main(["train-summarizer", str(train), "-o", str(resumed), *args]) == 0
    info = json.loads((resumed / "quals_summarizer.json").read_text())
    assert info["result"]["resumed_from"].endswith("checkpoint-2") and info["result"]["global_step"] == 4
    first, second = (load_file(d / "adapter_model.safetensors") for d in (uninterrupted, resumed))
    for key in first:
        torch.testing.assert_close(first[key], second[key])
    # A finished run is not trained again; other settings are refused.
    assert main(["train-summarizer", str(train), "-o", str(resumed), *args]) == 0
    assert main(["train-summarizer", str(train), "-o", str(resumed), *args[:-len(QUIET)], "--seed", "1"]) == 2


def test_samples_depend_on_row_and_seed_not_on_batching(tiny_dirs):
    from quals.training.summarizer.generate import generate_summaries
    from quals.training.summarizer.config import decoding_config
    from quals.training.summarizer.model import load_summarizer

    summarizer = load_summarizer(str(tiny_dirs["llama"]), device="cpu")
    documents = [row["document"] for row in TRAIN[:4]]
    sample = decoding_config("sample", num_return_sequences=2, max_new_tokens=8, min_new_tokens=2)
    together = generate_summaries(summarizer, documents, sample, batch_size=4)
    alone = [generate_summaries(summarizer, [d], sample, rows=[i], batch_size=1)[0] for i, d in enumerate(documents)]
    assert together == alone
    assert generate_summaries(summarizer, documents[:1], sample, seed=1)[0] != together[0]
    assert len({t for g in together for t in g.texts}) > 1


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")
def test_adapter_from_elsewhere_loads_on_peft_base_record_and_a_missing_base_is_named(tiny_dirs, tmp_path):
    """A peft adapter without quals' info file is loaded by the one loader onto the base peft
    recorded, merged (same outputs as the PeftModel); a recorded base that is gone is an error naming it."""
    import json

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from quals.training.summarizer.model import load_summarizer

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_dirs["llama"]),
                           LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM", init_lora_weights=False))
    model.save_pretrained(tmp_path / "adapter")
    loaded = load_summarizer(str(tmp_path / "adapter"), device="cpu", dtype="float32")
    ids = torch.tensor([[1, 5, 9, 3]])
    with torch.no_grad():
        expected = model.eval()(input_ids=ids).logits
        plain = AutoModelForCausalLM.from_pretrained(tiny_dirs["llama"]).eval()(input_ids=ids).logits
        got = loaded.model(input_ids=ids).logits
    assert torch.allclose(got, expected, atol=1e-5) and not torch.allclose(got, plain, atol=1e-3)
    assert loaded.base_model == str(Path(tiny_dirs["llama"]).resolve())
    config_file = tmp_path / "adapter" / "adapter_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()),
                                       "base_model_name_or_path": str(tmp_path / "gone")}))
    with pytest.raises(ValueError, match="gone.*no such directory"):
        load_summarizer(str(tmp_path / "adapter"), device="cpu")


def test_candidates_sharded_over_two_processes_match_one(tiny_dirs, tmp_path):
    """Under torchrun (as under accelerate launch) each process takes every other chunk and the
    first merges them in row order; per-row seeds make the merged file identical."""
    train = _write(tmp_path / "train.jsonl", TRAIN[:5])
    common = ["-m", "quals", "conseq", "candidates", str(train), "--model", str(tiny_dirs["llama"]),
              "--num-candidates", "2", *SHORT, "--chunk-size", "2", "--device", "cpu", *QUIET]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single, sharded = tmp_path / "single.jsonl", tmp_path / "sharded.jsonl"
    subprocess.run([sys.executable, *common, "-o", str(single)], env=env, check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                "127.0.0.1", "--master_port", str(port)]
    result = subprocess.run([*launcher, "-m", *common[1:], "-o", str(sharded)], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sharded.read_bytes() == single.read_bytes()
    assert json.loads((tmp_path / "sharded.jsonl.run.json").read_text())["merged_from"] == 2


def test_quals_selection_sharded_over_two_processes_matches_one(tiny_dirs, tmp_path):
    """The costliest stage: per-summary QUALS scores sharded by chunk, merged by the first process
    (the same file one process writes), then the same triples."""
    candidates = tmp_path / "candidates.jsonl"
    _write(candidates, [{"row": i, "id": r["id"], "document": r["document"], "reference": r["summary"],
                         "candidates": [f"The cat sat on day {i + k}." for k in range(3)], "source_truncated": False,
                         "error": None} for i, r in enumerate(TRAIN)])
    common = [str(FIXTURES / "fake_qa.py"), "conseq", "select", str(candidates), "--model", str(tiny_dirs["llama"]),
              "--chunk-size", "3", "--negative-share", "0.5", "--positive-share", "0.5", *SMALL_QUALS, *QUIET]
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent), "OMP_NUM_THREADS": "1"}
    single, sharded = tmp_path / "single" / "triples.jsonl", tmp_path / "sharded" / "triples.jsonl"
    subprocess.run([sys.executable, *common, "-o", str(single)], env=env, check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                             "127.0.0.1", "--master_port", str(port), *common, "-o", str(sharded)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    scores = "triples.quals-scores.jsonl"
    assert (sharded.parent / scores).read_bytes() == (single.parent / scores).read_bytes()
    assert json.loads((sharded.parent / f"{scores}.run.json").read_text())["merged_from"] == 2
    assert sharded.read_bytes() == single.read_bytes() and _lines(single)


def test_training_runs_data_parallel_over_two_processes(tiny_dirs, tmp_path):
    """The training stages (MLE here; ConSeq fine-tuning uses the same Trainer run) under torchrun
    with two CPU processes (gloo): each step takes a batch per process, one process saves."""
    train = _write(tmp_path / "train.jsonl", TRAIN)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                "127.0.0.1", "--master_port", str(port)]
    out = tmp_path / "mle"
    result = subprocess.run([*launcher, "-m", "quals", "train-summarizer", str(train), "-o", str(out), "--model",
                             str(tiny_dirs["llama"]), "--lora", "--max-steps", "2", *TRAIN_FAST, *QUIET,
                             "--device", "cpu"], env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    info = json.loads((out / "quals_summarizer.json").read_text())
    assert info["world_size"] == 2 and info["result"]["global_step"] == 2
    assert info["result"]["metrics"]["epoch"] == 1.0  # 2 steps x 2 processes x 2 rows = the 8 rows once
    assert (out / "adapter_model.safetensors").is_file()


def test_help_renders_without_torch():
    code = ("import sys\nfrom quals.cli.main import main\n"
            "for argv in (['summarize'], ['train-summarizer'], ['conseq', 'candidates'], ['conseq', 'select'],"
            " ['conseq', 'train'], ['evaluate-summaries']):\n"
            "    try:\n        main([*argv, '--help'])\n    except SystemExit as exit:\n        assert exit.code == 0\n"
            "print('torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("False")
    assert "--num-candidates" in result.stdout and "--negative-share" in result.stdout
