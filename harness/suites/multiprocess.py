"""One run of a suite on several processes (one per GPU): torchrun inside an executor's task.

A paper-scale run trains on 8 GPUs (the paper's batch 32 over 8 V100s). An executor whose tasks
have `processes_per_run = N > 1` runs each task through `launch`, which starts

    python -m torch.distributed.run --standalone --nproc_per_node=N -m harness.suites.multiprocess TASK

Every process joins one process group (NCCL on GPUs, gloo on CPU) and calls `execute_run`:
training averages gradients over the N processes and the metrics shard their samples
(harness.distributed); rank 0 alone writes the run directory. The run's numbers equal a
one-process run of the same global batch up to float rounding.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.suites.runner import PlannedRun, execute_run
from harness.suites.scales import Scale


def launch(run: PlannedRun, scale: Scale, results_root: str | Path, processes: int) -> str:
    """Run `execute_run(run, scale, results_root)` on `processes` local processes; the run id.

    Raises RuntimeError when any process fails (each rank has printed its own error first); the
    same call again resumes from the run's checkpoint.
    """
    if processes < 2:
        raise ValueError(f"launch needs at least 2 processes, got {processes}; call execute_run for one")
    results_root = Path(results_root)
    results_root.mkdir(parents=True, exist_ok=True)
    handle, task_path = tempfile.mkstemp(prefix=f".task-{run.run_id.replace('/', '_')}-", suffix=".json",
                                         dir=results_root)
    with os.fdopen(handle, "w") as task_file:
        json.dump({"run": dataclasses.asdict(run), "scale": scale.to_dict(),
                   "results_root": str(results_root.resolve())}, task_file)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "harness.suites.multiprocess", task_path]
    try:
        returncode = subprocess.run(command).returncode
    finally:
        os.unlink(task_path)
    if returncode != 0:
        raise RuntimeError(f"{run.run_id}: torchrun with {processes} processes exited with code {returncode} "
                           f"(each rank's error is printed above); run the same command again to resume "
                           f"from the checkpoint")
    return run.run_id


def main(argv: list[str] | None = None) -> int:
    """The body of every process that `launch` starts."""
    import torch

    from harness.distributed import process_group

    parser = argparse.ArgumentParser(prog="python -m harness.suites.multiprocess", description=__doc__)
    parser.add_argument("task", type=Path, help="JSON file written by launch()")
    args = parser.parse_args(argv)
    task = json.loads(args.task.read_text())
    run, scale = PlannedRun(**task["run"]), Scale(**task["scale"])
    wants_cuda = scale.device.startswith("cuda") or (scale.device == "auto" and torch.cuda.is_available())
    with process_group(torch.device("cuda" if wants_cuda else "cpu")) as dist:  # one group for the whole task
        log = print if dist.is_main else (lambda *_args, **_kwargs: None)
        execute_run(run, scale, Path(task["results_root"]), log=log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
