"""`python -m harness report`: its flags here, the report itself in harness.report (imported only to
render, so that `report --help` loads neither pandas nor matplotlib)."""

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"), help="results store root")
    parser.add_argument("--out", type=Path, default=None, help="HTML file (default: <results>/report.html)")


def run(args) -> int:
    from harness.report import render_report

    path = render_report(args.results, args.out)
    print(f"report written to {path}")
    return 0
