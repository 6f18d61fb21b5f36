"""Command line: `python -m harness {train, metrics, ablate, report, import-official}`.

Each subcommand lives beside the code it drives and exposes `add_arguments(parser)` and
`run(args) -> int`; this module only wires them together, importing each lazily so that
`--help` stays fast and a missing optional dependency only affects its own subcommand.
"""

import argparse
import importlib
import os
import sys

# name -> (module, one-line help)
SUBCOMMANDS = {
    "train": ("harness.train.cli", "train one configuration under a measured budget"),
    "metrics": ("harness.metrics.cli", "compute FID / KID / precision-recall / PPL for a run"),
    "ablate": ("harness.suites.cli", "train and measure a suite (Tables 1-3, Figure 8)"),
    "report": ("harness.report_cli", "render the HTML report from the results store"),
    "import-official": ("harness.official.cli", "convert an official StyleGAN2 PyTorch pickle into registry "
                        "networks without running its code"),
}


def user_error(command: str, error: BaseException, code: int = 2) -> int:
    """Print `error` as one line and return `code`; with --debug or HARNESS_DEBUG=1, re-raise it
    (traceback and all) instead."""
    if os.environ.get("HARNESS_DEBUG"):
        raise error
    print(f"{command}: error: {' '.join(str(error).split())}", file=sys.stderr)
    return code


def main(argv=None) -> int:
    """Exit codes: 0 success; 2 bad input (flags, data, files, a run another process holds), one
    line on stderr; 1 a subcommand's own failure (a diverged run, failed suite runs)."""
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show the traceback of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    words = sys.argv[1:] if argv is None else list(argv)
    chosen = next((word for word in words if not word.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if chosen == name:  # only the chosen command's imports (none for the top-level --help)
            module = importlib.import_module(module_name)
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(_module=module)
    args = parser.parse_args(argv)
    if args.debug:
        os.environ["HARNESS_DEBUG"] = "1"
    from harness.runlock import RunLockedError

    try:
        return int(args._module.run(args) or 0)
    except (ValueError, OSError, RunLockedError) as error:  # bad input the subcommand did not word itself
        return user_error(args.command, error)
