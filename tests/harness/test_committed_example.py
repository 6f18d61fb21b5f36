"""The committed examples (smoke and cpu scale) are complete, record their protocol, and stay out of
the default results root; the learning check (harness.learning, issue 14) is read from what is committed."""

import functools
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.learning import learning_checks
from harness.metrics import METRICS
from harness.metrics.rows import unique_rows
from harness.results import find_run_dirs, load_metric_rows, load_results, load_speed
from harness.rundir import RunDir
from harness.suites.runner import plan_runs
from harness.suites.scales import get_scale
from harness.suites.tables import get_suites

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {"smoke": REPO_ROOT / "results" / "smoke-example", "cpu": REPO_ROOT / "results" / "cpu-example"}
# Every suite writes suite.json; one a scale does not cover lists its cells as left out.
SUITES = ["figure8", "table1", "table2", "table3"]
# Runs each example must hold: what its scale preset plans today (smoke 14, cpu 80), so that a preset
# change without a regenerated example fails here.
RUNS = {scale: len(plan_runs(get_suites("all"), get_scale(scale), lambda source: True)) for scale in EXAMPLES}
# What each metric row must say about how it was computed (issue 13).
PROTOCOL_FIELDS = ("real_samples", "real_rule", "preprocessing", "comparability", "feature_network",
                   "weights_sha256", "seeds", "repeats", "num_samples")


@pytest.mark.parametrize("scale", sorted(EXAMPLES))
def test_the_example_holds_finished_measured_runs_with_their_protocol(scale):
    example = EXAMPLES[scale]
    assert (example / "report.html").stat().st_size > 0
    assert sorted(path.parent.name for path in example.glob("*/suite.json")) == SUITES
    runs = find_run_dirs(example)
    assert len(runs) == RUNS[scale]
    for run_dir in runs:
        run = RunDir(run_dir)
        assert run.is_done(), run_dir
        rows = unique_rows(run.metric_rows())
        assert {row["metric"] for row in rows} >= {"fid", "kid", "pr", "ppl"}, run_dir
        for row in rows:
            reads_reals = not METRICS.get(row["metric"]).perceptual  # PPL measures the generator alone
            wanted = [name for name in PROTOCOL_FIELDS if reads_reals or "real" not in name]
            missing = [name for name in wanted if name not in row]
            assert not missing, f"{run_dir}: {row['metric']} row lacks {missing}"
        assert not (run_dir / "checkpoint.pt").exists() and not (run_dir / "snapshots").exists()  # no weights
        assert all((run_dir / "figures" / name).exists() for name in ("samples.png", "samples_first.png"))
    frame = load_results(example)
    assert frame["fid"].notna().all() and (frame["scale"] == scale).all()
    assert set(load_speed(example)["img_per_s"]) == {"A", "B", "C", "E", "F"}  # timed side by side


@functools.cache
def committed_learning_checks(scale: str):
    """harness.learning's checks of the committed example `scale`, read once for the tests below."""
    example = EXAMPLES[scale]
    return learning_checks(load_metric_rows(example), load_results(example))


@pytest.mark.parametrize("scale", sorted(EXAMPLES))
def test_the_report_states_the_learning_check_of_the_committed_runs(scale):
    """The report's count of runs that learn is the one harness.learning computes from the rows."""
    example = EXAMPLES[scale]
    checks = committed_learning_checks(scale)
    assert len(checks) == RUNS[scale]
    learned = sum(check.learns for check in checks)
    html = (example / "report.html").read_text(encoding="utf-8")
    assert f"<strong>{learned} of {len(checks)} runs</strong>" in html
    budgets = {json.loads((run / "options.json").read_text())["kimg"] for run in find_run_dirs(example)}
    assert all(check.reached_the_end for check in checks) and len(budgets) == 1


@pytest.mark.parametrize("scale", sorted(EXAMPLES))
def test_every_committed_run_learns(scale):
    """Issue 14's condition on every run of the committed example: final FID at most half the FID of the
    first snapshot after 10% of its budget (harness.learning)."""
    checks = committed_learning_checks(scale)
    assert len(checks) == RUNS[scale]
    failing = [f"{check.run} ({check.ratio:.2f})" for check in checks if not check.learns]
    assert failing == []


def test_no_committed_run_sits_in_the_default_results_root_so_the_main_job_trains():
    """Runs committed under results/<suite>/ would make a fresh clone's `tox -e ablation` find them
    finished and train nothing; only the examples and results/bench/ are committed."""
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked, "git ls-files found nothing under results/"
    committed = ("smoke-example", "cpu-example", "bench")
    outside = [path for path in tracked if path.split("/")[1] not in committed]
    assert outside == []
