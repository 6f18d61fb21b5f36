"""Atomic file writes: a reader (or a resumed run) never sees a half-written file.

Every write goes to a temporary file `.<name>.<random>.tmp` in the destination's folder, is flushed
and fsynced, and then replaces the destination with `os.replace` (atomic on POSIX and Windows
within one file system). A process killed mid-write leaves such a temporary file behind;
`remove_orphan_temporaries` clears them (callers do so while they hold the folder's lock).

JSON lines are appended in place (`append_jsonl_line`): one `write` of one whole line under an
exclusive lock on the file, then fsync, so concurrent appenders never lose or interleave lines.
`read_jsonl` (the one JSON-lines reader) drops a last line torn by a crash with a warning and
raises CorruptFileError, naming file and line, for any other damage; `read_json_object` does the
same for a JSON file.

For crash tests, `fault_point` can SIGKILL the process at a chosen write step (HARNESS_FAULT_KILL_AT).

No JSON written here contains NaN or Infinity (not JSON; most parsers reject them): non-finite
floats become null, and a dict record lists the fields that were non-finite in `nonfinite_fields`.
"""

import errno
import hashlib
import json
import logging
import math
import os
import shutil
import signal
import tempfile
import warnings
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # not on Windows: appends there rely on O_APPEND alone
    fcntl = None

NONFINITE_KEY = "nonfinite_fields"
FAULT_KILL_AT = "HARNESS_FAULT_KILL_AT"  # "N": die at the N-th fault point (crash tests only)
FAULT_MATCH = "HARNESS_FAULT_MATCH"  # count only the fault points whose label contains this text
_fault_count = 0
TEMPORARY_SUFFIX = ".tmp"

log = logging.getLogger(__name__)


def fault_point(label: str) -> bool:
    """Crash tests: True at the N-th call (HARNESS_FAULT_KILL_AT=N) whose label contains
    HARNESS_FAULT_MATCH, after saying so on stderr; the caller then calls `die()`. Without the
    variable (always, outside tests) it is one environment lookup and returns False."""
    target = os.environ.get(FAULT_KILL_AT)
    if not target or os.environ.get(FAULT_MATCH, "") not in label:
        return False
    global _fault_count
    _fault_count += 1
    if _fault_count != int(target):
        return False
    os.write(2, f"fault injection: SIGKILL at {label}\n".encode())
    return True


def die() -> None:
    """End this process the hardest way (SIGKILL: no cleanup, no flushing), as a crash would."""
    os.kill(os.getpid(), signal.SIGKILL)


def temporary_beside(path: Path | str) -> Path:
    """A new empty temporary file `.<name>.<random>.tmp` in `path`'s folder (created if missing), for
    writers that fill a file by other means (e.g. a NumPy memmap) before `commit_temporary`."""
    path = Path(path)
    temp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=TEMPORARY_SUFFIX)
        os.close(handle)
        os.chmod(temp_name, 0o666 & ~_current_umask())  # mkstemp makes 0600; results are for sharing
    except OSError as error:  # a read-only or full folder
        if temp_name is not None:
            Path(temp_name).unlink(missing_ok=True)
        raise WriteError(describe_write_failure(path, error)) from error
    return Path(temp_name)


def commit_temporary(temporary: Path | str, path: Path | str) -> Path:
    """fsync a filled temporary file (from `temporary_beside(path)`) and rename it over `path`."""
    with open(temporary, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_directory(Path(path).parent)
    return Path(path)


def _write_atomic(path: Path | str, write: Callable[[IO[bytes]], None],
                  before_replace: Callable[[], None] | None = None) -> Path:
    """Call `write(file)` on a temporary file beside `path`, fsync it, call `before_replace()`
    (e.g. to record the new file's checksum first), then rename it over `path`."""
    path = Path(path)
    temp_name = temporary_beside(path)
    try:
        with open(temp_name, "wb") as file:
            write(file)
            file.flush()
            if fault_point(f"write {path} (temporary file written, not renamed)"):
                die()
            os.fsync(file.fileno())
        if before_replace is not None:
            before_replace()
            if fault_point(f"write {path} (record written, file not renamed)"):
                die()
        os.replace(temp_name, path)
        if fault_point(f"write {path} (renamed)"):
            die()
    except (OSError, RuntimeError) as error:  # torch.save reports a full disk as RuntimeError
        Path(temp_name).unlink(missing_ok=True)
        raise WriteError(describe_write_failure(path, error)) from error
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


class WriteError(OSError):
    """A file could not be written (disk full, read-only, ...); the message names the file and disk."""


def describe_write_failure(path: Path, error: BaseException) -> str:
    """One line: which file failed, why, and how much room is left on its disk."""
    try:
        free = f"{shutil.disk_usage(path.parent).free / 2**20:.0f} MiB free"
    except OSError:
        free = "free space unknown"
    cause = "the disk is full" if getattr(error, "errno", None) == errno.ENOSPC else str(error)
    return (f"could not write {path}: {cause} ({free} on the disk holding {path.parent}); free some "
            f"space or choose another folder, then run the same command again")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(folder: Path) -> None:
    # Makes the rename itself durable; directories cannot be opened this way on Windows.
    if os.name != "posix":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def require_writable_folder(folder: Path | str, *, what: str, advice: str, create: bool = False,
                            hold: AbstractContextManager | None = None) -> Path:
    """`folder`, once a probe file could be written and removed in it (inside `hold`, e.g. the lock the
    writer will take; `create`: make the folder first). Otherwise one line, before any work is done:
    PermissionError "cannot write <what> in <folder> (<cause>); <advice>"."""
    folder = Path(folder)
    try:
        with hold if hold is not None else nullcontext():
            if create:
                folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
    except OSError as error:
        cause = error.strerror or error
        raise PermissionError(f"cannot write {what} in {folder} ({cause}); {advice}") from None
    return folder


def remove_orphan_temporaries(folder: Path | str, *, recursive: bool = True) -> list[Path]:
    """Delete the `.<name>.*.tmp` files interrupted writes left in `folder`; returns them.

    Only call this while no other process writes into `folder` (e.g. holding the run's lock):
    a live writer's temporary file looks the same.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = f".*{TEMPORARY_SUFFIX}"
    found = sorted(folder.rglob(pattern) if recursive else folder.glob(pattern))
    removed = [path for path in found if path.is_file()]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def finite_json(obj: Any, path: str = "") -> tuple[Any, list[str]]:
    """`obj` with every NaN/Inf float replaced by None, and the dotted paths of those fields."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None, [path or "<value>"]
    if isinstance(obj, dict):
        cleaned, found = {}, []
        for key, value in obj.items():
            cleaned[key], inner = finite_json(value, f"{path}.{key}" if path else str(key))
            found += inner
        return cleaned, found
    if isinstance(obj, list | tuple):
        cleaned, found = [], []
        for index, value in enumerate(obj):
            item, inner = finite_json(value, f"{path}[{index}]")
            cleaned.append(item)
            found += inner
        return cleaned, found
    return obj, []


def dumps_json(obj: Any, *, indent: int | None = None, sort_keys: bool = False, compact: bool = False) -> str:
    """JSON text of `obj` without NaN/Infinity: they become null, and a dict gets `nonfinite_fields`.
    `compact`: no spaces after separators (with indent None)."""
    cleaned, nonfinite = finite_json(obj)
    if nonfinite and isinstance(cleaned, dict):
        cleaned[NONFINITE_KEY] = sorted(set(cleaned.get(NONFINITE_KEY) or []) | set(nonfinite))
    separators = (",", ":") if compact else None
    return json.dumps(cleaned, indent=indent, sort_keys=sort_keys, separators=separators, allow_nan=False)


def _json_line(record: Any) -> str:
    line = dumps_json(record)
    if "\n" in line:
        raise ValueError("a JSON-lines record must serialise to one line")
    return line


def write_bytes_atomic(path: Path | str, data: bytes) -> Path:
    """Write `data` to `path` atomically; returns the path."""
    return _write_atomic(path, lambda file: file.write(data))


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path | str, obj: Any, *, indent: int | None = 2, sort_keys: bool = False,
                      compact: bool = False) -> Path:
    """Write `obj` as JSON (UTF-8, trailing newline, no NaN/Infinity) to `path` atomically."""
    text = dumps_json(obj, indent=indent, sort_keys=sort_keys, compact=compact)
    return write_text_atomic(path, text + "\n")


def _drop_torn_tail(handle: int, path: Path) -> None:
    """Cut a last line without its newline (a writer died mid-line) off the locked file."""
    size = os.fstat(handle).st_size
    if size == 0 or os.pread(handle, 1, size - 1) == b"\n":
        return
    start = max(0, size - (1 << 20))
    tail = os.pread(handle, size - start, start)
    keep = start + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
    log.warning("%s: dropping a torn last line of %d bytes (a writer was interrupted)", path, size - keep)
    os.ftruncate(handle, keep)


def append_jsonl_line(path: Path | str, record: Any) -> Path:
    """Append `record` as one JSON line to `path` (created if missing), durably.

    Appenders take an exclusive lock on the file (fcntl.flock), cut a torn last line left by a
    killed writer, write the whole line with one O_APPEND write, fsync and unlock: two processes
    appending at once each keep every line, never interleaved.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (_json_line(record) + "\n").encode("utf-8")
    handle = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        _drop_torn_tail(handle, path)
        if fault_point(f"append {path} (half a line written)"):
            os.write(handle, data[:len(data) // 2])
            die()
        written = os.write(handle, data)
        if written != len(data):  # regular files write whole buffers unless the disk is full
            raise OSError(f"short write to {path}: {written} of {len(data)} bytes (disk full?)")
        os.fsync(handle)
    finally:
        os.close(handle)  # closing releases the lock
    return path


def write_jsonl_atomic(path: Path | str, records: Iterable[Any]) -> Path:
    """Write `records` as JSON lines to `path` atomically, replacing its content."""
    return write_text_atomic(path, "".join(_json_line(record) + "\n" for record in records))


class CorruptFileError(ValueError):
    """A JSON or JSON-lines file that cannot be parsed; the message names the file (and line)."""


def read_json_object(path: Path | str) -> dict:
    """The JSON object in `path`; a corrupt or non-object file raises CorruptFileError naming it."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptFileError(f"{path}: corrupt JSON ({error}); delete or re-create the file") from error
    if not isinstance(value, dict):
        raise CorruptFileError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def read_jsonl(path: Path | str) -> list[dict]:
    """The JSON objects of a JSON-lines file, one a line (blank lines ignored).

    A last line without its newline that does not parse was torn by a killed writer: it is left
    out with a warning (UserWarning). Any other unparsable or non-object line raises
    CorruptFileError naming the file and line.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines):  # no newline after it
                warnings.warn(f"{path}:{number}: skipping a torn last line ({len(line)} bytes; a writer "
                              f"was interrupted)", stacklevel=2)
                continue
            raise CorruptFileError(f"{path}:{number}: corrupt JSON line ({error}); the file is damaged: "
                                   f"remove or fix that line") from error
        if not isinstance(record, dict):
            raise CorruptFileError(f"{path}:{number}: expected a JSON object, found {type(record).__name__}")
        records.append(record)
    return records


def save_torch_atomic(path: Path | str, obj: Any) -> Path:
    """`torch.save(obj)` to `path` atomically. Keep `obj` to tensors, numbers, strings, lists and
    dicts so that `torch.load(path, weights_only=True)` reads it back without unpickling code."""
    import torch  # here, not at the top: `common` loads without torch (e.g. for `--help`)

    return _write_atomic(path, lambda file: torch.save(obj, file))


class _HashingWriter:
    """A write-only file wrapper that feeds every byte to sha256 on the way through."""

    def __init__(self, file: IO[bytes]):
        self.file, self.digest, self.size = file, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()


def save_torch_hashed(path: Path | str, obj: Any, before_replace: Callable[[str, int], None]) -> Path:
    """`save_torch_atomic` that hashes the bytes as they are written and calls
    `before_replace(sha256_hex, size_bytes)` once the new file is durable but not yet in place."""
    import torch

    writers: list[_HashingWriter] = []

    def write(file: IO[bytes]) -> None:
        writers.append(_HashingWriter(file))
        torch.save(obj, writers[0])

    return _write_atomic(path, write, lambda: before_replace(writers[0].digest.hexdigest(), writers[0].size))


def file_sha256(path: Path | str) -> str:
    """sha256 of a file's bytes, read in 16 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()
