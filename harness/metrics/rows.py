"""Metric rows as a keyed store: one row per key in `<run>/metrics.jsonl`, whoever writes at the same time.

A row's key (`metric_row_key`) is what decides its number: the metric, the snapshot, the repeat
structure, the feature network and its weights, the sample counts, the first seed and the protocol
choices (real-sample rule and count, precision/recall's precision, KID subsets, PPL epsilon, noise).
`unique_rows` keeps one row per key (the latest), so readers never double-count; `MetricStore`
appends a row only when its key is new, under an OS lock on a `.lock` file beside metrics.jsonl
(released when the process dies), with one O_APPEND write + fsync per row.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from common.io import append_jsonl_line, read_jsonl, require_writable_folder, write_jsonl_atomic
from harness.rundir import RunDir

try:
    import fcntl
except ImportError:
    fcntl = None

# Row fields that change a metric's number (besides metric, snapshot and first seed, derived below).
KEY_FIELDS = ("repeats", "feature_network", "weights_sha256", "feature_input_size", "preprocessing",
              "num_samples", "dataset_hash", "real_rule", "real_samples", "noise_mode", "pr_precision",
              "pr_k", "kid_subsets", "kid_subset_size", "kid_real_features", "ppl_epsilon", "ppl_noise")


def metric_row_key(row: dict) -> tuple:
    """The key of a metrics row: (metric, snapshot images, first seed, *KEY_FIELDS values).

    A metric's `protocol_fields` (written with its row) outside KEY_FIELDS are keyed too, so a new
    metric's protocol needs no edit here. Rows written before a field existed key it as None;
    `real_samples` falls back to the older `num_real` field, so old rows keep distinct keys per
    real-set size.
    """
    kimg = row.get("snapshot_kimg")
    seeds = row.get("seeds") or [row.get("seed")]
    values = {field: row.get(field) for field in KEY_FIELDS}
    if values["real_samples"] is None:
        values["real_samples"] = row.get("num_real")
    frozen = tuple(_hashable(values[field]) for field in KEY_FIELDS)
    # a metric's own protocol fields (Metric.protocol) that the shared list does not name yet
    own = tuple((field, _hashable(row.get(field))) for field in sorted(row.get("protocol_fields") or ())
                if field not in values)
    return (row.get("metric"), None if kimg is None else round(kimg * 1000), seeds[0], *frozen, *own)


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
    """Every row of a metrics.jsonl (duplicates included; [] when there is none). A torn last line is
    left out, a bad line elsewhere raises (common.io.read_jsonl)."""
    return read_jsonl(path) if Path(path).exists() else []


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive OS lock (fcntl.flock) on `<path>.lock` while inside. The OS drops it when the
    process dies, so a killed writer never leaves it stuck. (Without fcntl, on Windows, no lock.)"""
    with open(path.with_name(path.name + ".lock"), "a+b") as lock_file:
        if fcntl is not None:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        yield  # closing the file releases the lock


class MetricStore:
    """The metrics.jsonl of one run, written one keyed row at a time."""

    def __init__(self, run_dir: Path | str, log: Callable[[str], None] = print):
        self.path = RunDir(run_dir).metrics_path
        self.log = log

    def require_writable(self) -> None:
        """Fail at once, in one line, if rows cannot be written (before any work is done)."""
        require_writable_folder(self.path.parent, what="metric rows", hold=locked(self.path),
                                advice="make the run folder writable or copy the run elsewhere")

    def keys(self) -> set[tuple]:
        """The keys already in the store."""
        return {metric_row_key(row) for row in read_rows(self.path)}

    def rows(self) -> list[dict]:
        """One row per key (unique_rows of the file)."""
        return unique_rows(read_rows(self.path))

    def add(self, row: dict, *, replace: bool = False,
            before_write: Callable[[dict], None] | None = None) -> tuple[bool, list[dict]]:
        """Write `row` unless its key is present (then log it) -> (written, the rows it replaced).
        `replace=True` drops the stored row(s) of that key (the file is rewritten atomically) and
        writes `row`. `before_write` runs under the lock just before the row is written (e.g. to save
        a file the row names)."""
        key = metric_row_key(row)
        with locked(self.path):
            rows = read_rows(self.path)
            present = [old for old in rows if metric_row_key(old) == key]
            if present and not replace:
                self.log(f"metrics: {_describe(row)} is already in {self.path}; not written again "
                         f"(--recompute replaces it)")
                return False, []
            if before_write is not None:
                before_write(row)
            if present:
                kept = [old for old in rows if metric_row_key(old) != key]
                write_jsonl_atomic(self.path, kept + [row])
                self.log(f"metrics: {_describe(row)} replaced in {self.path}")
            else:
                append_jsonl_line(self.path, row)
        return True, present


def _describe(row: dict) -> str:
    return (f"{row.get('metric')} @ {row.get('snapshot_kimg')} kimg ({row.get('num_samples')} samples, "
            f"{row.get('repeats')} repeat(s), {row.get('feature_network')})")
