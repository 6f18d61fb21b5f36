"""The committed smoke example is complete, and it stays out of the default results root."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from common.io import read_jsonl
from harness.results import find_run_dirs, load_results

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "results" / "smoke-example"


def test_the_example_holds_every_suite_with_finished_measured_runs():
    assert (EXAMPLE / "report.html").stat().st_size > 0
    assert sorted(path.parent.name for path in EXAMPLE.glob("*/suite.json")) == [
        "figure8", "table1", "table2", "table3"]
    runs = find_run_dirs(EXAMPLE)
    assert len(runs) == 35
    for run in runs:
        assert json.loads((run / "summary.json").read_text())["done"], run
        measured = {row["metric"] for row in read_jsonl(run / "metrics.jsonl")}
        assert measured >= {"fid", "kid", "pr", "ppl"}, run
        assert not (run / "checkpoint.pt").exists() and not (run / "snapshots").exists()  # no weights
    frame = load_results(EXAMPLE)
    assert frame["fid"].notna().all() and (frame["scale"] == "smoke").all()


def test_no_committed_run_sits_in_the_default_results_root_so_the_main_job_trains():
    """Runs committed under results/<suite>/ would make a fresh clone's `tox -e ablation` find them
    finished and train nothing; only results/smoke-example/ and results/bench/ are committed."""
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked, "git ls-files found nothing under results/"
    outside = [path for path in tracked if path.split("/")[1] not in ("smoke-example", "bench")]
    assert outside == []
