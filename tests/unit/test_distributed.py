"""The one reader of the launcher's RANK / WORLD_SIZE / LOCAL_RANK."""

import pytest

from quals import distributed


def test_a_plain_run_is_process_0_of_1(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert (distributed.rank(), distributed.world_size(), distributed.local_rank()) == (0, 1, 0)
    assert distributed.is_main_process()


def test_reads_the_launcher_variables_on_every_call(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert (distributed.rank(), distributed.world_size(), distributed.local_rank()) == (3, 4, 1)
    assert not distributed.is_main_process()
    monkeypatch.setenv("RANK", "0")  # not cached: accelerate may set the variables after import
    assert distributed.is_main_process()


def test_an_empty_variable_is_unset_and_garbage_is_named(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "")
    assert distributed.world_size() == 1
    monkeypatch.setenv("RANK", "two")
    with pytest.raises(ValueError, match="RANK='two'"):
        distributed.rank()


def test_the_runner_shards_by_the_helper(monkeypatch):
    from quals.batch import runner

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert runner._world() == (1, 2)


def test_no_module_reads_the_launcher_variables_itself():
    """Outside the helper, only the training modules the lead is refactoring still do (issue 17)."""
    import re
    from pathlib import Path

    src = Path(distributed.__file__).parent
    allowed = {src / "distributed.py", src / "training" / "summarizer" / "run.py"}
    pattern = re.compile(r"environ(\.get)?\(?\[?[\"'](LOCAL_)?(RANK|WORLD_SIZE)[\"']")
    offenders = [str(p.relative_to(src)) for p in src.rglob("*.py")
                 if p not in allowed and "qagen" not in p.parts and pattern.search(p.read_text())]
    assert offenders == []
