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
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from harness.environment import collect_environment
from harness.io import append_jsonl_line, read_jsonl, write_json_atomic, write_jsonl_atomic
from harness.train.checkpoint import CHECKPOINT_NAME
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
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)


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



def check_run_dir(options: TrainOptions) -> bool:
    """Whether to resume; raises ValueError when `out` holds a different or unfinished run.

    A directory with a checkpoint needs --resume; with --resume its options.json must agree on
    the config, data, seed and xflip (the things that define the run).
    """
    run_dir = options.out_dir
    has_checkpoint = (run_dir / CHECKPOINT_NAME).exists()
    if not options.resume:
        if has_checkpoint or (run_dir / SUMMARY_NAME).exists():
            raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it or choose "
                             f"another --out")
        return False
    if not has_checkpoint:
        return False
    stored = json.loads((run_dir / "options.json").read_text())
    current = options.to_dict()
    different = [key for key in RESUME_INVARIANTS if stored.get(key) != current[key]]
    if different:
        raise ValueError(f"cannot resume {run_dir}: its options.json differs in {different}; use the "
                         f"same settings or a new --out")
    return True


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
