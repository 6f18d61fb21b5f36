"""Two suite processes on one results root: a run another process holds is skipped, never trained
or measured twice."""

import signal

from harness.suites import runner
from harness.suites.runner import PlannedRun, execute_run
from harness.suites.scales import get_scale
from tests.harness.test_rundir import start_holder


def test_execute_run_skips_a_run_another_process_owns(tmp_path, monkeypatch):
    run = PlannedRun(run_id="E__ffhq__seed0", config="E", column="FFHQ", source="openmoji",
                     folder="table1/E__ffhq__seed0")

    def must_not_run(*args, **kwargs):
        raise AssertionError("a locked run was trained or measured")

    monkeypatch.setattr("harness.train.train", must_not_run)
    monkeypatch.setattr(runner, "measure_run", must_not_run)
    holder = start_holder(tmp_path / run.folder)  # another process (a second `ablate`, say) has the run
    try:
        logged = []
        assert execute_run(run, get_scale("smoke"), tmp_path, log=logged.append) == run.run_id
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert len(logged) == 1
    assert logged[0].startswith(f"{run.run_id}: skipped, another process owns it: process {holder.pid} on ")
