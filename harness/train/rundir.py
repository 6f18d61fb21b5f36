"""Training's side of the run directory (harness.rundir.RunDir holds the contract, harness.runlock the lock):
whether to resume, what an earlier attempt left, and the metadata a run starts with.
"""

import json
import shutil
from pathlib import Path

from harness.environment import collect_environment
from harness.rundir import RunDir
from harness.train.options import TrainOptions

# Options that must match when a run is resumed (the budget and intervals may change).
RESUME_INVARIANTS = ("config", "data", "seed", "xflip", "growing_fraction")
# Options a finished run must share with a suite plan that reuses it instead of training: the budget too.
REUSE_INVARIANTS = (*RESUME_INVARIANTS, "kimg")


class RunDirError(ValueError):
    """The run directory does not fit the request (a different run, nothing to resume, other data)."""


def _option_differences(stored: dict, current: dict, keys=RESUME_INVARIANTS) -> list[str]:
    """'field: stored -> current' for each of `keys` (config fields one by one) that differs."""
    differences = []
    for key in keys:
        before, now = stored.get(key), current[key]
        if key == "config" and isinstance(before, dict):
            differences += [f"config.{name}: {before.get(name)!r} in options.json, {now.get(name)!r} now"
                            for name in sorted(set(before) | set(now)) if before.get(name) != now.get(name)]
        elif before != now:
            differences.append(f"{key}: {before!r} in options.json, {now!r} now")
    return differences


def check_run_dir(options: TrainOptions) -> bool:
    """Whether to resume; raises RunDirError when `out` holds a different run or nothing to resume.

    A directory with a checkpoint or a summary needs --resume (or --force-restart); with --resume
    its options.json must agree on the config, data, seed, xflip and growing fraction, and
    without a checkpoint it must hold no results (resuming it would retrain and replace them).
    Leftovers of an attempt killed before its first checkpoint are removed by `start_fresh`.
    """
    run = RunDir(options.out_dir)
    if options.force_restart:
        return False
    if not options.resume:
        if run.has_checkpoint() or run.summary_path.exists():
            raise RunDirError(f"{run.path} already holds a run ({', '.join(run.describe_outputs())}); pass "
                              f"--resume to continue it, --force-restart to delete it and train again, or "
                              f"choose another --out")
        return False
    if not run.has_checkpoint():
        contents = run.describe_outputs()
        if contents:
            raise RunDirError(f"cannot resume {run.path}: it has no {RunDir.CHECKPOINT} but holds "
                              f"{', '.join(contents)}; pass --force-restart (without --resume) to delete "
                              f"them and train from scratch, or choose another --out")
        return False
    different = _option_differences(run.read_json(RunDir.OPTIONS), options.to_dict())
    if different:
        raise RunDirError(f"cannot resume {run.path}: {'; '.join(different)}; use the same settings, "
                          f"or another --out")
    return True


def finished_run_differences(planned: dict) -> list[str]:
    """For a finished run at `planned["out"]` (planned: TrainOptions.to_dict()), each of
    REUSE_INVARIANTS its options.json holds otherwise ('field: stored in options.json, planned now');
    [] when they agree or the run is not finished."""
    run = RunDir(Path(planned["out"]))
    if not run.is_done():
        return []
    return _option_differences(run.read_json(RunDir.OPTIONS), planned, REUSE_INVARIANTS)


def check_dataset(run_dir: Path, info) -> None:
    """Refuse to resume on images other than those the run was trained on (dataset.json)."""
    recorded = RunDir(run_dir).read_json(RunDir.DATASET).get("content_hash")
    if recorded is not None and recorded != info.content_hash:
        raise RunDirError(f"cannot resume {run_dir}: the dataset {info.source!r} now has content hash "
                          f"{info.content_hash[:16]}..., but the run was trained on {recorded[:16]}... "
                          f"({RunDir.DATASET}); restore those images, or train a new run with another --out")


def _remove(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def start_fresh(run_dir: Path, force: bool, log=print) -> None:
    """Delete what an earlier attempt left: everything the run produced with --force-restart, else
    the stats, snapshots and metric rows of an attempt killed before its first checkpoint."""
    run = RunDir(run_dir)
    contents, outputs = run.describe_outputs(), run.outputs()
    if not outputs:
        return
    _remove(outputs)
    reason = ("--force-restart" if force else
              "an earlier attempt was stopped before its first checkpoint")
    log(f"note: {reason}: removed from {run_dir}: {', '.join(contents) or 'partial files'}; training "
        f"from scratch", flush=True)


def discard_after(run_dir: Path, images_shown: int, log=print) -> None:
    """Before resuming at `images_shown`: drop later stats lines and snapshots (they are redone)."""
    run = RunDir(run_dir)
    run.truncate_stats(images_shown)
    later = run.snapshot_files_after(images_shown)
    if later:
        _remove(later)
        log(f"note: removed snapshot(s) {sorted({path.stem for path in later})} written after the "
            f"checkpoint ({images_shown} images); training redoes them", flush=True)


def tidy(run_dir: Path, resumed_at: int | None, force_restart: bool, log=print) -> None:
    """Rank 0, holding the lock, before training: remove the temporary files of interrupted
    writes, then what comes after the checkpoint (`resumed_at` images) or, on a fresh start,
    what an earlier attempt left."""
    orphans = RunDir(run_dir).remove_orphan_temporaries()
    if orphans:
        log(f"note: removed {len(orphans)} temporary file(s) of interrupted writes from {run_dir}: "
            f"{', '.join(path.name for path in orphans[:5])}", flush=True)
    if resumed_at is None:
        start_fresh(run_dir, force_restart, log)
    else:
        discard_after(run_dir, resumed_at, log)


def write_metadata(options: TrainOptions, dataset_info, device) -> None:
    """config.json, options.json, dataset.json and environment.json."""
    run = RunDir(options.out_dir)
    run.write_json(RunDir.CONFIG, json.loads(options.config.to_json()))
    run.write_json(RunDir.OPTIONS, options.to_dict())
    run.write_json(RunDir.DATASET, dataset_info.to_dict())
    run.write_json(RunDir.ENVIRONMENT, collect_environment(device))


def save_snapshot(run_dir: Path, generator_ema, images_shown: int) -> Path:
    """G_ema as `snapshots/<images:06d>.safetensors` with its record beside it."""
    import variants

    path = RunDir(run_dir).snapshot_path(images_shown)
    path.parent.mkdir(parents=True, exist_ok=True)
    variants.save_network(path, generator_ema)
    return path
