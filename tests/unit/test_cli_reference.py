"""docs/cli.md is the parser's own account of every command (quals.cli.reference)."""

from pathlib import Path

from quals.cli.reference import render
from quals.cli.runtime import SHARED_FLAGS

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_docs_cli_md_is_up_to_date_with_the_parser():
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/cli.md is out of date: run `make cli-docs` (python -m quals.cli.reference docs/cli.md)")


def test_the_reference_documents_the_shared_flags_once_and_every_command():
    from quals.cli.main import COMMANDS

    text = render()
    for flag in SHARED_FLAGS:
        assert text.count(f"\n### {flag}\n") == 1
        assert f"[shared](#{flag})" in text
    for name in [*COMMANDS, "conseq candidates", "conseq select", "conseq train", "annotate build"]:
        assert f"\n## quals {name}\n" in text
    assert "--bf16" not in text  # the hidden alias of --dtype


def test_the_reference_module_writes_the_file(tmp_path):
    from quals.cli.reference import main

    target = tmp_path / "cli.md"
    assert main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render()
