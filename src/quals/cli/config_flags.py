"""Config dataclasses as command-line flags, and the given flags back as a config.

Every command that exposes the fields of a settings dataclass uses this one module: each field
``some_name`` becomes ``--some-name``, its ``metadata["help"]`` is the help text and the default
shown in ``--help`` (and in docs/cli.md) is read from the dataclass or the preset, never typed
twice. ``bool`` fields become ``--x/--no-x``; ``Literal[...]`` fields, ``metadata["choices"]`` or
the caller's ``choices`` restrict the values; ``tuple[X, ...]`` fields take one or more values.
Every flag defaults to None (= not given), so :func:`config_from_args` can lay exactly the given
flags over a preset, a ``--config`` JSON file and the dataclass defaults, in that order.

Why not ``transformers.HfArgumentParser``, which also reads dataclass fields and their help:

- its flags default to the dataclass default, so a command cannot tell a given flag from an
  absent one and cannot put flags on top of a preset or a ``--config`` file;
- a bool becomes ``--x [BOOL]``, with ``--no_x`` only when the default is True, and an optional
  bool (``bool | None``, "decide by hardware") needs a value; we want ``--x/--no-x`` always;
- ``tuple[str, ...]`` fields are passed to argparse as ``type=tuple`` (one string split into
  characters);
- it adds the fields to the parser it *is*, while our flags go into argument groups of
  subcommand parsers made by ``add_subparsers``;
- it writes the resolved types into the dataclass's ``Field`` objects (a global side effect).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Union

_SCALARS = (bool, int, float, str)


@dataclasses.dataclass(frozen=True)
class _FieldKind:
    """What a dataclass field's annotation asks of its flag."""

    scalar: type
    optional: bool = False
    tuple_of: bool = False
    choices: tuple | None = None


def flag_name(name: str) -> str:
    """``some_name`` -> ``--some-name``."""
    return "--" + name.replace("_", "-")


def _kind(cls: type, f: dataclasses.Field, hints: Mapping[str, Any]) -> _FieldKind:
    hint = hints[f.name]
    optional = False
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"{cls.__name__}.{f.name}: no flag for a union of several types ({hint})")
        hint, optional = args[0], True
    origin = typing.get_origin(hint)
    if origin is Literal:
        values = typing.get_args(hint)
        return _FieldKind(type(values[0]), optional, choices=values)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) != 2 or args[1] is not Ellipsis or args[0] not in _SCALARS or args[0] is bool:
            raise TypeError(f"{cls.__name__}.{f.name}: only tuple[X, ...] of int, float or str becomes a flag")
        return _FieldKind(args[0], optional, tuple_of=True)
    if hint not in _SCALARS:
        raise TypeError(f"{cls.__name__}.{f.name}: no flag for type {hint}")
    return _FieldKind(hint, optional)


def _field_kinds(cls: type) -> dict[str, tuple[dataclasses.Field, _FieldKind | None]]:
    """Every init field with its kind (None: a nested dataclass or other type without a flag)."""
    hints = typing.get_type_hints(cls)
    kinds = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_"):
            continue
        try:
            kinds[f.name] = (f, _kind(cls, f, hints))
        except TypeError:
            kinds[f.name] = (f, None)
    return kinds


def _default(f: dataclasses.Field, defaults: object | None) -> Any:
    if defaults is not None:
        return getattr(defaults, f.name)
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def show_default(value: Any) -> str:
    """A default as help text writes it: on/off for booleans, strings bare unless they need quotes."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        return value if value and not re.search(r"\s", value) else repr(value)
    if isinstance(value, tuple):
        return " ".join(show_default(v) for v in value) if value else "none"
    return str(value)


def field_help(text: str, default: Any) -> str:
    """Help text with its default appended, argparse-escaped.

    A None default is not shown: the help says what None means ("default: the model's limit").
    Some older help strings spell their default ("LoRA rank (default 16)"): it is not said twice.
    """
    text = text.strip()
    if default is not None:
        shown = show_default(default)
        if not re.search(rf"\bdefault:?\s+{re.escape(shown)}(?![\w.])", text, re.IGNORECASE):
            end = "." if text.endswith(".") else ""
            text = f"{text.removesuffix('.')} (default: {shown}){end}"
    return text.replace("%", "%%")


def add_config_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type, *,
                     defaults: object | None = None, skip: Iterable[str] = (), only: Iterable[str] | None = None,
                     choices: Mapping[str, Iterable] | None = None, title: str | None = None,
                     description: str | None = None) -> argparse._ArgumentGroup | argparse.ArgumentParser:
    """Add one flag per field of the dataclass ``cls``; returns the group they went into.

    Args:
        parser: a parser or argument group.
        defaults: an instance whose values the help shows as defaults (a preset); default: the
            dataclass defaults.
        skip: fields without a flag here (given by positionals or shared flags instead).
        only: the fields to add (default: all but ``skip``).
        choices: allowed values per field, for fields typed ``str`` whose check is in ``__post_init__``.
        title, description: of a new argument group (default: no new group).

    Raises:
        TypeError: a field that was asked for has a type no flag can carry (a bug, found when the
            parser is built).
    """
    target = parser.add_argument_group(title, description) if title else parser
    skip, choices = set(skip), dict(choices or {})
    kinds = _field_kinds(cls)
    names = list(only) if only is not None else [n for n in kinds if n not in skip]
    for name in names:
        if name not in kinds:
            raise TypeError(f"{cls.__name__} has no field {name!r}")
        f, kind = kinds[name]
        if kind is None:
            if only is None:
                continue  # a nested dataclass: the caller adds its fields with their own call
            raise TypeError(f"{cls.__name__}.{name}: no flag for type {f.type}")
        help_text = field_help(f.metadata.get("help", ""), _default(f, defaults))
        allowed = choices.get(name, f.metadata.get("choices", kind.choices))
        kwargs: dict[str, Any] = {"default": None, "help": help_text, "dest": name}
        if kind.scalar is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = kind.scalar
            if allowed is not None:
                kwargs["choices"] = tuple(allowed)
            if kind.tuple_of:
                kwargs["nargs"] = "+"
        target.add_argument(flag_name(name), **kwargs)
    return target


def given_values(args: argparse.Namespace, cls: type, *, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The fields of ``cls`` given on the command line (a flag left out is None in ``args``).

    Reads every field name, so shared flags whose destination is a field (``--seed``,
    ``--batch-size``) count too.
    """
    skip = set(skip)
    values = {}
    for name, (_, kind) in _field_kinds(cls).items():
        value = getattr(args, name, None)
        if name in skip or kind is None or value is None:
            continue
        values[name] = tuple(value) if kind.tuple_of else value
    return values


def read_config_file(path: str | Path, cls: type) -> dict[str, Any]:
    """The fields of a ``--config`` JSON file, checked against ``cls``.

    Raises:
        ValueError: not a JSON object, a key that is not a field, or a value of the wrong type
            (a user's file, so a usage error rather than a TypeError deep in the library).
        FileNotFoundError: no such file.
    """
    path = Path(path)
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not JSON: {err}") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a JSON object of {cls.__name__} fields")
    kinds = _field_kinds(cls)
    unknown = sorted(set(values) - set(kinds))
    if unknown:
        raise ValueError(f"{path}: unknown {cls.__name__} field(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(kinds))}")
    for name, value in values.items():
        kind = kinds[name][1]
        if kind is None:
            continue
        values[name] = _checked(path, name, value, kind)
    return values


def _checked(path: Path, name: str, value: Any, kind: _FieldKind) -> Any:
    if value is None and kind.optional:
        return None
    expected = f"a list of {kind.scalar.__name__}" if kind.tuple_of else kind.scalar.__name__
    if kind.tuple_of and not isinstance(value, list):
        raise ValueError(f"{path}: {name} must be {expected}, got {json.dumps(value)}")
    for item in value if kind.tuple_of else [value]:
        ok = isinstance(item, kind.scalar) and not (kind.scalar is not bool and isinstance(item, bool))
        if kind.scalar is float and isinstance(item, int) and not isinstance(item, bool):
            ok = True
        if not ok:
            raise ValueError(f"{path}: {name} must be {expected}, got {json.dumps(value)}")
    if kind.choices is not None and value not in kind.choices:
        raise ValueError(f"{path}: {name} must be one of {', '.join(map(str, kind.choices))}, got {value!r}")
    return tuple(value) if kind.tuple_of else value


def config_from_args(cls: type, args: argparse.Namespace, *, base: object | None = None,
                     config_file: str | Path | None = None, skip: Iterable[str] = (),
                     extra: Mapping[str, Any] | None = None):
    """``cls`` from (lowest first) its defaults or ``base`` (a preset), ``config_file``, the given
    flags and ``extra`` (values the command computed, e.g. from positionals).

    Raises:
        ValueError: a bad ``config_file``, or a value the dataclass's checks refuse.
    """
    values = read_config_file(config_file, cls) if config_file is not None else {}
    values.update(given_values(args, cls, skip=skip))
    values.update({k: v for k, v in (extra or {}).items() if v is not None})
    if base is not None:
        return dataclasses.replace(base, **values)
    return cls(**values)
