"""`python -m harness report`: its flags and its run hook."""

import argparse

from harness import report, report_cli


def test_cli_hooks(results_tree, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "_figure_views", lambda *tables: [])  # figures: tests/harness/test_report.py
    parser = argparse.ArgumentParser()
    report_cli.add_arguments(parser)
    args = parser.parse_args(["--results", str(results_tree.root), "--out", str(tmp_path / "r.html")])
    assert report_cli.run(args) == 0 and (tmp_path / "r.html").stat().st_size > 0
    assert parser.parse_args([]).out is None
