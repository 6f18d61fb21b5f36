"""`python -m harness train`: train one configuration into a run directory.

    python -m harness train --config E --data openmoji --kimg 10 --out runs/E [--resume]
        [--resolution 64] [--width-multiplier 0.25] [--batch-size 16] [--impl ref]
        [--set r1_gamma=1 --set adam_betas=[0,0.99]]
    torchrun --standalone --nproc_per_node=8 -m harness train ...   (one run on 8 GPUs, same global batch)
        [--tf32] [--channels-last] [--compile-mapping]
        [--mixed-precision-res 4 [--mixed-precision-dtype float16 --conv-clamp 256]]
"""

import argparse
import json
import math
import os
import types
import typing

import variants
from harness.cli import user_error
from harness.train.distributed import RankFailureError
from harness.train.loop import NonFiniteError, train
from harness.train.options import TrainOptions
from harness.train.performance import PerformanceOptions
from harness.train.rundir import RunLockedError

# Flags that are shorthand for a config field.
CONFIG_FLAGS = {"resolution": "resolution", "width_multiplier": "width_multiplier",
                "batch_size": "batch_size", "impl": "impl", "conv_clamp": "conv_clamp"}


def parse_assignment(text: str) -> tuple[str, object]:
    """'key=value' -> (key, value); the value is JSON where it parses ('16', '[0, 0.99]'), else a string."""
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise argparse.ArgumentTypeError(f"--set expects key=value, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def _expected(hint) -> str:
    """A Config field's type in words, for error messages."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if arg is type(None) else _expected(arg) for arg in args)
    if origin is tuple:
        return "a JSON list, e.g. [0, 0.99]" if Ellipsis not in args else "a JSON list of pairs"
    return {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}.get(
        hint, str(hint))


def _conforms(value, hint) -> bool:
    """Whether a JSON-parsed `value` fits a Config field's type hint (numbers finite)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal or hint is str:
        return isinstance(value, str)  # Config names the allowed choices itself
    if origin in (typing.Union, types.UnionType):
        return any(value is None if arg is type(None) else _conforms(value, arg) for arg in args)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return False
        items = args[:1] * len(value) if Ellipsis in args else args
        return len(items) == len(value) and all(map(_conforms, value, items))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return True


def check_overrides(overrides: dict[str, object]) -> None:
    """Raise ValueError naming the first --set value that does not fit its Config field's type
    (a string where a number belongs, 1.5 or true for an integer, NaN or Infinity anywhere)."""
    hints = typing.get_type_hints(variants.Config)
    for key, value in overrides.items():
        if key in hints and not _conforms(value, hints[key]):
            raise ValueError(f"--set {key}={json.dumps(value)}: {key} must be {_expected(hints[key])}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help=f"preset name: {', '.join(variants.list_configs())}")
    parser.add_argument("--data", required=True, help="image folder, .zip, LMDB, or built-in name (openmoji)")
    parser.add_argument("--kimg", type=float, required=True, help="budget: thousands of real images")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--resolution", type=int, help="image size (power of two)")
    parser.add_argument("--width-multiplier", type=float, help="scale every layer's feature maps")
    parser.add_argument("--batch-size", type=int, help="minibatch (at full resolution when growing)")
    parser.add_argument("--impl", choices=("ref", "fused", "auto"), help="fused_ops implementation")
    parser.add_argument("--set", dest="overrides", action="append", type=parse_assignment, default=[],
                        metavar="KEY=VALUE", help="override any variants.Config field (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    parser.add_argument("--force-restart", action="store_true",
                        help="delete what <out> holds (stats, snapshots, checkpoint, metric rows) and train "
                             "from scratch")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--tick-kimg", type=float, default=4.0, help="a stats line every so many kimg")
    parser.add_argument("--snapshot-kimg", type=float, default=200.0,
                        help="a G_ema snapshot every so many kimg")
    parser.add_argument("--checkpoint-kimg", type=float, default=None, help="default: at every snapshot")
    parser.add_argument("--fig8-samples", type=int, default=1024, help="latents for the Figure 8 shares")
    parser.add_argument("--xflip", action="store_true", help="add mirrored images to the dataset")
    parser.add_argument("--skip-bad", action="store_true", help="skip undecodable images instead of failing")
    parser.add_argument("--deterministic", action="store_true", help="deterministic algorithms (slower)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--cache-dir", default=None, help="dataset cache folder")
    parser.add_argument("--rebuild-cache", action="store_true",
                        help="decode the dataset again even if a cache of it exists")
    parser.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto")
    parser.add_argument("--dist-timeout-min", type=float, default=10.0,
                        help="under torchrun: minutes a rank waits for the others before failing")
    add_performance_arguments(parser)


def add_performance_arguments(parser: argparse.ArgumentParser) -> None:
    """GPU speed flags (harness/train/performance.py); all off by default (paper fidelity)."""
    group = parser.add_argument_group("speed (off by default; see harness/train/performance.py)")
    group.add_argument("--tf32", action="store_true", help="TF32 matmuls and convolutions on CUDA")
    group.add_argument("--channels-last", action="store_true", help="NHWC weights and activations")
    group.add_argument("--mixed-precision-res", type=int, default=0, metavar="N",
                       help="compute the N highest resolutions in reduced precision (official: 4)")
    group.add_argument("--mixed-precision-dtype", choices=("bfloat16", "float16"), default="bfloat16",
                       help="float16 needs --conv-clamp (official: 256)")
    group.add_argument("--conv-clamp", type=float, default=None,
                       help="clamp conv activations to [-X, X] (config field conv_clamp; changes the maths)")
    group.add_argument("--compile-mapping", action="store_true",
                       help="torch.compile the mapping network (CUDA)")


def performance_from_args(args: argparse.Namespace) -> PerformanceOptions:
    return PerformanceOptions(tf32=args.tf32, channels_last=args.channels_last,
                              mixed_precision_res=args.mixed_precision_res,
                              mixed_precision_dtype=args.mixed_precision_dtype,
                              compile_mapping=args.compile_mapping)


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    """TrainOptions for parsed arguments: the preset with every override applied."""
    overrides = {field: getattr(args, flag) for flag, field in CONFIG_FLAGS.items()
                 if getattr(args, flag) is not None}
    overrides.update(dict(args.overrides))
    check_overrides(overrides)
    base = variants.get_config(args.config).to_dict()
    config = variants.Config.from_dict({**base, **overrides})  # converts JSON lists to tuples, validates
    return TrainOptions(config=config, data=args.data, out=args.out, kimg=args.kimg, seed=args.seed,
                        resume=args.resume, force_restart=args.force_restart,
                        rebuild_cache=args.rebuild_cache, tick_kimg=args.tick_kimg,
                        snapshot_kimg=args.snapshot_kimg,
                        checkpoint_kimg=args.checkpoint_kimg, fig8_samples=args.fig8_samples,
                        xflip=args.xflip,
                        skip_bad=args.skip_bad, device=args.device, deterministic=args.deterministic,
                        threads=args.threads, cache_dir=args.cache_dir, progress=args.progress,
                        performance=performance_from_args(args), dist_timeout_min=args.dist_timeout_min)


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
