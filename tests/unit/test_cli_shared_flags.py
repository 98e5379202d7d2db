"""--device, --dtype, --batch-size, --seed and --overwrite: one meaning, one definition, every command;
and exit statuses that tell a usage error from a bug."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from quals.cli import runtime
from quals.cli.main import build_parser, main

# The smallest valid command line of every command that runs a model.
MODEL_COMMANDS = {
    "score": ["score", "in.jsonl", "-o", "out.jsonl"],
    "explain": ["explain", "-o", "out"],
    "meta-eval": ["meta-eval", "-o", "out"],
    "train-qagen": ["train-qagen", "squad.json", "-o", "out"],
    "eval-qagen": ["eval-qagen", "squad.json", "-o", "out.json"],
    "eval-qa": ["eval-qa", "squad.json", "-o", "out.json"],
    "summarize": ["summarize", "in.jsonl", "-o", "out.jsonl"],
    "train-summarizer": ["train-summarizer", "in.jsonl", "-o", "out"],
    "conseq candidates": ["conseq", "candidates", "in.jsonl", "-o", "c.jsonl", "--model", "mle"],
    "conseq select": ["conseq", "select", "c.jsonl", "-o", "t.jsonl"],
    "conseq train": ["conseq", "train", "t.jsonl", "-o", "out", "--model", "mle"],
    "evaluate-summaries": ["evaluate-summaries", "a.jsonl", "--test", "test.jsonl", "-o", "out"],
    "train-factcc": ["train-factcc", "claims.jsonl", "-o", "out"],
}
NO_MODEL = {"annotate build", "annotate serve", "annotate export", "factcc-claims"}
SHARED = ("--device", "--dtype", "--batch-size", "--seed")


def _leaf_parsers(parser: argparse.ArgumentParser, prefix: str = ""):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix.strip(), parser
        return
    for name, sub in subs[0].choices.items():
        yield from _leaf_parsers(sub, f"{prefix} {name}")


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def test_every_command_is_either_listed_here_or_runs_no_model():
    assert {name for name, _ in _leaf_parsers(build_parser())} == set(MODEL_COMMANDS) | NO_MODEL


@pytest.mark.parametrize("name", sorted(MODEL_COMMANDS))
def test_every_model_command_takes_the_four_shared_flags(name):
    argv = MODEL_COMMANDS[name]
    args = build_parser().parse_args([*argv, "--device", "cuda:1", "--dtype", "bfloat16", "--batch-size", "3",
                                      "--seed", "5"])
    assert (args.device, args.dtype, args.batch_size, args.seed) == ("cuda:1", "bfloat16", 3, 5)
    defaults = build_parser().parse_args(argv)
    assert (defaults.device, defaults.dtype) == ("auto", "auto")


@pytest.mark.parametrize("name", sorted(MODEL_COMMANDS))
def test_the_shared_flags_come_from_the_one_definition(name):
    parser = dict(_leaf_parsers(build_parser()))[name]
    groups = [g for g in parser._action_groups if g.title == runtime.GROUP_TITLE]
    assert len(groups) == 1
    assert sorted(o for a in groups[0]._group_actions for o in a.option_strings) == sorted(SHARED)
    batch = next(a for a in groups[0]._group_actions if a.dest == "batch_size")
    assert batch.help.startswith("Sequences per forward pass: ") and "(default: " in batch.help


def test_no_model_command_defines_a_shared_flag_itself():
    """(annotate build/serve and factcc-claims run no model; their --seed seeds the sample, in the same sense.)"""
    for name, parser in _leaf_parsers(build_parser()):
        if name in NO_MODEL:
            continue
        for group in parser._action_groups:
            if group.title != runtime.GROUP_TITLE:
                owned = {o for a in group._group_actions for o in a.option_strings}
                assert not owned & set(SHARED), (name, group.title)


def test_overwrite_always_has_its_no_pair():
    for name, parser in _leaf_parsers(build_parser()):
        options = _options(parser)
        if "--overwrite" in options:
            assert "--no-overwrite" in options, name


@pytest.mark.parametrize("flag, value", [("--device", "gpu"), ("--device", "cuda:x"), ("--dtype", "half"),
                                         ("--batch-size", "0"), ("--batch-size", "many"), ("--seed", "one")])
def test_a_bad_shared_value_is_a_usage_error(flag, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*MODEL_COMMANDS["score"], flag, value])
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err


def test_dtype_aliases_and_device_case_are_normalised():
    args = build_parser().parse_args([*MODEL_COMMANDS["summarize"], "--dtype", "BF16", "--device", "CUDA:0"])
    assert (args.dtype, args.device) == ("bfloat16", "cuda:0")


def test_batch_size_and_seed_defaults_are_each_commands():
    parse = build_parser().parse_args
    assert parse(MODEL_COMMANDS["score"]).batch_size == 64
    assert parse(MODEL_COMMANDS["summarize"]).batch_size == 8
    # A config field: None, so a --config file can set it; the config's default applies.
    assert parse(MODEL_COMMANDS["train-summarizer"]).batch_size is None
    assert parse(MODEL_COMMANDS["conseq candidates"]).seed is None


def test_evaluate_summaries_bootstrap_follows_seed_unless_given(monkeypatch, tmp_path):
    from quals.evaluation import summaries

    seen = {}

    def fake_evaluate(evaluator, test, systems, output, **kwargs):
        seen.update(kwargs)
        return []

    monkeypatch.setattr(summaries, "evaluate_systems", fake_evaluate)
    monkeypatch.setattr(summaries, "markdown_table", lambda results, columns: "")
    base = ["evaluate-summaries", "a.jsonl", "--test", "t.jsonl", "-o", str(tmp_path), "--metrics", "rouge"]
    assert main([*base, "--seed", "4"]) == 0 and seen["seed"] == 4
    assert main([*base, "--seed", "4", "--bootstrap-seed", "9"]) == 0 and seen["seed"] == 9


# ----- training: what the HF Trainer can honour ------------------------------------------------

def test_trainer_device_mapping(monkeypatch):
    import torch

    assert runtime.trainer_use_cpu("cpu") is True
    assert runtime.trainer_use_cpu("auto") is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        runtime.trainer_use_cpu("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.trainer_use_cpu("cuda") is False and runtime.trainer_use_cpu("cuda:0") is False
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES=2"):
        runtime.trainer_use_cpu("cuda:2")
    with pytest.raises(ValueError, match="mps"):
        runtime.trainer_use_cpu("mps")


def test_training_dtype_mapping(monkeypatch):
    import torch

    from quals.models.device import bf16_setting, training_bf16

    assert (bf16_setting("auto"), bf16_setting("bfloat16"), bf16_setting("float32")) == (None, True, False)
    with pytest.raises(ValueError, match="float16 is not offered"):
        bf16_setting("float16")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert training_bf16("auto") is True and training_bf16("auto", use_cpu=True) is False
    assert training_bf16("float32") is False


def test_training_arguments_take_the_dtype(tmp_path):
    from quals.training.summarizer.config import SummarizerConfig
    from quals.training.summarizer.run import run_directory, training_arguments

    run = run_directory(tmp_path, {})
    args = training_arguments(run, SummarizerConfig(), has_eval=False, use_cpu=True, dtype="bfloat16")
    assert args.bf16 is True and args.use_cpu is True
    assert training_arguments(run, SummarizerConfig(), has_eval=False, use_cpu=True).bf16 is False
    with pytest.raises(ValueError, match="float16"):
        training_arguments(run, SummarizerConfig(), has_eval=False, dtype="float16")


@pytest.mark.parametrize("command, module, function", [
    (["train-summarizer", "in.jsonl"], "quals.training.summarizer.mle", "train_summarizer"),
    (["conseq", "train", "t.jsonl", "--model", "mle"], "quals.training.conseq.trainer", "train_conseq"),
])
def test_training_commands_pass_device_dtype_batch_and_seed(command, module, function, monkeypatch, tmp_path):
    import importlib

    from quals.cli import train_summarizer

    seen = {}

    def fake_train(*args, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt  # stop before any report

    monkeypatch.setattr(importlib.import_module(module), function, fake_train)
    monkeypatch.setattr(train_summarizer, "report_result", lambda result: None)
    argv = [*command, "-o", str(tmp_path), "--device", "cpu", "--dtype", "float32", "--batch-size", "2",
            "--seed", "7"]
    assert main(argv) == 130
    assert (seen["use_cpu"], seen["dtype"]) == (True, "float32")
    assert (seen["config"].batch_size, seen["config"].seed) == (2, 7)
    seen.clear()
    assert main([*command, "-o", str(tmp_path), "--dtype", "float16"]) == 2 and not seen  # refused before training


def test_train_qagen_refuses_a_gpu_index(monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert main([*MODEL_COMMANDS["train-qagen"], "--device", "cuda:1"]) == 2
    assert "CUDA_VISIBLE_DEVICES=1" in capsys.readouterr().err


# ----- exit statuses ---------------------------------------------------------------------------

def test_a_library_type_error_is_a_bug_not_a_usage_error(monkeypatch):
    from quals.cli import score

    def broken(args):
        raise TypeError("unsupported operand type(s)")

    monkeypatch.setattr(score, "run", broken)
    with pytest.raises(TypeError, match="unsupported operand"):
        main(MODEL_COMMANDS["score"])


def test_a_usage_error_is_one_line_and_exit_2_and_verbose_adds_the_traceback(monkeypatch, capsys):
    from quals.cli import score

    def refuses(args):
        raise ValueError("--chunk-size must be >= 1")

    monkeypatch.setattr(score, "run", refuses)
    assert main(MODEL_COMMANDS["score"]) == 2
    err = capsys.readouterr().err
    assert err == "quals score: error: --chunk-size must be >= 1\n"
    assert main(["-v", *MODEL_COMMANDS["score"]]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_the_installed_entry_point_exits_1_with_a_traceback_on_a_bug():
    code = ("import sys; from quals.cli import main, score\n"
            "def broken(args): raise TypeError('library bug')\n"
            "score.run = broken; sys.argv = ['quals', 'score', 'in.jsonl', '-o', 'out.jsonl']; main.entry()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "TypeError: library bug" in done.stderr


@pytest.mark.parametrize("command, module, function, batch", [
    (["train-qagen", "squad.json"], "quals.training.qagen.trainer", "train_qagen", "batch_size"),
    (["train-factcc", "claims.jsonl"], "quals.training.factcc.trainer", "train_factcc", "batch_size"),
])
def test_qagen_and_classifier_training_take_use_cpu_batch_and_seed(command, module, function, batch, monkeypatch,
                                                                  tmp_path):
    import importlib

    seen = {}

    def fake_train(config, **kwargs):
        seen.update(kwargs, config=config)
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module(module), function, fake_train)
    argv = [*command, "-o", str(tmp_path), "--device", "cpu", "--batch-size", "2", "--seed", "7"]
    assert main(argv) == 130
    assert seen["use_cpu"] is True and (getattr(seen["config"], batch), seen["config"].seed) == (2, 7)
    seen.clear()
    assert main([*command, "-o", str(tmp_path)]) == 130 and seen["use_cpu"] is False
