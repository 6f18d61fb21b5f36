"""Command-line flags generated from an `Options` class: one flag per field, nothing restated.

`--field-name` takes the field's type (int, float, str, a path, or JSON for lists and objects),
its default (a field without one is a required flag), its choices (a Literal's values) and its
help (the field's line in the class docstring, `common.options.field_docs`). A bool field that
defaults to False is a switch; one that defaults to True has a `--no-` form.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import types
import typing

from common.options import Options, conforms, describe, field_docs, field_hints, parse_value

REQUIRED = dataclasses.MISSING


def field_default(field: dataclasses.Field):
    """A field's default (its factory called), or REQUIRED."""
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return REQUIRED


def _without_none(hint) -> tuple:
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return tuple(arg for arg in args if arg is not type(None))


def _choices(hint) -> tuple | None:
    kinds = _without_none(hint)
    if len(kinds) == 1 and typing.get_origin(kinds[0]) is typing.Literal:
        return typing.get_args(kinds[0])
    return None


def _converter(hint):
    """What argparse turns a flag's text into: int, float and str as Python reads them (so
    `--kimg inf` reaches the field's own check), a path type, or JSON for anything else."""
    kinds = _without_none(hint)
    if str in kinds or _choices(hint):
        return str
    if len(kinds) == 1 and kinds[0] in (int, float):
        return kinds[0]
    if len(kinds) == 1 and isinstance(kinds[0], type) and issubclass(kinds[0], os.PathLike):
        return kinds[0]

    def json_value(text: str):
        value = parse_value(text, hint)
        if not conforms(value, hint):
            raise argparse.ArgumentTypeError(f"expected {describe(hint)}, got {text!r}")
        return value

    return json_value


def add_option_arguments(parser, cls: type[Options], *, only=None, skip=(), defaults=None,
                         choices=None) -> None:
    """Add `--field-name` for each field of `cls` (those in `only`, less `skip`) to `parser` (a
    parser or an argument group). `defaults` and `choices` replace a field's own (e.g. None for
    "not given", or a registry's names)."""
    hints, docs = field_hints(cls), field_docs(cls)
    defaults, choices = defaults or {}, choices or {}
    for field in dataclasses.fields(cls):
        if (only is not None and field.name not in only) or field.name in skip:
            continue
        hint = hints[field.name]
        default = defaults.get(field.name, field_default(field))
        flag = "--" + field.name.replace("_", "-")
        help_text = docs.get(field.name)  # argparse %-formats help, so a literal "10%" needs "%%"
        kwargs = {"dest": field.name, "help": help_text and help_text.replace("%", "%%")}
        if default is REQUIRED:
            kwargs["required"] = True
        else:
            kwargs["default"] = default
        if hint is bool:
            kwargs["action"] = "store_true" if default is False else argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _converter(hint)
            if choices.get(field.name) or _choices(hint):
                kwargs["choices"] = tuple(choices.get(field.name) or _choices(hint))
        parser.add_argument(flag, **kwargs)


def option_values(args: argparse.Namespace, cls: type[Options], *, skip=()) -> dict:
    """{field: value} of the parsed flags that `add_option_arguments` made for `cls`."""
    return {name: getattr(args, name) for name in cls.field_names()
            if name not in skip and hasattr(args, name)}
