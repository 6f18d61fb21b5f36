"""Command line: `python -m harness {train, metrics, ablate, report}`.

Each subcommand lives beside the code it drives and exposes `add_arguments(parser)` and
`run(args) -> int`; this module only wires them together, importing each lazily so that
`--help` stays fast and a missing optional dependency only affects its own subcommand.
"""

import argparse
import importlib

# name -> (module, one-line help)
SUBCOMMANDS = {
    "train": ("harness.train.cli", "train one configuration under a measured budget"),
    "metrics": ("harness.metrics.cli", "compute FID / KID / precision-recall / PPL for a run"),
    "ablate": ("harness.suites.cli", "train and measure a suite (Tables 1-3, Figure 8)"),
    "report": ("harness.report", "render the HTML report from the results store"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_module=module)
    args = parser.parse_args(argv)
    return int(args._module.run(args) or 0)
