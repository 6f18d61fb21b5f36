"""The run-directory lock: exclusive across processes, released when the owner dies, re-entrant."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from harness.train.rundir import LOCK_NAME, RunLockedError, lock_owner, run_lock

HOLDER = textwrap.dedent("""
    import sys, time
    from harness.train.rundir import run_lock
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
    with run_lock(run_dir):
        assert lock_owner(run_dir) is None  # this process holding it is not "another" owner
    assert (run_dir / LOCK_NAME).read_text() == ""  # released: no stale owner record


def test_lock_is_reentrant_within_a_process(tmp_path):
    with run_lock(tmp_path), run_lock(tmp_path):
        record = (tmp_path / LOCK_NAME).read_text()
        assert f'"pid": {os.getpid()}' in record
    assert (tmp_path / LOCK_NAME).read_text() == ""


def test_lock_owner_of_an_unlocked_or_missing_run_is_none(tmp_path):
    assert lock_owner(tmp_path / "missing") is None
    with run_lock(tmp_path):
        pass
    start = time.perf_counter()
    assert lock_owner(tmp_path) is None and time.perf_counter() - start < 1
