"""`Options`: the one base of the project's option dataclasses, checked from their type hints.

A subclass is declared `@dataclass(frozen=True, kw_only=True) class TrainOptions(Options)` and gets:

- construction checks from the type hints, before its own `validate()` (ranges, combinations):
  a Literal field takes one of its values, an int field an integer, a float field a finite number
  (NaN and inf are rejected, naming the field), a bool field True or False, a str field a string,
  a class-typed field an instance; JSON lists become tuples where the field is a tuple;
- `replace(**changes)`, `to_dict()` / `from_dict(values)`, `to_json()` / `from_json(text)`; a name
  that is not a field raises OptionError listing the known ones and suggesting the nearest;
- per-field help: the line `name: text` in the class docstring (continuation lines indented
  deeper), shown by the command-line flags `common.cli.add_option_arguments` generates;
- `parse_assignment('key=value', cls)`: the one parser of `--set`, typing the value from the hint.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import numbers
import os
import re
import sys
import types
import typing
from typing import Any, ClassVar

from common.registry import did_you_mean


class OptionError(TypeError, ValueError):
    """A bad option name or value; a TypeError (wrong kind) and a ValueError (bad input) alike."""


def check_choice(name: str, value: object, choices) -> None:
    """ValueError naming `name` unless `value` is one of `choices` (the one wording of a bad choice)."""
    if value not in tuple(choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}"
                         f"{did_you_mean(value, map(str, choices)) if isinstance(value, str) else ''}")


@functools.cache
def field_hints(cls: type) -> dict[str, Any]:
    """field name -> resolved type hint of a dataclass."""
    return {name: hint for name, hint in typing.get_type_hints(cls).items()
            if name in {field.name for field in dataclasses.fields(cls)}}


_DOC_LINE = re.compile(r"^(\s*)([A-Za-z_]\w*): (.*)$")


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """field name -> its help: the `name: text` line of the class docstring (or a base's), with the
    lines indented deeper below it."""
    names, docs = {field.name for field in dataclasses.fields(cls)}, {}
    for klass in reversed(cls.__mro__):
        current, indent = None, 0
        for line in inspect.cleandoc(klass.__dict__.get("__doc__") or "").splitlines():
            match = _DOC_LINE.match(line)
            if match and match.group(2) in names:
                current, indent = match.group(2), len(match.group(1))
                docs[current] = match.group(3).strip()
            elif current and line.strip() and len(line) - len(line.lstrip()) > indent:
                docs[current] += " " + line.strip()
            else:
                current = None
    return docs


# Type hints in words and in checks -------------------------------------------------------------

def _is_union(hint) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _tuple_items(args: tuple, length: int) -> tuple:
    """The item hints of a tuple hint's `args` for a value of `length` items."""
    return args[:1] * length if len(args) == 2 and args[1] is Ellipsis else args


def conforms(value, hint) -> bool:
    """Whether `value` fits the type hint `hint` (numbers finite, bools apart from numbers)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin is typing.Literal:
        return any(type(value) is type(arg) and value == arg for arg in args)
    if _is_union(hint):
        return any(conforms(value, arg) for arg in args)
    if origin is tuple:
        items = _tuple_items(args, len(value)) if isinstance(value, tuple) else ()
        return isinstance(value, tuple) and len(items) == len(value) and all(map(conforms, value, items))
    if origin is dict:
        key_hint, value_hint = args or (Any, Any)
        return isinstance(value, dict) and all(conforms(k, key_hint) and conforms(v, value_hint)
                                               for k, v in value.items())
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _class_name(cls: type) -> str:
    """'variants.Config' where the top-level package exports the class, else its full module path."""
    top = cls.__module__.partition(".")[0]
    if getattr(sys.modules.get(top), cls.__name__, None) is cls:
        return f"{top}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__name__}"


def _example(value) -> str:
    return f"{value:g}" if isinstance(value, float) else json.dumps(value)


def describe(hint, default=dataclasses.MISSING) -> str:
    """What a field of type `hint` takes, in words ('a finite number or null'); a tuple field's
    `default` serves as its example."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if _is_union(hint):
        words = [describe(arg) for arg in args if arg is not type(None)]
        return " or ".join(words + (["null"] if type(None) in args else []))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return "a JSON list of pairs" if typing.get_origin(args[0]) is tuple else (
                f"a JSON list, each {describe(args[0])}")
        if isinstance(default, tuple):
            return f"a JSON list, e.g. [{', '.join(map(_example, default))}]"
        return f"a JSON list of {len(args)} values"
    if origin is dict:
        return "a JSON object"
    words = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}
    if hint in words:
        return words[hint]
    return f"a {_class_name(hint)}" if isinstance(hint, type) else str(hint)


def _normalize(value, hint):
    """`value` with JSON lists turned into tuples wherever `hint` asks for a tuple."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if _is_union(hint):
        for arg in args:
            if typing.get_origin(arg) in (tuple, dict):
                return _normalize(value, arg)
        return value
    if origin is tuple and isinstance(value, list | tuple):
        items = _tuple_items(args, len(value))
        if len(items) != len(value):
            return tuple(value)
        return tuple(_normalize(item, item_hint) for item, item_hint in zip(value, items, strict=True))
    if origin is dict and isinstance(value, dict) and args:
        return {key: _normalize(item, args[1]) for key, item in value.items()}
    return value


def _plain(value):
    """A field value as JSON-ready data: options as dicts, tuples as lists, paths as strings."""
    if isinstance(value, Options):
        return value.to_dict()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _from_plain(value, hint):
    """Inverse of `_plain` for a field of type `hint`: nested options and paths are rebuilt."""
    kinds = [arg for arg in (typing.get_args(hint) if _is_union(hint) else (hint,)) if isinstance(arg, type)]
    for kind in kinds:
        if issubclass(kind, Options) and isinstance(value, dict):
            return kind.from_dict(value)
    if isinstance(value, str) and str not in kinds:
        for kind in kinds:
            if issubclass(kind, os.PathLike):
                return kind(value)
    return value


# The base class ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, kw_only=True)
class Options:
    """Base of every options dataclass (see the module docstring); it has no fields itself."""

    # What an unknown name is called in errors: "unknown <option_label>(s) [...]".
    option_label: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = field_hints(type(self))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            normalized = _normalize(value, hints[field.name])
            if normalized is not value:
                object.__setattr__(self, field.name, normalized)
            problem = self.field_problem(field.name, normalized)
            if problem:
                raise OptionError(problem)
        self.validate()

    def validate(self) -> None:
        """A subclass's range and combination checks; runs after every field's type was checked."""

    @classmethod
    def field_problem(cls, name: str, value) -> str | None:
        """None when `value` fits field `name`'s type, else the one-line reason."""
        hint = field_hints(cls)[name]
        if conforms(value, hint):
            return None
        field = next(f for f in dataclasses.fields(cls) if f.name == name)
        choices = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else ()
        nearest = did_you_mean(value, choices) if isinstance(value, str) and choices else ""
        return cls.field_error(name, value, describe(hint, field.default)) + nearest

    @classmethod
    def field_error(cls, name: str, value, expected: str) -> str:
        """The wording of a value that does not fit its field (a subclass may say more)."""
        return f"{name} must be {expected}, got {value!r}"

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The field names in declaration order."""
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def check_names(cls, names) -> None:
        """OptionError naming the names that are not fields, the nearest field and all fields."""
        known = cls.field_names()
        unknown = [name for name in names if name not in known]
        if unknown:
            label = cls.option_label or f"{cls.__name__} field"
            raise OptionError(f"unknown {label}(s) {unknown}{did_you_mean(unknown[0], known)}; "
                              f"known: {', '.join(known)}")

    def replace(self, **changes):
        """A new instance with `changes` applied, checked again."""
        type(self).check_names(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-ready values by field name (nested options as dicts, tuples as lists)."""
        return {field.name: _plain(getattr(self, field.name)) for field in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: dict):
        """Inverse of `to_dict`; a missing field takes its default, an unknown one raises."""
        cls.check_names(values)
        hints = field_hints(cls)
        return cls(**{name: _from_plain(value, hints[name]) for name, value in values.items()})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


# --set key=value ---------------------------------------------------------------------------------

def parse_value(text: str, hint):
    """Command-line text -> a value for a field of type `hint`: JSON where the JSON value fits
    ('16', '[0, 0.99]', 'null'), else the text itself where a string fits, else whatever JSON gives
    (or the text), for the field's check to name."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    value = _normalize(value, hint)
    return text if not conforms(value, hint) and conforms(text, hint) else value


def parse_assignment(text: str, cls: type[Options]) -> tuple[str, object]:
    """'key=value' for a field of the options class `cls` -> (key, value typed from its hint).

    The one parser of `--set`: a missing '=', an unknown key or a value that does not fit the
    field raise OptionError in one line naming the field (range checks come when `cls` is built).
    """
    key, separator, raw = text.partition("=")
    key = key.strip()
    if not separator or not key:
        raise OptionError(f"--set {text!r} is not of the form key=value (e.g. --set kimg=2)")
    cls.check_names([key])
    value = parse_value(raw, field_hints(cls)[key])
    problem = cls.field_problem(key, value)
    if problem:
        raise OptionError(f"--set {key}={json.dumps(_plain(value))}: {problem}")
    return key, value
