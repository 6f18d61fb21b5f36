"""The run directory's lock: one process at a time trains or measures a run.

`<run>/.lock` is locked with fcntl.flock (exclusive, non-blocking) for as long as a
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

from common.io import WriteError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs there are not protected
    fcntl = None

LOCK_FILE = ".lock"  # in the run directory
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
    lock_path = Path(run_dir) / LOCK_FILE
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
    lock_path = run_dir / LOCK_FILE
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
