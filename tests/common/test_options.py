"""Options: checks from the type hints, unknown names, JSON round trip, field docs, `--set` parsing."""

import argparse
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from common.cli import add_option_arguments, option_values
from common.options import OptionError, Options, check_choice, field_docs, parse_assignment


@dataclass(frozen=True, kw_only=True)
class Inner(Options):
    """inner: a nested switch."""

    inner: bool = False


@dataclass(frozen=True, kw_only=True)
class Toy(Options):
    """A toy options class.

    mode: how it runs: fast or slow.
    steps: how many steps; a
        second line of help.
    rate: learning rate.
    """

    mode: Literal["fast", "slow"] = "fast"
    steps: int
    rate: float = 0.5
    limit: float | None = None
    pair: tuple[float, float] = (0.0, 0.99)
    names: tuple[str, ...] = ()
    folder: Path | None = None
    label: str = "toy"
    nested: Inner = Inner()
    verbose: bool = False
    cache: bool = True

    def validate(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")


@pytest.mark.parametrize(("values", "message"), [
    (dict(mode="fsat"), r"mode must be one of 'fast', 'slow', got 'fsat' \(did you mean 'fast'\?\)"),
    (dict(steps=1.5), r"steps must be an integer, got 1.5"),
    (dict(steps=True), r"steps must be an integer, got True"),
    (dict(rate=math.nan), r"rate must be a finite number, got nan"),
    (dict(rate=math.inf), r"rate must be a finite number, got inf"),
    (dict(rate="fast"), r"rate must be a finite number, got 'fast'"),
    (dict(limit=-math.inf), r"limit must be a finite number or null, got -inf"),
    (dict(pair=(0.0, math.nan)), r"pair must be a JSON list, e.g. \[0, 0.99\], got \(0.0, nan\)"),
    (dict(pair=(1, 2, 3)), r"pair must be a JSON list, e.g. \[0, 0.99\]"),
    (dict(names="abc"), r"names must be a JSON list, each a string, got 'abc'"),
    (dict(verbose=1), r"verbose must be true or false, got 1"),
    (dict(nested={"inner": True}), r"nested must be a .*Inner, got \{'inner': True\}"),
    (dict(steps=0), r"steps must be >= 1, got 0"),  # the subclass's own check, after the types
])
def test_values_are_checked_from_the_type_hints_naming_the_field(values, message):
    with pytest.raises(ValueError, match=message):
        Toy(**{"steps": 2, **values})


def test_a_bad_value_is_a_type_error_and_a_value_error_alike():
    with pytest.raises(TypeError):
        Toy(steps="2")
    assert issubclass(OptionError, TypeError) and issubclass(OptionError, ValueError)


def test_frozen_keyword_only_and_lists_become_tuples():
    toy = Toy(steps=2, pair=[0.5, 0.9], names=["a", "b"])
    assert toy.pair == (0.5, 0.9) and toy.names == ("a", "b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        toy.steps = 3
    with pytest.raises(TypeError):
        Toy(2)


def test_unknown_names_are_listed_with_the_nearest_one():
    toy = Toy(steps=2)
    message = r"unknown Toy field\(s\) \['stpes'\] \(did you mean 'steps'\?\); known: mode, steps, rate"
    with pytest.raises(OptionError, match=message):
        toy.replace(stpes=3)
    with pytest.raises(OptionError, match=r"unknown Toy field\(s\) \['bogus'\]; known: mode"):
        Toy.from_dict({"steps": 2, "bogus": 1})
    assert toy.replace(steps=5).steps == 5 and toy.steps == 2
    with pytest.raises(ValueError, match="steps must be >= 1"):
        toy.replace(steps=0)  # replace checks again


def test_json_round_trip_rebuilds_nested_options_tuples_and_paths():
    toy = Toy(steps=3, pair=(0.1, 0.2), names=("x",), folder=Path("/tmp/x"), nested=Inner(inner=True),
              limit=2.0)
    values = toy.to_dict()
    assert values["folder"] == "/tmp/x" and values["nested"] == {"inner": True}
    assert values["pair"] == [0.1, 0.2]
    back = Toy.from_json(toy.to_json())
    assert back == toy and isinstance(back.folder, Path) and isinstance(back.nested, Inner)
    assert Toy.from_dict({"steps": 3}) == Toy(steps=3)  # missing fields take their defaults


def test_field_docs_are_the_name_lines_of_the_class_docstring():
    docs = field_docs(Toy)
    assert docs["mode"] == "how it runs: fast or slow."
    assert docs["steps"] == "how many steps; a second line of help."
    assert "limit" not in docs  # undocumented fields have no help
    assert field_docs(Inner) == {"inner": "a nested switch."}


@pytest.mark.parametrize(("text", "expected"), [
    ("steps=16", ("steps", 16)),
    ("rate=0.25", ("rate", 0.25)),
    ("limit=null", ("limit", None)),
    ("pair=[0, 0.9]", ("pair", (0, 0.9))),
    ("names=[\"a\"]", ("names", ("a",))),
    ("label=123", ("label", "123")),  # a string field keeps the text as it is
    ("mode=slow", ("mode", "slow")),
    (" steps =4", ("steps", 4)),
])
def test_parse_assignment_types_the_value_from_the_hint(text, expected):
    assert parse_assignment(text, Toy) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("steps", r"--set 'steps' is not of the form key=value"),
    ("=3", r"is not of the form key=value"),
    ("stepz=3", r"unknown Toy field\(s\) \['stepz'\] \(did you mean 'steps'\?\)"),
    ("rate=abc", r'^--set rate="abc": rate must be a finite number, got \'abc\'$'),
    ("rate=NaN", r"^--set rate=NaN: rate must be a finite number, got nan$"),
    ("steps=true", r"^--set steps=true: steps must be an integer, got True$"),
    ("mode=slw", r"--set mode=\"slw\": mode must be one of 'fast', 'slow', got 'slw' \(did you mean"),
])
def test_parse_assignment_errors_name_the_field_in_one_line(text, message):
    with pytest.raises(OptionError, match=message):
        parse_assignment(text, Toy)


def test_check_choice_wording():
    check_choice("impl", "ref", ("ref", "fused"))
    with pytest.raises(ValueError, match=r"^impl must be one of 'ref', 'fused', got 'fusd' \(did you mean"):
        check_choice("impl", "fusd", ("ref", "fused"))


def test_generated_flags_take_type_default_choices_and_help_from_the_fields():
    parser = argparse.ArgumentParser()
    add_option_arguments(parser, Toy, skip=("nested",), defaults={"label": None})
    actions = {action.dest: action for action in parser._actions}
    assert actions["mode"].choices == ("fast", "slow")
    assert actions["mode"].help == "how it runs: fast or slow."
    assert actions["steps"].required and actions["rate"].default == 0.5 and actions["label"].default is None
    assert "nested" not in actions
    args = parser.parse_args(["--steps", "3", "--mode", "slow", "--rate", "inf", "--pair", "[1, 2]",
                              "--verbose", "--no-cache", "--folder", "/data"])
    values = option_values(args, Toy)
    assert values["rate"] == math.inf and values["pair"] == (1, 2) and values["folder"] == Path("/data")
    assert values["verbose"] is True and values["cache"] is False
    with pytest.raises(ValueError, match="rate must be a finite number, got inf"):
        Toy(**values)  # the field's own check names it, as for any other source of values
    with pytest.raises(SystemExit):
        parser.parse_args(["--steps", "3", "--mode", "medium"])
