"""The `train` flags generated from the option fields: every flag the hand-written parser had, with
the same defaults and choices, help on each, and values that reach TrainOptions unchanged."""

import argparse
import dataclasses

import pytest

import variants
from harness.train.cli import add_arguments, options_from_args
from harness.train.options import TrainOptions
from harness.train.performance import PerformanceOptions

REQUIRED = object()
# The hand-written parser before the flags were generated: flag -> (default, choices).
OLD_FLAGS = {
    "--config": (REQUIRED, None), "--data": (REQUIRED, None), "--kimg": (REQUIRED, None),
    "--out": (REQUIRED, None), "--resolution": (None, None), "--width-multiplier": (None, None),
    "--batch-size": (None, None), "--impl": (None, ("ref", "fused", "auto")), "--set": ([], None),
    "--seed": (0, None), "--resume": (False, None), "--force-restart": (False, None),
    "--device": ("auto", None), "--tick-kimg": (4.0, None), "--snapshot-kimg": (200.0, None),
    "--checkpoint-kimg": (None, None), "--fig8-samples": (1024, None), "--xflip": (False, None),
    "--skip-bad": (False, None), "--deterministic": (False, None), "--threads": (None, None),
    "--cache-dir": (None, None), "--rebuild-cache": (False, None),
    "--progress": ("auto", ("auto", "bar", "lines", "none")), "--dist-timeout-min": (10.0, None),
    "--tf32": (False, None), "--channels-last": (False, None), "--mixed-precision-res": (0, None),
    "--mixed-precision-dtype": ("bfloat16", ("bfloat16", "float16")), "--conv-clamp": (None, None),
    "--compile-mapping": (False, None),
}
BASE = ["--config", "E", "--data", "d", "--kimg", "1", "--out", "o"]


@pytest.fixture(scope="module")
def parser():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser


def _actions(parser):
    return {flag: action for action in parser._actions for flag in action.option_strings}


def test_every_old_flag_is_accepted_with_its_old_default_and_choices(parser):
    actions = _actions(parser)
    for flag, (default, choices) in OLD_FLAGS.items():
        action = actions[flag]
        if default is REQUIRED:
            assert action.required, flag
        else:
            assert not action.required and action.default == default, flag
        assert (tuple(action.choices) if action.choices else None) == choices, flag
        assert action.help, f"{flag} has no help"


def test_every_option_field_has_a_flag_and_the_defaults_are_the_fields_defaults(parser):
    actions = _actions(parser)
    fields = [*dataclasses.fields(TrainOptions), *dataclasses.fields(PerformanceOptions)]
    flags = {"--" + field.name.replace("_", "-") for field in fields} - {"--config", "--performance"}
    assert flags <= set(actions)
    options = options_from_args(parser.parse_args(BASE))
    assert options == TrainOptions(config=variants.get_config("E"), data="d", out="o", kimg=1.0)


def test_flag_values_reach_the_options(parser):
    args = parser.parse_args([*BASE, "--seed", "3", "--droplet-samples", "8", "--growing-fraction", "0.25",
                              "--progress", "lines", "--resolution", "64", "--impl", "ref",
                              "--set", "r1_gamma=1", "--set", "adam_betas=[0, 0.9]", "--threads", "2"])
    options = options_from_args(args)
    assert (options.seed, options.droplet_samples, options.growing_fraction, options.progress) == (
        3, 8, 0.25, "lines")
    assert options.threads == 2 and options.config.resolution == 64 and options.config.impl == "ref"
    assert options.config.r1_gamma == 1 and options.config.adam_betas == (0, 0.9)


@pytest.mark.parametrize(("flags", "message"), [
    (["--set", "resolutoin=64"], r"unknown Config field\(s\) \['resolutoin'\] \(did you mean 'resolution'"),
    (["--set", "r1_gamma"], r"--set 'r1_gamma' is not of the form key=value"),
    (["--set", "g_arch=skp"], r"g_arch must be one of 'original', 'skip', 'residual', got 'skp'"),
])
def test_set_errors_name_the_field(parser, flags, message):
    with pytest.raises(ValueError, match=message):
        options_from_args(parser.parse_args([*BASE, *flags]))
