"""The run directory (docs/architecture.md): its lock, metadata files, stats lines, snapshots, summary.

The lock: `<run>/.lock` is locked with fcntl.flock (exclusive, non-blocking) for as long as a
process trains or measures the run; the operating system releases it when that process exits,
however it dies, so a SIGKILLed owner never leaves a run stuck. While held, the file names the
owner (pid, host, start time, command) so that a second process can say who has the run; the file
itself stays (empty once released), since deleting a lock file races with the next owner. Within
one process the lock is re-entrant (`train` inside a suite task that holds it already). flock
works on local file systems; on NFS it depends on the server (Linux NFSv4 maps it to byte-range
locks).
"""

import contextlib
import datetime
import json
import os
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from harness.environment import collect_environment
from harness.io import (
    WriteError,
    append_jsonl_line,
    read_jsonl,
    remove_orphan_temporaries,
    write_json_atomic,
    write_jsonl_atomic,
)
from harness.train.checkpoint import CHECKPOINT_NAME, RECORD_NAME
from harness.train.options import TrainOptions

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs there are not protected
    fcntl = None

STATS_NAME = "stats.jsonl"
SUMMARY_NAME = "summary.json"
SNAPSHOT_DIR = "snapshots"
# Options that must match when a run is resumed (the budget and intervals may change).
RESUME_INVARIANTS = ("config", "data", "seed", "xflip", "growing_fraction")
METRICS_NAME = "metrics.jsonl"
# What training and measuring write into a run besides its metadata (removed on a fresh start).
RUN_OUTPUTS = (STATS_NAME, SUMMARY_NAME, CHECKPOINT_NAME, METRICS_NAME, SNAPSHOT_DIR, "figures")
OTHER_OUTPUTS = ("ppl_distances_*.npy",)
LOCK_NAME = ".lock"

_held: dict[str, list[int]] = {}  # resolved lock path -> [file descriptor, depth]
_held_guard = threading.Lock()


class RunLockedError(RuntimeError):
    """Another process holds the run directory's lock; the message names the run and the owner."""

    def __init__(self, run_dir: Path, owner: str):
        self.run_dir, self.owner = run_dir, owner
        super().__init__(f"{run_dir} is in use by {owner}; wait for it to finish (or stop that process) "
                         f"and run the same command again")


def _describe(record: dict) -> str:
    if not record.get("pid"):
        return "another process (it has just started)"
    return (f"process {record['pid']} on {record.get('host', '?')} since {record.get('since', '?')} "
            f"({record.get('command', '?')})")


def _read_owner(handle: int) -> str:
    try:
        return _describe(json.loads(os.pread(handle, 1 << 16, 0) or b"{}"))
    except (OSError, ValueError):
        return _describe({})


def _open(lock_path: Path) -> int:
    """The lock file's descriptor; a run folder that cannot be written fails here, before any work."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        if not os.access(lock_path.parent, os.W_OK):
            os.close(handle)
            raise PermissionError(13, "Permission denied")
        return handle
    except OSError as error:
        raise WriteError(f"cannot write the run folder {lock_path.parent} ({error.strerror or error}); "
                         f"choose another --out (or --results) or make it writable") from error


def lock_owner(run_dir: Path | str) -> str | None:
    """Who holds `run_dir`'s lock, or None when nobody else does (this process holding it counts as none)."""
    lock_path = Path(run_dir) / LOCK_NAME
    if fcntl is None or not lock_path.exists() or str(lock_path.resolve()) in _held:
        return None
    handle = os.open(lock_path, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_owner(handle)
    finally:
        os.close(handle)  # also releases the probe's shared lock
    return None


@contextlib.contextmanager
def run_lock(run_dir: Path | str) -> Iterator[Path]:
    """Hold `<run_dir>/.lock` for the block; raises RunLockedError when another process has it.

    Under torchrun only rank 0 takes it (every rank of one run shares the run directory).
    """
    run_dir = Path(run_dir)
    if fcntl is None or os.environ.get("RANK", "0") != "0":
        yield run_dir
        return
    lock_path = run_dir / LOCK_NAME
    handle = _open(lock_path)
    key = str(lock_path.resolve())
    with _held_guard:
        if key in _held:  # re-entered in this process
            os.close(handle)
            _held[key][1] += 1
            handle = None
        else:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_owner(handle)
                os.close(handle)
                raise RunLockedError(run_dir, owner) from None
            _held[key] = [handle, 1]
            record = {"pid": os.getpid(), "host": socket.gethostname(),
                      "since": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                      "command": " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]])[:300]}
            os.ftruncate(handle, 0)
            os.pwrite(handle, (json.dumps(record) + "\n").encode(), 0)
    try:
        yield run_dir
    finally:
        with _held_guard:
            entry = _held[key]
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                os.ftruncate(entry[0], 0)  # while still held: the next owner writes its own record
                os.close(entry[0])  # releases the lock



class RunDirError(ValueError):
    """The run directory does not fit the request (a different run, nothing to resume, other data)."""


def _count_lines(path: Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip())


def run_contents(run_dir: Path) -> list[str]:
    """What a run directory holds besides its metadata, in words ("3 snapshots (0.5-1.5 kimg)")."""
    found = []
    for name in (CHECKPOINT_NAME, SUMMARY_NAME):
        if (run_dir / name).exists():
            found.append(name)
    snapshots = sorted((run_dir / SNAPSHOT_DIR).glob("*.safetensors"))
    if snapshots:
        kimgs = [int(path.stem) / 1000 for path in snapshots]
        found.append(f"{len(snapshots)} snapshot(s) ({kimgs[0]:g}-{kimgs[-1]:g} kimg)")
    for name, what in ((STATS_NAME, "stats line(s)"), (METRICS_NAME, "metric row(s)")):
        if (run_dir / name).exists():
            found.append(f"{_count_lines(run_dir / name)} {what} in {name}")
    extra = [path.name for pattern in OTHER_OUTPUTS for path in sorted(run_dir.glob(pattern))]
    return found + extra


def _option_differences(stored: dict, current: dict) -> list[str]:
    """'field: stored -> current' for each resume invariant (config fields one by one) that differs."""
    differences = []
    for key in RESUME_INVARIANTS:
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
    run_dir = options.out_dir
    has_checkpoint = (run_dir / CHECKPOINT_NAME).exists()
    if options.force_restart:
        return False
    if not options.resume:
        if has_checkpoint or (run_dir / SUMMARY_NAME).exists():
            raise RunDirError(f"{run_dir} already holds a run ({', '.join(run_contents(run_dir))}); pass "
                              f"--resume to continue it, --force-restart to delete it and train again, or "
                              f"choose another --out")
        return False
    if not has_checkpoint:
        contents = run_contents(run_dir)
        if contents:
            raise RunDirError(f"cannot resume {run_dir}: it has no {CHECKPOINT_NAME} but holds "
                              f"{', '.join(contents)}; pass --force-restart (without --resume) to delete "
                              f"them and train from scratch, or choose another --out")
        return False
    stored = json.loads((run_dir / "options.json").read_text())
    different = _option_differences(stored, options.to_dict())
    if different:
        raise RunDirError(f"cannot resume {run_dir}: {'; '.join(different)}; use the same settings, "
                          f"or another --out")
    return True


def check_dataset(run_dir: Path, info) -> None:
    """Refuse to resume on images other than those the run was trained on (dataset.json)."""
    path = run_dir / "dataset.json"
    if not path.exists():
        return
    recorded = json.loads(path.read_text()).get("content_hash")
    if recorded is not None and recorded != info.content_hash:
        raise RunDirError(f"cannot resume {run_dir}: the dataset {info.source!r} now has content hash "
                          f"{info.content_hash[:16]}..., but the run was trained on {recorded[:16]}... "
                          f"(dataset.json); restore those images, or train a new run with another --out")


def _remove(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def start_fresh(run_dir: Path, force: bool, log=print) -> None:
    """Delete what an earlier attempt left: everything the run produced with --force-restart, else
    the stats, snapshots and metric rows of an attempt killed before its first checkpoint."""
    contents = run_contents(run_dir)
    outputs = [run_dir / name for name in (*RUN_OUTPUTS, RECORD_NAME) if (run_dir / name).exists()]
    outputs += [path for pattern in OTHER_OUTPUTS for path in run_dir.glob(pattern)]
    if not outputs:
        return
    _remove(outputs)
    reason = ("--force-restart" if force else
              "an earlier attempt was stopped before its first checkpoint")
    log(f"note: {reason}: removed from {run_dir}: {', '.join(contents) or 'partial files'}; training "
        f"from scratch", flush=True)


def discard_after(run_dir: Path, images_shown: int, log=print) -> None:
    """Before resuming at `images_shown`: drop later stats lines and snapshots (they are redone)."""
    truncate_stats(run_dir, images_shown)
    later = [path for path in (run_dir / SNAPSHOT_DIR).glob("*.*") if path.stem.isdigit()
             and int(path.stem) > images_shown]
    if later:
        _remove(later)
        log(f"note: removed snapshot(s) {sorted({path.stem for path in later})} written after the "
            f"checkpoint ({images_shown} images); training redoes them", flush=True)


def tidy(run_dir: Path, resumed_at: int | None, force_restart: bool, log=print) -> None:
    """Rank 0, holding the lock, before training: remove the temporary files of interrupted
    writes, then what comes after the checkpoint (`resumed_at` images) or, on a fresh start,
    what an earlier attempt left."""
    orphans = remove_orphan_temporaries(run_dir)
    if orphans:
        log(f"note: removed {len(orphans)} temporary file(s) of interrupted writes from {run_dir}: "
            f"{', '.join(path.name for path in orphans[:5])}", flush=True)
    if resumed_at is None:
        start_fresh(run_dir, force_restart, log)
    else:
        discard_after(run_dir, resumed_at, log)


def write_metadata(options: TrainOptions, dataset_info, device) -> None:
    """config.json, options.json, dataset.json and environment.json."""
    run_dir = options.out_dir
    write_json_atomic(run_dir / "config.json", json.loads(options.config.to_json()))
    write_json_atomic(run_dir / "options.json", options.to_dict())
    write_json_atomic(run_dir / "dataset.json", dataset_info.to_dict())
    write_json_atomic(run_dir / "environment.json", collect_environment(device))


def append_stats(run_dir: Path, record: dict) -> None:
    append_jsonl_line(run_dir / STATS_NAME, record)


def truncate_stats(run_dir: Path, images_shown: int) -> None:
    """Drop stats lines written after the checkpoint a resumed run continues from."""
    path = run_dir / STATS_NAME
    if path.exists():
        write_jsonl_atomic(path, [row for row in read_jsonl(path) if row["images_shown"] <= images_shown])


def snapshot_path(run_dir: Path, images_shown: int) -> Path:
    """`snapshots/<images:06d>` (without suffix): the name is kimg * 1000, so 0.5 kimg -> 000500."""
    return run_dir / SNAPSHOT_DIR / f"{images_shown:06d}"


def save_snapshot(run_dir: Path, generator_ema, images_shown: int) -> Path:
    import variants

    path = snapshot_path(run_dir, images_shown)
    path.parent.mkdir(parents=True, exist_ok=True)
    variants.save_network(path, generator_ema)
    return path


def is_done(run_dir: Path) -> bool:
    """Whether summary.json says the run finished."""
    path = run_dir / SUMMARY_NAME
    return path.exists() and json.loads(path.read_text()).get("done") is True


def write_summary(run_dir: Path, summary: dict) -> None:
    write_json_atomic(run_dir / SUMMARY_NAME, summary)
