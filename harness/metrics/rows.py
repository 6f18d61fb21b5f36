"""Metric rows as a keyed store: one row per key in `<run>/metrics.jsonl`, whoever writes at the same time.

A row's key (`metric_row_key`) is what decides its number: the metric, the snapshot, the repeat
structure, the feature network and its weights, the sample counts, the first seed and the protocol
choices (real-sample rule and count, precision/recall's precision, KID subsets, PPL epsilon, noise).
`unique_rows` keeps one row per key (the latest), so readers never double-count; `MetricStore`
appends a row only when its key is new, under an OS lock on a `.lock` file beside metrics.jsonl
(released when the process dies), with one O_APPEND write + fsync per row.
"""

import json
import math
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Row fields that change a metric's number (besides metric, snapshot and first seed, derived below).
KEY_FIELDS = ("repeats", "feature_network", "weights_sha256", "feature_input_size", "num_samples",
              "real_rule", "real_samples", "pr_precision", "pr_k", "kid_subsets", "kid_subset_size",
              "ppl_epsilon", "noise_mode", "preprocessing")


def metric_row_key(row: dict) -> tuple:
    """The key of a metrics row: (metric, snapshot images, first seed, *KEY_FIELDS values).

    Rows written before a field existed key it as None; `real_samples` falls back to the older
    `num_real` field, so old rows keep distinct keys per real-set size.
    """
    kimg = row.get("snapshot_kimg")
    seeds = row.get("seeds") or [row.get("seed")]
    values = {field: row.get(field) for field in KEY_FIELDS}
    if values["real_samples"] is None:
        values["real_samples"] = row.get("num_real")
    frozen = tuple(_hashable(values[field]) for field in KEY_FIELDS)
    return (row.get("metric"), None if kimg is None else round(kimg * 1000), seeds[0], *frozen)


def _hashable(value):
    if isinstance(value, dict):
        return tuple(sorted((key, _hashable(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    return value


def unique_rows(rows: Iterable[dict]) -> list[dict]:
    """One row per metric_row_key: the latest row of each key, at the place its key first appeared."""
    latest: dict[tuple, dict] = {}
    for row in rows:
        key = metric_row_key(row)
        latest[key] = row  # dict keeps the first insertion position; the value is the latest row
    return list(latest.values())


def read_rows(path: Path) -> list[dict]:
    """The rows of a metrics.jsonl (all of them, duplicates included); a torn last line (a writer
    killed mid-append) is ignored, a bad line elsewhere is an error naming the file and line."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as error:
            if number == len(lines):  # no newline after it: an append that did not finish
                break
            raise ValueError(f"{path} line {number} is not JSON ({error}); remove or repair that "
                             f"line") from None
    return rows


def _finite(value):
    """`value` with every NaN or infinite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def json_line(record: dict) -> bytes:
    """`record` as one UTF-8 JSON line; non-finite numbers become null and are listed in `non_finite`."""
    clean = _finite(record)
    if clean != record:
        clean["non_finite"] = sorted(key for key in record if _finite(record[key]) != record[key])
    return (json.dumps(clean, allow_nan=False) + "\n").encode("utf-8")


def append_jsonl_line(path: Path, record: dict) -> None:
    """Append `record` to `path` with one O_APPEND write and an fsync (so concurrent appenders never
    interleave or lose lines). Starts a new line first if the file ends in a torn line."""
    data = json_line(record)
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(handle).st_size
        if size and _last_byte(path) != b"\n":
            data = b"\n" + data
        written = os.write(handle, data)
        if written != len(data):
            raise OSError(f"short write to {path}: {written} of {len(data)} bytes (disk full?)")
        os.fsync(handle)
    finally:
        os.close(handle)


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive OS lock on `<path>.lock` (fcntl.flock; msvcrt on Windows) while inside.
    The OS drops the lock when the process dies, so a killed writer never leaves it stuck."""
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+b") as lock_file:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(lock_file.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if os.name != "nt":
                import fcntl

                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


class MetricStore:
    """The metrics.jsonl of one run, written one keyed row at a time."""

    def __init__(self, run_dir: Path | str, log: Callable[[str], None] = print):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.log = log

    def require_writable(self) -> None:
        """Fail at once, in one line, if rows cannot be written (before any work is done)."""
        folder = self.path.parent
        try:
            with locked(self.path):
                probe = folder / f".write-test-{os.getpid()}"
                probe.write_bytes(b"")
                probe.unlink()
        except OSError as error:
            raise PermissionError(f"cannot write metric rows in {folder} ({error.strerror or error}); "
                                  f"make the run folder writable or copy the run elsewhere") from None

    def keys(self) -> set[tuple]:
        """The keys already in the store."""
        return {metric_row_key(row) for row in read_rows(self.path)}

    def rows(self) -> list[dict]:
        """One row per key (unique_rows of the file)."""
        return unique_rows(read_rows(self.path))

    def add(self, row: dict, *, replace: bool = False,
            before_write: Callable[[dict], None] | None = None) -> bool:
        """Write `row` unless its key is present (then log and return False). `replace=True` drops the
        stored row(s) of that key (the file is rewritten atomically) and writes `row`. `before_write`
        runs under the lock just before the row is written (e.g. to save a file the row names)."""
        from harness.io import write_bytes_atomic

        key = metric_row_key(row)
        with locked(self.path):
            self._drop_torn_tail()
            rows = read_rows(self.path)
            present = [old for old in rows if metric_row_key(old) == key]
            if present and not replace:
                self.log(f"metrics: {_describe(row)} is already in {self.path}; not written again "
                         f"(--recompute replaces it)")
                return False
            if before_write is not None:
                before_write(row)
            if present:
                kept = [old for old in rows if metric_row_key(old) != key]
                write_bytes_atomic(self.path, b"".join(json_line(old) for old in kept + [row]))
                self.log(f"metrics: {_describe(row)} replaced in {self.path}")
            else:
                append_jsonl_line(self.path, row)
        return True


    def _drop_torn_tail(self) -> None:
        """Cut a last line without its newline (a writer killed mid-append); call under the lock."""
        if not self.path.exists() or not self.path.stat().st_size or _last_byte(self.path) == b"\n":
            return
        data = self.path.read_bytes()
        keep = data.rfind(b"\n") + 1
        os.truncate(self.path, keep)
        self.log(f"metrics: dropped an unfinished last line of {self.path} ({len(data) - keep} bytes, "
                 f"a write that was interrupted)")


def _describe(row: dict) -> str:
    return (f"{row.get('metric')} @ {row.get('snapshot_kimg')} kimg ({row.get('num_samples')} samples, "
            f"{row.get('repeats')} repeat(s), {row.get('feature_network')})")
