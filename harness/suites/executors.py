"""Where a suite's runs execute: this machine's processes, a Ray cluster, or Slurm (via submitit).

Every executor maps the same unit of work, `run_task` -> `runner.execute_run(run, scale, root)`,
over the planned runs. `execute_run` is idempotent (a finished run is skipped, training resumes
from `checkpoint.pt`, measured metrics are not recomputed), so a task that is retried after a
preemption, or a suite that is started again, continues where it stopped.

Results land in the results root directly (a filesystem every task can write), or, with
`stage_dir`, each task writes into `<stage_dir>/<run-id>/` and the driver merges the finished
ones into the root with `harness.results_merge.merge_results` once all tasks have ended.

Runs are seeded, so an executor changes only where a run happens, not its numbers, given the same
torch thread count per task (the thread count changes float summation order: ~1e-7).
"""

import os
import shutil
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from common.options import Options
from common.registry import Registry
from harness.suites.runner import PlannedRun, execute_run
from harness.suites.scales import Scale


class RunsFailed(RuntimeError):
    """Some runs of a suite failed; `failures` maps run id -> error text. The others finished."""

    def __init__(self, failures: dict[str, str], finished: list[str], results_root: Path):
        self.failures = failures
        lines = [f"  {run_id}: {error}" for run_id, error in failures.items()]
        super().__init__(
            f"{len(failures)} run(s) failed:\n" + "\n".join(lines) + f"\n{len(finished)} other run(s) "
            f"finished; their results are in {results_root}. Fix the cause and run the same command "
            "again: finished runs are skipped and interrupted ones resume from their checkpoint."
        )


class Executor(Protocol):
    def map_runs(self, runs: Sequence[PlannedRun], scale: Scale, results_root: Path) -> list[str]:
        """Execute every run; returns their run ids in order or raises RunsFailed after all ended."""
        ...


def run_task(run: PlannedRun, scale: Scale, results_root: str, threads: int | None = None,
             stage_dir: str | None = None, processes: int = 1) -> str:
    """One run in whatever process an executor chose; torch uses `threads` intra-op threads.

    With `stage_dir` the run is written under `<stage_dir>/<run-id>/`, first seeded with the copy
    already in the results root (if any), so a staged task also skips or resumes. `processes` > 1
    runs it on that many processes of one machine, one per GPU (harness.suites.multiprocess).
    """
    import torch

    root = Path(results_root)
    if stage_dir is not None:
        root = Path(stage_dir) / run.run_id
        staged, existing = root / run.folder, Path(results_root) / run.folder
        if existing.is_dir() and not staged.exists():
            shutil.copytree(existing, staged)
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        print(f"{run.run_id}: {run.config} on {run.column} ({run.source}) -> {root / run.folder}", flush=True)
        if processes > 1:
            from harness.suites.multiprocess import launch

            return launch(run, scale, root, processes)
        return execute_run(run, scale, root)
    finally:
        torch.set_num_threads(previous_threads)


def describe_error(run: PlannedRun, error: BaseException) -> str:
    """One line naming the run; the traceback goes to stderr now (remote ones are in the text)."""
    traceback.print_exception(error)
    return f"{run.config} on {run.column} ({run.folder}) failed with {type(error).__name__}: {error}"


def finish(runs: Sequence[PlannedRun], errors: dict[str, str], results_root: Path,
           stage_dir: Path | None) -> list[str]:
    """Merge the staged finished runs into the results root; raise RunsFailed if any run failed."""
    finished = [run.run_id for run in runs if run.run_id not in errors]
    if stage_dir is not None and finished:
        from harness.results_merge import merge_results

        merge_results([Path(stage_dir) / run_id for run_id in finished], results_root)
    if errors:
        raise RunsFailed(errors, finished, results_root)
    return finished


def die_with_parent(parent_pid: int) -> None:
    """Linux: this process gets SIGTERM when `parent_pid` (the suite driver) dies, so a killed
    `ablate` leaves no worker training on (the OS frees the run's lock; the run resumes later)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the driver died before the call above took effect
        os._exit(1)


def _init_local_worker(slots, threads: int, gpus: tuple[str, ...], gpus_per_worker: int,
                       parent_pid: int | None = None) -> None:
    # Runs first in each spawned worker: pin it to its GPUs before CUDA is initialised.
    if parent_pid is not None:
        die_with_parent(parent_pid)
    slot = slots.get()
    if gpus:
        first = (slot * gpus_per_worker) % len(gpus)
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus[first:first + gpus_per_worker])
    import torch

    torch.set_num_threads(threads)


def auto_jobs(processes_per_run: int = 1) -> int:
    """Parallel local runs when --jobs is not given: one per `processes_per_run` GPUs, else one per
    `processes_per_run` usable CPU cores (one torch thread each: small smoke networks train faster
    that way), at most 8."""
    import torch

    if torch.cuda.is_available():
        return max(1, torch.cuda.device_count() // processes_per_run)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(usable // processes_per_run, 8))


# Executors by the name `--executor` takes; each is an Options class of its settings.
EXECUTORS: Registry[type] = Registry("executor", Options)


@EXECUTORS.register("local")
@dataclass(frozen=True, kw_only=True)
class LocalExecutor(Options):
    """Runs on this machine: `jobs=1` in this process, else `jobs` spawned worker processes.

    Exists for one multi-GPU or many-core machine without a scheduler: worker i uses the
    `processes_per_run` GPUs from `gpus[i * processes_per_run]` on (default: every visible GPU) and
    usable CPUs // jobs torch threads.
    """

    option_label: ClassVar[str] = "local executor option"


    jobs: int = 1
    threads_per_task: int | None = None  # default: usable CPUs // jobs
    gpus: tuple[int | str, ...] | None = None
    processes_per_run: int = 1  # > 1: each run on that many processes (GPUs) through torchrun
    stage_dir: Path | None = None

    def validate(self) -> None:
        if self.jobs < 1:
            raise ValueError(f"jobs must be >= 1 (1 = sequential in this process), got {self.jobs}")
        _check_processes(self.processes_per_run)

    def threads(self) -> int:
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return self.threads_per_task or max(1, usable // self.jobs)  # the CPUs this process may use

    def map_runs(self, runs: Sequence[PlannedRun], scale: Scale, results_root: Path) -> list[str]:
        stage = None if self.stage_dir is None else str(self.stage_dir)
        errors: dict[str, str] = {}
        if self.jobs == 1:
            for run in runs:
                try:
                    run_task(run, scale, str(results_root), self.threads(), stage, self.processes_per_run)
                except Exception as error:  # reported with the run; the others go on
                    errors[run.run_id] = describe_error(run, error)
            return finish(runs, errors, Path(results_root), self.stage_dir)
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools and CUDA
        slots = context.Queue()  # one slot number per worker: which GPU it takes
        for slot in range(self.jobs):
            slots.put(slot)
        worker_setup = (slots, self.threads(), self._gpus(), self.processes_per_run, os.getpid())
        with ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_init_local_worker,
                                 initargs=worker_setup) as pool:
            futures = {run.run_id: pool.submit(run_task, run, scale, str(results_root), None, stage,
                                               self.processes_per_run)
                       for run in runs}
            for run in runs:
                try:
                    futures[run.run_id].result()
                except Exception as error:
                    errors[run.run_id] = describe_error(run, error)
        return finish(runs, errors, Path(results_root), self.stage_dir)

    def _gpus(self) -> tuple[str, ...]:
        """GPU ids as CUDA_VISIBLE_DEVICES spells them (a restriction already in place is kept)."""
        if self.gpus is not None:
            return tuple(map(str, self.gpus))
        if os.environ.get("CUDA_VISIBLE_DEVICES"):
            return tuple(os.environ["CUDA_VISIBLE_DEVICES"].split(","))
        import torch

        return tuple(map(str, range(torch.cuda.device_count()))) if torch.cuda.is_available() else ()


@EXECUTORS.register("ray")
@dataclass(frozen=True, kw_only=True)
class RayExecutor(Options):
    """One Ray task per run, for a Ray cluster (`address`: 'auto', 'ray://head:10001', None = local).

    Ray places tasks by their CPU/GPU request and re-runs a task whose worker or node died
    (`max_retries`, e.g. a preempted spot node); the re-run resumes from the run's checkpoint,
    which must be on storage the next node sees (the shared results root, or a shared stage_dir).
    """

    option_label: ClassVar[str] = "ray executor option"


    address: str | None = None
    num_cpus_per_task: float = 1
    num_gpus_per_task: float = 0
    processes_per_run: int = 1  # > 1: torchrun in the task, one process per GPU (give as many GPUs)
    max_retries: int = 3
    stage_dir: Path | None = None

    def validate(self) -> None:
        _check_processes(self.processes_per_run)

    def map_runs(self, runs: Sequence[PlannedRun], scale: Scale, results_root: Path) -> list[str]:
        import ray

        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address)
        try:
            task = ray.remote(num_cpus=self.num_cpus_per_task, num_gpus=self.num_gpus_per_task,
                              max_retries=self.max_retries, retry_exceptions=False)(run_task)
            threads = max(1, int(self.num_cpus_per_task))
            stage = None if self.stage_dir is None else str(self.stage_dir)
            by_ref = {task.remote(run, scale, str(results_root), threads, stage, self.processes_per_run): run
                      for run in runs}
            errors: dict[str, str] = {}
            pending = list(by_ref)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                run = by_ref[done[0]]
                try:
                    ray.get(done[0])
                except Exception as error:
                    errors[run.run_id] = describe_error(run, error)
        finally:
            if started_here:
                ray.shutdown()
        return finish(runs, errors, Path(results_root), self.stage_dir)


class RequeueingTask:
    """`run_task` as a submitit checkpointable callable: on preemption or time-out submitit calls
    `checkpoint`, which requeues the same call; execute_run then resumes from checkpoint.pt."""

    def __call__(self, *args) -> str:
        return run_task(*args)

    def checkpoint(self, *args):
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args)


@EXECUTORS.register("slurm")
@dataclass(frozen=True, kw_only=True)
class SlurmExecutor(Options):
    """One Slurm job (in one job array) per run, submitted through submitit.

    `folder` holds submitit's pickles and logs and must be on the shared filesystem, like the
    results root. `cluster='local'` runs the jobs as local processes (tests, a dry run).
    """

    option_label: ClassVar[str] = "slurm executor option"


    folder: Path = Path("slurm_logs")
    partition: str | None = None
    gpus_per_node: int = 1
    cpus_per_task: int = 8
    timeout_min: int = 3 * 24 * 60
    mem_gb: int | None = None
    array_parallelism: int = 64
    cluster: str | None = None  # None = detect (slurm where sbatch exists)
    processes_per_run: int = 1  # > 1: torchrun in the job, one process per GPU (set gpus_per_node alike)
    stage_dir: Path | None = None

    def validate(self) -> None:
        _check_processes(self.processes_per_run)

    def map_runs(self, runs: Sequence[PlannedRun], scale: Scale, results_root: Path) -> list[str]:
        import submitit

        executor = submitit.AutoExecutor(folder=self.folder, cluster=self.cluster)
        executor.update_parameters(
            name="stylegan2-ablations", nodes=1, tasks_per_node=1, gpus_per_node=self.gpus_per_node,
            cpus_per_task=self.cpus_per_task, timeout_min=self.timeout_min, mem_gb=self.mem_gb,
            slurm_partition=self.partition, slurm_array_parallelism=self.array_parallelism,
        )
        count = len(runs)
        stage = None if self.stage_dir is None else str(self.stage_dir)
        jobs = executor.map_array(RequeueingTask(), list(runs), [scale] * count,
                                  [str(results_root)] * count, [self.cpus_per_task] * count, [stage] * count,
                                  [self.processes_per_run] * count)
        errors: dict[str, str] = {}
        for run, job in zip(runs, jobs, strict=True):
            print(f"{run.run_id}: submitted as job {job.job_id}", flush=True)
        for run, job in zip(runs, jobs, strict=True):
            try:
                job.result()
            except Exception as error:
                errors[run.run_id] = describe_error(run, error) + f" (logs: {job.paths.stderr})"
        return finish(runs, errors, Path(results_root), self.stage_dir)


def _check_processes(processes_per_run: int) -> None:
    if processes_per_run < 1:
        raise ValueError(f"processes_per_run must be an int >= 1 (1 = one process a run; N = one run on N "
                         f"GPUs through torchrun), got {processes_per_run!r}")


EXECUTORS.freeze()  # local, ray and slurm are defined above; a late one is refused


def get_executor(name: str, **options) -> Executor:
    """`get_executor('ray', address='auto')`; options left as None take the executor's default."""
    cls = EXECUTORS.get(name)
    cls.check_names(options)
    return cls(**{key: value for key, value in options.items() if value is not None})
