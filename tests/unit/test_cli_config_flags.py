"""The one mechanism from config dataclasses to flags and back (quals.cli.config_flags)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Literal

import pytest

from quals.cli.config_flags import add_config_flags, config_from_args, given_values, read_config_file


@dataclass(frozen=True)
class Inner:
    depth: int = 1


@dataclass(frozen=True)
class Demo:
    name: str = field(default="plain", metadata={"help": "A name."})
    count: int = field(default=3, metadata={"help": "How many."})
    ratio: float = field(default=0.5, metadata={"help": "A share; 50% by default."})
    on: bool = field(default=True, metadata={"help": "Switched on unless --no-on."})
    off: bool = field(default=False, metadata={"help": "Switched off unless --off."})
    auto: bool | None = field(default=None, metadata={"help": "Decided by the hardware when not given."})
    mode: Literal["fast", "exact"] = field(default="fast", metadata={"help": "How."})
    kind: str = field(default="p", metadata={"help": "Which.", "choices": ("p", "q")})
    files: tuple[str, ...] = field(default=(), metadata={"help": "Some files."})
    limit: int | None = field(default=None, metadata={"help": "At most this many (default: no limit)."})
    rank: int = field(default=16, metadata={"help": "LoRA rank (default 16)."})
    inner: Inner = field(default_factory=Inner, metadata={"help": "Nested: its own flags."})


def _parser(**kwargs) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demo", exit_on_error=True)
    add_config_flags(parser, Demo, **kwargs)
    return parser


def _config(argv: list[str], **kwargs) -> Demo:
    return config_from_args(Demo, _parser().parse_args(argv), **kwargs)


def test_no_flag_given_is_the_dataclass_default():
    args = _parser().parse_args([])
    assert given_values(args, Demo) == {}
    assert config_from_args(Demo, args) == Demo()


def test_booleans_are_flag_pairs_both_ways():
    assert _config(["--no-on", "--off"]) == Demo(on=False, off=True)
    assert _config(["--on", "--no-off"]) == Demo(on=True, off=False)
    assert _config(["--no-auto"]).auto is False and _config(["--auto"]).auto is True
    assert _config([]).auto is None  # not given: the "decide later" None survives


def test_choices_from_literal_metadata_or_caller(capsys):
    assert _config(["--mode", "exact", "--kind", "q"]) == Demo(mode="exact", kind="q")
    for argv in (["--mode", "slow"], ["--kind", "z"]):
        with pytest.raises(SystemExit) as exit_info:
            _parser().parse_args(argv)
        assert exit_info.value.code == 2
        assert "invalid choice" in capsys.readouterr().err
    parser = _parser(choices={"name": ("a", "b")})
    with pytest.raises(SystemExit):
        parser.parse_args(["--name", "c"])
    assert config_from_args(Demo, parser.parse_args(["--name", "b"])).name == "b"


def test_tuple_fields_take_several_values_as_a_tuple():
    config = _config(["--files", "a.json", "b.json"])
    assert config.files == ("a.json", "b.json") and isinstance(config.files, tuple)


@pytest.mark.parametrize("argv", [["--count", "three"], ["--ratio", "half"], ["--limit", "1.5"], ["--bogus", "1"]])
def test_a_bad_value_or_unknown_flag_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_help_shows_the_dataclass_default_once_and_escapes_percent():
    text = " ".join(_parser().format_help().split())
    assert "How many (default: 3)." in text
    assert "A share; 50% by default (default: 0.5)." in text
    assert "Switched on unless --no-on (default: on)." in text and "(default: off)" in text
    assert "LoRA rank (default 16)." in text and "(default: 16)" not in text  # not said twice
    assert "At most this many (default: no limit)." in text  # None: the help says what it means
    assert "--depth" not in text and "--inner" not in text  # a nested dataclass adds its own flags


def test_help_shows_the_preset_defaults_when_given():
    text = " ".join(_parser(defaults=Demo(count=7, name="preset")).format_help().split())
    assert "How many (default: 7)." in text and "A name (default: preset)." in text


def test_flags_override_the_file_which_overrides_the_preset(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"count": 5, "name": "file", "files": ["x"]}))
    preset = Demo(count=9, ratio=0.9, name="preset")
    config = _config(["--name", "flag"], base=preset, config_file=path)
    assert config == Demo(count=5, ratio=0.9, name="flag", files=("x",))
    assert _config([], base=preset) == preset


def test_extra_values_win_and_none_extras_are_ignored():
    assert _config(["--count", "4"], extra={"count": 8, "name": None}) == Demo(count=8)


def test_skip_leaves_a_field_without_flag_but_shared_dests_still_count():
    parser = _parser(skip=("count",))
    parser.add_argument("--count", type=int, default=None)  # a shared flag with the field's name
    assert "--count" in parser.format_help()
    assert config_from_args(Demo, parser.parse_args(["--count", "2"])).count == 2


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "JSON object"), ('{"cout": 1}', "unknown Demo field"), ('{"count": "3"}', "count must be int"),
    ('{"on": 1}', "on must be bool"), ('{"files": "a"}', "files must be a list of str"), ("{", "is not JSON"),
    ('{"mode": "slow"}', "mode must be one of fast, exact"),
])
def test_a_bad_config_file_is_a_value_error_naming_the_problem(tmp_path, content, message):
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_config_file(path, Demo)


def test_a_config_file_accepts_ints_for_floats_and_null_for_optionals(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"ratio": 1, "limit": null, "auto": null}')
    assert read_config_file(path, Demo) == {"ratio": 1, "limit": None, "auto": None}


def test_a_field_no_flag_can_carry_is_refused_when_asked_for():
    with pytest.raises(TypeError, match="inner"):
        add_config_flags(argparse.ArgumentParser(), Demo, only=("inner",))


# ----- the commands use it ------------------------------------------------------------------

def _parse(argv: list[str]) -> argparse.Namespace:
    from quals.cli.main import build_parser

    return build_parser().parse_args(argv)


def test_quals_flags_reach_the_settings_and_bools_pair():
    from quals.cli.common import quals_settings

    args = _parse(["score", "in.jsonl", "-o", "out.jsonl", "--num-groups", "3", "--token-set", "answer",
                   "--no-cache-generations", "--answer-constraint", "none"])
    assert quals_settings(args) == {"num_groups": 3, "token_set": "answer", "cache_generations": False,
                                    "answer_constraint": "none"}
    assert quals_settings(_parse(["score", "in.jsonl", "-o", "out.jsonl"])) == {}


def test_summarize_flags_override_the_preset_and_the_file(tmp_path):
    from quals.cli.summarize import decoding_from_args
    from quals.training.summarizer.config import PRESETS, DecodingConfig

    base = ["summarize", "in.jsonl", "-o", "out.jsonl"]
    assert decoding_from_args(_parse([*base, "--preset", "xsum"])) == PRESETS["xsum"]
    path = tmp_path / "decoding.json"
    path.write_text('{"num_beams": 2, "max_new_tokens": 30}')
    config = decoding_from_args(_parse([*base, "--preset", "xsum", "--config", str(path), "--max-new-tokens", "40"]))
    assert config == DecodingConfig(num_beams=2, max_new_tokens=40, min_new_tokens=10)
    with pytest.raises(SystemExit):
        _parse([*base, "--preset", "greedy"])


def test_train_qagen_config_from_flags_file_and_dtype(tmp_path):
    from quals.cli.train_qagen import build_config

    base = ["train-qagen", "squad.json", "-o", str(tmp_path / "out")]
    config = build_config(_parse([*base, "--no-group-by-length", "--lora-r", "4", "--seed", "3", "--batch-size", "2"]))
    assert (config.group_by_length, config.lora_r, config.seed, config.batch_size) == (False, 4, 3, 2)
    assert config.train_files == ("squad.json",) and config.bf16 is None
    assert build_config(_parse([*base, "--dtype", "float32"])).bf16 is False
    assert build_config(_parse([*base, "--bf16"])).bf16 is True  # the old spelling still works
    assert build_config(_parse([*base, "--no-bf16"])).bf16 is False
    path = tmp_path / "c.json"
    path.write_text('{"bf16": true, "seed": 5}')
    config = build_config(_parse([*base, "--config", str(path)]))
    assert (config.bf16, config.seed) == (True, 5)  # --dtype auto leaves the file's choice
    assert build_config(_parse([*base, "--config", str(path), "--seed", "6"])).seed == 6
    with pytest.raises(ValueError, match="float16 is not offered"):
        build_config(_parse([*base, "--dtype", "float16"]))


def test_annotate_build_reads_its_config_flags():
    from quals.annotate import BuildConfig
    from quals.cli.config_flags import config_from_args as from_args

    args = _parse(["annotate", "build", "a.jsonl", "b.jsonl", "-o", "s.jsonl", "--n-items", "7"])
    assert from_args(BuildConfig, args) == BuildConfig(n_items=7)
