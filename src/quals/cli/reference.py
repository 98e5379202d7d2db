"""docs/cli.md, the command-line reference, rendered from the parser itself.

``python -m quals.cli.reference [PATH]`` (``make cli-docs``) writes it; a unit test fails when the
committed file differs from what the parser says, so flags, help and defaults cannot drift from
the documentation. Torch-free, like ``--help``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from quals.cli.runtime import GROUP_TITLE, SHARED_FLAGS

HEADER = """# Command-line reference

Generated from the parser by `python -m quals.cli.reference docs/cli.md` (`make cli-docs`); do not
edit by hand (tests/unit/test_cli_reference.py fails when this file is out of date). `quals COMMAND
--help` prints the same text.

Flags named after a settings field (`--num-groups` for `num_groups`) take their help and default
from the settings dataclass; booleans come in pairs (`--x/--no-x`). Flags that were not given
leave the preset, the `--config` file or the dataclass default in place, in that order.

Exit status: 0 done; 1 some rows failed, or a bug (an uncaught exception, shown with its
traceback); 2 a usage error (one line on stderr; `quals -v COMMAND ...` adds the traceback);
130 interrupted (re-run the same command to resume).
"""

SHARED_INTRO = """## Shared flags

Every command that runs a model takes these four, with one meaning everywhere; each command's
help below says what its `--batch-size` counts and what its `--seed` decides. Resumable commands
also share `--overwrite/--no-overwrite` (default off: resume, or refuse to replace) and
`--progress/--no-progress` (progress bars on stderr, default on).
"""


def _anchor(text: str) -> str:
    """The GitHub anchor of a Markdown heading."""
    keep = "".join(c for c in text.lower() if c.isalnum() or c in " -_")
    return keep.replace(" ", "-")


def _leaves(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parser and its subcommand parsers, depth first."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _leaves(sub)


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            return [(name, helps.get(name) or "") for name in action.choices]
    return []


def _formatter(parser: argparse.ArgumentParser) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(parser.prog, width=100)


def _invocation(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = _formatter(parser)
    if not action.option_strings:
        return formatter._format_args(action, formatter._get_default_metavar_for_positional(action))
    args = "" if action.nargs == 0 else formatter._format_args(
        action, formatter._get_default_metavar_for_optional(action))
    return ", ".join(action.option_strings) + (f" {args}" if args else "")


def _synopsis(parser: argparse.ArgumentParser) -> str:
    parts = [parser.prog]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            parts.append("STAGE" if action.metavar is None else action.metavar)
        elif not action.option_strings:
            parts.append(_invocation(parser, action))
        elif action.required:
            formatter = _formatter(parser)
            metavar = formatter._format_args(action, formatter._get_default_metavar_for_optional(action))
            parts.append(f"{action.option_strings[0]} {metavar}")
    if any(a.option_strings and not a.required and a.help != argparse.SUPPRESS for a in parser._actions
           if not isinstance(a, argparse._HelpAction)):
        parts.append("[options]")
    return " ".join(parts)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help as --help prints it, less the "(default: True)" that Python < 3.11's
    BooleanOptionalAction appends (our help says on/off itself), so the file is the same everywhere."""
    if not action.help:
        return ""
    bare = argparse.Action(action.option_strings, action.dest, default=action.default, choices=action.choices,
                           help=action.help.removesuffix(" (default: %(default)s)"))
    return _formatter(parser)._expand_help(bare)


def _cell(text: str) -> str:
    return text.strip().replace("\n", " ").replace("|", "\\|")


def _shared_section() -> list[str]:
    lines = [SHARED_INTRO]
    for flag, text in SHARED_FLAGS.items():
        lines += [f"### {flag}", "", text, ""]
    return lines


def _command_section(parser: argparse.ArgumentParser) -> list[str]:
    lines = [f"## {parser.prog}", ""]
    if parser.description:
        lines += [parser.description, ""]
    lines += ["```", _synopsis(parser), "```", ""]
    stages = _subcommands(parser)
    if stages:
        lines += [f"- [`{parser.prog} {name}`](#{_anchor(f'{parser.prog} {name}')}): {help_text}"
                  for name, help_text in stages]
        return [*lines, ""]
    for group in parser._action_groups:
        actions = [a for a in group._group_actions
                   if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)]
        if not actions:
            continue
        shared = group.title == GROUP_TITLE
        title = "shared flags" if shared else group.title
        lines += [f"**{title[0].upper()}{title[1:]}**", ""]
        if group.description:
            lines += [group.description, ""]
        lines += ["| flag | meaning |", "| --- | --- |"]
        for action in actions:
            text = _help(parser, action)
            if shared:
                flag = action.option_strings[0]
                text = f"[shared](#{_anchor(flag)}): {text}"
            lines.append(f"| `{_cell(_invocation(parser, action))}` | {_cell(text)} |")
        lines.append("")
    return lines


def render(parser: argparse.ArgumentParser | None = None) -> str:
    """docs/cli.md for ``parser`` (default: the ``quals`` parser)."""
    if parser is None:
        from quals.cli.main import build_parser

        parser = build_parser()
    lines = [HEADER, *_shared_section(), "## Commands", ""]
    lines += [f"- [`quals {name}`](#{_anchor(f'quals {name}')}): {help_text}"
              for name, help_text in _subcommands(parser)]
    lines.append("")
    for sub in list(_leaves(parser))[1:]:
        lines += _command_section(sub)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if argv:
        Path(argv[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
