"""`python -m harness train`: train one configuration into a run directory.

    python -m harness train --config E --data openmoji --kimg 10 --out runs/E [--resume]
        [--resolution 64] [--width-multiplier 0.25] [--batch-size 16] [--impl ref]
        [--set r1_gamma=1 --set adam_betas=[0,0.99]]
    torchrun --standalone --nproc_per_node=8 -m harness train ...   (one run on 8 GPUs, same global batch)
        [--tf32] [--channels-last] [--compile-mapping]
        [--mixed-precision-res 4 [--mixed-precision-dtype float16 --conv-clamp 256]]

Every flag but --config and --set is generated from a field of TrainOptions, PerformanceOptions or
(the shorthands) variants.Config: its type, default, choices and help live with the field.
"""

import argparse
import os

import variants
from common.cli import add_option_arguments, option_values
from common.options import parse_assignment
from harness.cli import user_error
from harness.distributed import RankFailureError
from harness.runlock import RunLockedError
from harness.train.loop import NonFiniteError, train
from harness.train.options import TrainOptions
from harness.train.performance import PerformanceOptions

# Config fields with a flag of their own (default None: the preset's value); any field via --set.
CONFIG_FLAGS = ("resolution", "width_multiplier", "batch_size", "impl")
PERFORMANCE_CONFIG_FLAGS = ("conv_clamp",)  # shown with the speed flags it goes with


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help=f"preset name: {', '.join(variants.list_configs())}")
    add_option_arguments(parser, TrainOptions, skip=("config", "performance"))
    add_option_arguments(parser, variants.Config, only=CONFIG_FLAGS, defaults=dict.fromkeys(CONFIG_FLAGS))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override any variants.Config field (repeatable; JSON values)")
    group = parser.add_argument_group("speed (off by default; see harness/train/performance.py)")
    add_option_arguments(group, PerformanceOptions)
    add_option_arguments(group, variants.Config, only=PERFORMANCE_CONFIG_FLAGS,
                         defaults=dict.fromkeys(PERFORMANCE_CONFIG_FLAGS))


def config_from_args(args: argparse.Namespace) -> variants.Config:
    """The preset with the shorthand flags, then every --set, applied (each checked in one line)."""
    shorthand = {name: getattr(args, name) for name in (*CONFIG_FLAGS, *PERFORMANCE_CONFIG_FLAGS)
                 if getattr(args, name) is not None}
    overrides = dict(parse_assignment(text, variants.Config) for text in args.overrides)
    return variants.get_config(args.config, **{**shorthand, **overrides})


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    """TrainOptions for parsed arguments: the preset with every override applied."""
    performance = PerformanceOptions(**option_values(args, PerformanceOptions))
    return TrainOptions(**option_values(args, TrainOptions, skip=("config", "performance")),
                        config=config_from_args(args), performance=performance)


def run(args: argparse.Namespace) -> int:
    """Exit codes: 0 done; 2 bad input (flags, data, run directory, checkpoint, disk, a run another
    process holds), one line each; 1 the run failed (diverged, or a rank died)."""
    try:  # bad flags: unknown preset or field, invalid values
        options = options_from_args(args)
    except (ValueError, TypeError, KeyError) as error:
        return user_error("train", error)
    try:
        run_dir = train(options)
    except (NonFiniteError, RankFailureError) as error:
        return user_error("train", error, 1)
    except (ValueError, OSError, RunLockedError) as error:  # data, run directory, checkpoint, disk, lock
        return user_error("train", error)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, once
        print(f"train: done: {run_dir}")
    return 0
