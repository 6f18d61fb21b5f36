"""Atomic file writes: a reader (or a resumed run) never sees a half-written file.

Every write goes to a temporary file in the destination's folder, is flushed and fsynced, and then
replaces the destination with `os.replace` (atomic on POSIX and Windows within one file system).
"""

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import torch


def _write_atomic(path: Path | str, write: Callable[[IO[bytes]], None]) -> Path:
    """Call `write(file)` on a temporary file beside `path`, fsync it, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temp_name, 0o666 & ~_current_umask())  # mkstemp makes 0600; results are for sharing
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


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


def _json_line(record: Any) -> str:
    line = json.dumps(record, sort_keys=False, allow_nan=True)
    if "\n" in line:
        raise ValueError("a JSON-lines record must serialise to one line")
    return line


def write_bytes_atomic(path: Path | str, data: bytes) -> Path:
    """Write `data` to `path` atomically; returns the path."""
    return _write_atomic(path, lambda file: file.write(data))


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path | str, obj: Any, *, indent: int | None = 2) -> Path:
    """Write `obj` as JSON (UTF-8, trailing newline) to `path` atomically; returns the path."""
    return write_text_atomic(path, json.dumps(obj, indent=indent) + "\n")


def append_jsonl_atomic(path: Path | str, record: Any) -> Path:
    """Append `record` as one JSON line to `path` atomically.

    The file is rewritten through a temporary copy, so a crash leaves either the old or the new
    content, never a partial line. Fine for the small logs here (one line per tick or metric).
    """
    path = Path(path)
    existing = path.read_bytes() if path.exists() else b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"
    return write_bytes_atomic(path, existing + (_json_line(record) + "\n").encode("utf-8"))


def write_jsonl_atomic(path: Path | str, records: Iterable[Any]) -> Path:
    """Write `records` as JSON lines to `path` atomically, replacing its content."""
    return write_text_atomic(path, "".join(_json_line(record) + "\n" for record in records))


def read_jsonl(path: Path | str) -> list[Any]:
    """Read a JSON-lines file into a list of objects (blank lines ignored)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def save_torch_atomic(path: Path | str, obj: Any) -> Path:
    """`torch.save(obj)` to `path` atomically. Keep `obj` to tensors, numbers, strings, lists and
    dicts so that `torch.load(path, weights_only=True)` reads it back without unpickling code."""
    return _write_atomic(path, lambda file: torch.save(obj, file))
