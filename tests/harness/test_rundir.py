"""The run directory contract: file names, snapshot naming and lookup, done / resumable / fresh,
the lowest-FID snapshot rule, metric rows and stats through RunDir; and its lock (exclusive across
processes, released when the owner dies, re-entrant)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from common.io import CorruptFileError
from harness.rundir import RunDir, RunState, lowest_fid_snapshot
from harness.runlock import RunLockedError, lock_owner, run_lock
from tests.harness.fixtures import metric_row, write_lines


def touch(path, text="{}"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_file_names_and_snapshot_naming(tmp_path):
    run = RunDir(tmp_path)
    paths = (run.summary_path, run.stats_path, run.metrics_path, run.checkpoint_path,
             run.checkpoint_record_path, run.snapshots_dir, run.figures_dir)
    assert [path.name for path in paths] == ["summary.json", "stats.jsonl", "metrics.jsonl", "checkpoint.pt",
                                             "checkpoint.json", "snapshots", "figures"]
    assert run.snapshot_path(500) == tmp_path / "snapshots" / "000500"  # kimg * 1000, six digits
    assert run.snapshot_at(1.504) == tmp_path / "snapshots" / "001504"
    assert run.ppl_distances_name(1504, "20260101T000000") == "ppl_distances_001504_20260101T000000.npy"
    assert RunDir(run) == run and os.fspath(run) == str(tmp_path)


def test_snapshots_are_found_by_images_shown(tmp_path):
    run = RunDir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no snapshots in .*snapshots \(train the run first\)"):
        run.find_snapshot()
    for name in ("001000.safetensors", "000500.safetensors", "000500.json", "notes.safetensors"):
        touch(run.snapshots_dir / name)
    assert run.snapshot_images() == [500, 1000] and run.snapshot_kimgs() == [0.5, 1.0]
    assert run.find_snapshot() == (1.0, run.snapshots_dir / "001000")
    assert run.find_snapshot(0.5) == (0.5, run.snapshots_dir / "000500")
    with pytest.raises(ValueError, match=r"snapshot 0.7 kimg not in .*available \(kimg\): \[0.5, 1.0\]"):
        run.find_snapshot(0.7)
    assert sorted(path.name for path in run.snapshot_files_after(500)) == ["001000.safetensors"]


def test_done_resumable_fresh(tmp_path):
    run = RunDir(tmp_path / "run")
    assert run.state() is RunState.FRESH and not run.is_done() and not run.is_run()
    touch(run.checkpoint_path, "weights")
    assert run.state() is RunState.RESUMABLE
    touch(run.summary_path, json.dumps({"done": False}))
    assert run.state() is RunState.RESUMABLE and run.is_run()
    touch(run.summary_path, json.dumps({"done": True}))
    assert run.state() is RunState.DONE and run.is_done()
    run.checkpoint_path.unlink()  # a finished run kept without weights (the committed example)
    assert run.state() is RunState.DONE
    touch(run.summary_path, '{"done": tru')
    with pytest.raises(CorruptFileError, match="summary.json: corrupt JSON"):
        run.state()


def test_lowest_fid_snapshot_rule():
    fid = lambda value, kimg: metric_row("fid", value, kimg)  # noqa: E731
    assert lowest_fid_snapshot([]) is None
    assert lowest_fid_snapshot([fid(30.0, 1.0), fid(20.0, 2.0), fid(25.0, 3.0)]) == 2.0
    assert lowest_fid_snapshot([fid(20.0, 3.0), fid(20.0, 1.0), fid(30.0, 2.0)]) == 1.0  # tie: the earlier
    # A snapshot's FID is its latest row with the fewest evaluations: 2.0 kimg was measured again at 40.
    assert lowest_fid_snapshot([fid(20.0, 2.0), fid(30.0, 1.0), fid(40.0, 2.0)]) == 1.0
    # ... and the first evaluation of that row: the chosen snapshot's later repeats never move the choice.
    once = lambda first, kimg: metric_row("fid", first, kimg, repeats=1, values=[first])  # noqa: E731
    again = metric_row("fid", 35.0, 2.0, repeats=10, values=[20.0] + [36.7] * 9)
    assert lowest_fid_snapshot([once(30.0, 1.0), once(20.0, 2.0), again]) == 2.0
    assert lowest_fid_snapshot([metric_row("fid", 25.0, 1.0, values=[31.0, 19.0]), fid(30.0, 2.0)]) == 2.0
    assert lowest_fid_snapshot([fid(None, 1.0), fid(30.0, 2.0)]) == 2.0  # a non-finite FID never wins
    assert lowest_fid_snapshot([metric_row("kid", 0.1, 1.0), metric_row("ppl", 9.0, 3.0)]) == 3.0


def test_best_snapshot_without_fid_is_the_latest_snapshot(tmp_path):
    run = RunDir(tmp_path)
    assert run.best_snapshot_kimg() is None
    touch(run.snapshots_dir / "000500.safetensors")
    touch(run.snapshots_dir / "001000.safetensors")
    assert run.best_snapshot_kimg() == 1.0
    write_lines(run.metrics_path, [metric_row("fid", 20.0, 0.5), metric_row("fid", 30.0, 1.0)])
    assert run.best_snapshot_kimg() == 0.5


def test_metric_rows_are_unique_per_key_and_tolerate_a_torn_line(tmp_path):
    run = RunDir(tmp_path)
    assert run.metric_rows() == [] and run.raw_metric_rows() == []
    rows = [metric_row("fid", 20.0, 0.5), metric_row("fid", 19.0, 0.5), metric_row("kid", 0.1, 0.5)]
    write_lines(run.metrics_path, rows)
    assert len(run.raw_metric_rows()) == 3
    assert [row["value"] for row in run.metric_rows()] == [19.0, 0.1]  # the latest row of a key
    with open(run.metrics_path, "a") as file:
        file.write('{"metric": "pp')  # an interrupted append
    with pytest.warns(UserWarning, match="metrics.jsonl:4: skipping a torn last line"):
        assert len(run.raw_metric_rows()) == 3
    store = run.metric_store(log=lambda message: None)
    assert store.path == run.metrics_path and store.add(metric_row("pr", 0.5, 0.5))[0]
    assert [row["metric"] for row in run.metric_rows()] == ["fid", "kid", "pr"]


def test_stats_append_truncate_and_images_shown(tmp_path):
    run = RunDir(tmp_path)
    assert run.stats() == [] and run.images_shown() == 0.0
    for images in (8, 16, 24):
        run.append_stats({"images_shown": images, "kimg": images / 1000})
    assert run.images_shown() == 24.0
    run.truncate_stats(16)
    assert [row["images_shown"] for row in run.stats()] == [8, 16]
    run.write_summary({"done": True, "kimg": 0.032})
    assert run.images_shown() == 32.0 and run.summary() == {"done": True, "kimg": 0.032}
    run.write_summary({"done": True, "images_shown": 40, "kimg": 0.032})
    assert run.images_shown() == 40.0


def test_outputs_are_described_and_listed(tmp_path):
    run = RunDir(tmp_path)
    touch(run.file(RunDir.CONFIG))
    assert run.outputs() == [] and run.describe_outputs() == []
    touch(run.checkpoint_path, "x")
    touch(run.snapshots_dir / "000500.safetensors")
    touch(run.snapshots_dir / "001500.safetensors")
    write_lines(run.stats_path, [{"images_shown": 8}, {"images_shown": 16}])
    distances = "ppl_distances_001500_20260101T000000.npy"
    touch(run.path / distances, "")
    assert run.describe_outputs() == ["checkpoint.pt", "2 snapshot(s) (0.5-1.5 kimg)",
                                      "2 stats line(s) in stats.jsonl", distances]
    assert sorted(path.name for path in run.outputs()) == ["checkpoint.pt", distances, "snapshots",
                                                          "stats.jsonl"]


# The lock ------------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from harness.runlock import run_lock
    with run_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(600)
""")


def start_holder(run_dir):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_second_process_is_refused_with_owner_and_gets_the_lock_after_a_sigkill(tmp_path):
    run_dir = tmp_path / "run"
    holder = start_holder(run_dir)
    try:
        assert f"process {holder.pid} on" in lock_owner(run_dir)
        with pytest.raises(RunLockedError, match=rf"{run_dir} is in use by process {holder.pid} on "):
            with run_lock(run_dir):
                pytest.fail("entered a run another process holds")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock_owner(run_dir) is None  # the OS released the dead owner's lock
    with RunDir(run_dir).lock():
        assert RunDir(run_dir).lock_owner() is None  # this process holding it is not "another" owner
    assert (run_dir / RunDir.LOCK).read_text() == ""  # released: no stale owner record


def test_lock_is_reentrant_within_a_process(tmp_path):
    with run_lock(tmp_path), run_lock(tmp_path):
        record = (tmp_path / RunDir.LOCK).read_text()
        assert f'"pid": {os.getpid()}' in record
    assert (tmp_path / RunDir.LOCK).read_text() == ""


def test_lock_owner_of_an_unlocked_or_missing_run_is_none(tmp_path):
    assert lock_owner(tmp_path / "missing") is None
    with run_lock(tmp_path):
        pass
    start = time.perf_counter()
    assert lock_owner(tmp_path) is None and time.perf_counter() - start < 1
