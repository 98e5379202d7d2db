"""The run-directory rule every trainer shares (quals.training.run), without a Trainer."""

from __future__ import annotations

import json

import pytest

from quals.models.device import resolve_bf16
from quals.training.run import RUN_CONFIG_FILE, RunDirectory, versions

SETTINGS = {"seed": 3, "learning_rate": 1e-4, "logging_steps": 5, "progress": True, "config": {"lora_r": 8}}


def _checkpoint(run: RunDirectory, step: int) -> None:
    saved = run.checkpoints / f"checkpoint-{step}"
    saved.mkdir(parents=True)
    (saved / "trainer_state.json").write_text("{}")


def test_a_fresh_directory_records_its_settings_and_resumes_from_the_last_checkpoint(tmp_path):
    run = RunDirectory(tmp_path / "out", "info.json", SETTINGS)
    assert run.prepare(overwrite=False) == (None, None)
    assert json.loads((run.checkpoints / RUN_CONFIG_FILE).read_text()) == {"run": SETTINGS}
    _checkpoint(run, 25)
    _checkpoint(run, 50)
    relaxed = RunDirectory(run.output, "info.json", {**SETTINGS, "logging_steps": 1, "progress": False})
    assert relaxed.prepare(overwrite=False)[1].endswith("checkpoint-50")
    with pytest.raises(ValueError, match=r"config\.lora_r, seed changed"):
        changed = {**SETTINGS, "seed": 4, "config": {"lora_r": 16}}
        RunDirectory(run.output, "info.json", changed).prepare(overwrite=False)
    with pytest.raises(FileExistsError, match="resume"):
        run.prepare(overwrite=False, resume=False)


def test_an_older_record_of_the_bare_config_still_resumes(tmp_path):
    """Runs started before the shared helper recorded the config dict itself."""
    run = RunDirectory(tmp_path / "out", "info.json", SETTINGS)
    run.checkpoints.mkdir(parents=True)
    (run.checkpoints / RUN_CONFIG_FILE).write_text(json.dumps(SETTINGS))
    _checkpoint(run, 100)
    assert run.prepare(overwrite=False)[1].endswith("checkpoint-100")
    (run.checkpoints / RUN_CONFIG_FILE).write_text(json.dumps({**SETTINGS, "seed": 9}))
    with pytest.raises(ValueError, match="seed changed"):
        run.prepare(overwrite=False)


def test_a_finished_run_returns_its_info_and_refuses_other_settings_unless_overwritten(tmp_path):
    run = RunDirectory(tmp_path / "out", "info.json", SETTINGS)
    run.prepare(overwrite=False)
    _checkpoint(run, 10)
    run.complete({"global_step": 10}, keep_checkpoints=False)
    assert not run.checkpoints.exists()
    done, last = RunDirectory(run.output, "info.json", {**SETTINGS, "progress": False}).prepare(overwrite=False)
    assert done["global_step"] == 10 and done["complete"] and last is None
    other = RunDirectory(run.output, "info.json", {**SETTINGS, "learning_rate": 1e-3})
    with pytest.raises(FileExistsError, match="other settings"):
        other.prepare(overwrite=False)
    assert other.prepare(overwrite=True) == (None, None) and not (run.output / "info.json").exists()


def test_unrelated_files_are_not_taken_for_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds no quals training run"):
        RunDirectory(tmp_path, "info.json", SETTINGS).prepare(overwrite=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_run_records_name_the_training_stack_and_precision_follows_the_request():
    assert {"quals", "torch", "transformers", "peft", "accelerate"} <= set(versions())
    assert resolve_bf16(True) is True and resolve_bf16(False) is False
    assert resolve_bf16(None, use_cpu=True) is False
