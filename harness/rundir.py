"""The run directory contract (docs/architecture.md): one folder per training run, read and written
only through `RunDir`.

    <run>/config.json       the variants.Config it trained (written at the start)
    <run>/options.json      its TrainOptions
    <run>/dataset.json      the DatasetInfo of its images (content hash, licence)
    <run>/environment.json  hardware, packages and git commit
    <run>/stats.jsonl       one line per tick (images_shown, losses, timings, ...)
    <run>/checkpoint.pt     the full training state; checkpoint.json beside it: its sha256 and size
    <run>/snapshots/        G_ema every snapshot, `<images shown:06d>.safetensors` + `.json`
    <run>/summary.json      written last; `done: true` once the budget is reached
    <run>/metrics.jsonl     metric rows, one per key (harness.metrics.rows)
    <run>/ppl_distances_<images:06d>_<time>.npy   PPL's per-sample distances, named by their row
    <run>/figures/          samples.png and feature_maps.npy (lowest-FID snapshot), samples_first.png
    <run>/.lock             held while a process trains or measures the run

A run is `done` when summary.json says so, `resumable` when it is not done and has a checkpoint,
else `fresh` (what a killed attempt left before its first checkpoint is cleared by training).
The snapshot a run reports is the one with the lowest FID (`lowest_fid_snapshot`).

The lock on `<run>/.lock` (held while a process trains or measures the run): harness.runlock.
"""

import contextlib
import enum
import math
from collections.abc import Callable, Iterable
from pathlib import Path

from common.io import (
    append_jsonl_line,
    read_json_object,
    read_jsonl,
    remove_orphan_temporaries,
    write_json_atomic,
    write_jsonl_atomic,
)
from harness.runlock import LOCK_FILE, lock_owner, run_lock


class RunState(enum.Enum):
    FRESH = "fresh"  # nothing to continue: training starts from scratch
    RESUMABLE = "resumable"  # a checkpoint and no finished summary: training continues from it
    DONE = "done"  # summary.json says done: the budget was reached


def lowest_fid_snapshot(rows: Iterable[dict]) -> float | None:
    """kimg of the snapshot a run reports, from its metric rows (the paper's choice, Table 1 caption).

    The rule follows the official workflow, where one FID evaluation per snapshot during training
    picks the snapshot and the reported numbers are then evaluated again there (SPEC section 4): a
    snapshot's FID is the first evaluation (`values[0]`, else `value`) of its FID row with the fewest
    evaluations, the latest such row; the snapshot with the lowest FID wins, the earlier one on a tie.
    So evaluating the chosen snapshot more times never moves the choice. Without any FID, the latest
    snapshot any row measured; without rows, None.
    """
    rows = list(rows)
    fid = _choice_fids(rows)
    if fid:
        return min(fid, key=lambda kimg: (fid[kimg], kimg))
    return max((row["snapshot_kimg"] for row in rows if row.get("snapshot_kimg") is not None), default=None)


def _choice_fids(rows: list[dict]) -> dict[float, float]:
    """snapshot kimg -> the FID deciding its place in the choice: the first evaluation of its FID row
    with the fewest evaluations, the latest such row."""
    held: dict[float, tuple[int, float]] = {}  # kimg -> (evaluations, first evaluation)
    for row in rows:
        fid = _first_evaluation(row) if row.get("metric") == "fid" else None
        repeats, kimg = row.get("repeats") or 1, row.get("snapshot_kimg")
        if fid is not None and (kimg not in held or repeats <= held[kimg][0]):
            held[kimg] = (repeats, fid)
    return {kimg: fid for kimg, (_, fid) in held.items()}


def _first_evaluation(row: dict) -> float | None:
    values = row.get("values")
    value = values[0] if isinstance(values, list) and values else row.get("value")
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


# Rows written before rows named their quantities (`reports`): the one metric that reported two.
_LEGACY_REPORTS = {"pr": ("precision", "recall")}


def reported_fields(row: dict) -> dict[str, tuple[str, str, str]]:
    """The quantities a metric row reports: {quantity: (value field, std field, per-repeat field)}.

    A row names them in `reports` (harness.metrics.metric.Metric.reports): a quantity named as the
    metric is in `value` / `std` / `values`, any other q in `q` / `q_std` / `q_values`.
    """
    metric, names = row.get("metric"), row.get("reports")
    if not isinstance(names, list | tuple) or not names:  # also a table's NaN where a row had none
        names = _LEGACY_REPORTS.get(metric, (metric,))
    return {name: ("value", "std", "values") if name == metric else (name, f"{name}_std", f"{name}_values")
            for name in names}


class RunDir:
    """One run directory; every file name of the contract (module docstring) is a constant here."""

    CONFIG = "config.json"
    OPTIONS = "options.json"
    DATASET = "dataset.json"
    ENVIRONMENT = "environment.json"
    STATS = "stats.jsonl"
    SUMMARY = "summary.json"
    METRICS = "metrics.jsonl"
    CHECKPOINT = "checkpoint.pt"
    CHECKPOINT_RECORD = "checkpoint.json"
    SNAPSHOTS = "snapshots"
    SNAPSHOT_SUFFIX = ".safetensors"
    FIGURES = "figures"
    SAMPLES = "samples.png"  # in figures/: the sample grid of the lowest-FID snapshot
    SAMPLES_FIRST = "samples_first.png"  # the same latents at the first snapshot
    FEATURE_MAPS = "feature_maps.npy"  # Figure 1's view of droplets at the lowest-FID snapshot
    LOCK = LOCK_FILE
    PPL_DISTANCES_PATTERN = "ppl_distances_*.npy"
    # A folder holding any of these is a run directory.
    MARKERS = (CONFIG, OPTIONS, SUMMARY, STATS, METRICS)
    # What training and measuring write besides the metadata (removed when a run starts afresh).
    OUTPUTS = (STATS, SUMMARY, CHECKPOINT, CHECKPOINT_RECORD, METRICS, SNAPSHOTS, FIGURES)

    def __init__(self, path: "Path | str | RunDir"):
        self.path = Path(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RunDir) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    # Files ------------------------------------------------------------------------------------

    def file(self, name: str) -> Path:
        """`<run>/<name>` for one of the contract's names (the class constants)."""
        return self.path / name

    @property
    def summary_path(self) -> Path:
        return self.path / self.SUMMARY

    @property
    def stats_path(self) -> Path:
        return self.path / self.STATS

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    @property
    def checkpoint_path(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def checkpoint_record_path(self) -> Path:
        return self.path / self.CHECKPOINT_RECORD

    @property
    def snapshots_dir(self) -> Path:
        return self.path / self.SNAPSHOTS

    @property
    def figures_dir(self) -> Path:
        return self.path / self.FIGURES

    def figure(self, name: str) -> Path:
        """`<run>/figures/<name>` (SAMPLES, SAMPLES_FIRST, FEATURE_MAPS)."""
        return self.figures_dir / name

    def is_run(self) -> bool:
        """Whether the folder holds any file of a run (MARKERS)."""
        return self.path.is_dir() and any((self.path / marker).exists() for marker in self.MARKERS)

    def read_json(self, name: str) -> dict:
        """The JSON object in `<run>/<name>`, {} when absent; CorruptFileError (naming it) when damaged."""
        path = self.path / name
        return read_json_object(path) if path.exists() else {}

    def write_json(self, name: str, record: dict) -> Path:
        return write_json_atomic(self.path / name, record)

    def summary(self) -> dict:
        return self.read_json(self.SUMMARY)

    def write_summary(self, summary: dict) -> Path:
        return self.write_json(self.SUMMARY, summary)

    def remove_orphan_temporaries(self) -> list[Path]:
        """Temporary files of interrupted writes, removed (only while holding the lock)."""
        return remove_orphan_temporaries(self.path)

    # State ------------------------------------------------------------------------------------

    def is_done(self) -> bool:
        """Whether summary.json (written last by training) says done: true."""
        return self.summary().get("done") is True

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.exists()

    def state(self) -> RunState:
        if self.is_done():
            return RunState.DONE
        return RunState.RESUMABLE if self.has_checkpoint() else RunState.FRESH

    def images_shown(self) -> float:
        """Training images the run has seen: summary.json's count, else the last tick's kimg * 1000."""
        summary = self.summary()
        if summary.get("images_shown") is not None:
            return float(summary["images_shown"])
        if summary.get("kimg") is not None:
            return float(summary["kimg"]) * 1000
        kimgs = [tick["kimg"] for tick in self.stats() if isinstance(tick.get("kimg"), int | float)]
        return max(kimgs, default=0.0) * 1000

    # Stats ------------------------------------------------------------------------------------

    def stats(self) -> list[dict]:
        """The tick records of stats.jsonl ([] when there is none)."""
        return read_jsonl(self.stats_path) if self.stats_path.exists() else []

    def append_stats(self, record: dict) -> None:
        append_jsonl_line(self.stats_path, record)

    def truncate_stats(self, images_shown: int) -> None:
        """Drop stats lines written after the checkpoint a resumed run continues from."""
        if self.stats_path.exists():
            kept = [row for row in self.stats() if row["images_shown"] <= images_shown]
            write_jsonl_atomic(self.stats_path, kept)

    # Snapshots --------------------------------------------------------------------------------

    def snapshot_path(self, images_shown: int) -> Path:
        """`snapshots/<images:06d>` (without suffix): the name is kimg * 1000, so 0.5 kimg -> 000500."""
        return self.snapshots_dir / f"{images_shown:06d}"

    def snapshot_at(self, kimg: float) -> Path:
        return self.snapshot_path(round(kimg * 1000))

    def snapshot_images(self) -> list[int]:
        """Images shown at each saved snapshot, ascending."""
        return sorted(int(path.stem) for path in self.snapshots_dir.glob(f"*{self.SNAPSHOT_SUFFIX}")
                      if path.stem.isdigit())

    def snapshot_kimgs(self) -> list[float]:
        return [images / 1000 for images in self.snapshot_images()]

    def find_snapshot(self, kimg: float | None = None) -> tuple[float, Path]:
        """(kimg, path without suffix) of the latest snapshot, or of the one at `kimg`."""
        shown = self.snapshot_images()
        if not shown:
            raise FileNotFoundError(f"no snapshots in {self.snapshots_dir} (train the run first)")
        images = shown[-1] if kimg is None else round(kimg * 1000)
        if images not in shown:
            raise ValueError(f"snapshot {kimg} kimg not in {self.snapshots_dir}; available (kimg): "
                             f"{[n / 1000 for n in shown]}")
        return images / 1000, self.snapshot_path(images)

    def snapshot_files_after(self, images_shown: int) -> list[Path]:
        """Every file of the snapshots written after `images_shown` (weights and their records)."""
        return [path for path in self.snapshots_dir.glob("*.*")
                if path.stem.isdigit() and int(path.stem) > images_shown]

    def best_snapshot_kimg(self) -> float | None:
        """The snapshot the run reports (lowest_fid_snapshot of its rows), else its latest snapshot."""
        best = lowest_fid_snapshot(self.metric_rows())
        if best is not None:
            return best
        kimgs = self.snapshot_kimgs()
        return kimgs[-1] if kimgs else None

    # Metric rows ------------------------------------------------------------------------------

    def raw_metric_rows(self) -> list[dict]:
        """Every line of metrics.jsonl, repeats of a key included ([] when there is none)."""
        return read_jsonl(self.metrics_path) if self.metrics_path.exists() else []

    def metric_rows(self) -> list[dict]:
        """One row per key (harness.metrics.rows.unique_rows): what readers count."""
        from harness.metrics.rows import unique_rows  # lazy: the harness.metrics package loads torch

        return unique_rows(self.raw_metric_rows())

    def write_metric_rows(self, rows: list[dict]) -> None:
        """Replace metrics.jsonl with `rows`, atomically (merging stores)."""
        write_jsonl_atomic(self.metrics_path, rows)

    def metric_store(self, log: Callable[[str], None] = print):
        """The keyed store that adds rows one at a time (harness.metrics.rows.MetricStore)."""
        from harness.metrics.rows import MetricStore

        return MetricStore(self.path, log=log)

    def ppl_distances_name(self, images_shown: int, stamp: str) -> str:
        """File name of a PPL row's per-sample distances (the row names it in `distances_file`)."""
        return f"ppl_distances_{images_shown:06d}_{stamp}.npy"

    def ppl_distances_files(self) -> list[Path]:
        return sorted(self.path.glob(self.PPL_DISTANCES_PATTERN))

    # Outputs ----------------------------------------------------------------------------------

    def outputs(self) -> list[Path]:
        """The files and folders training and measuring wrote (OUTPUTS and PPL distances) that exist."""
        found = [self.path / name for name in self.OUTPUTS if (self.path / name).exists()]
        return found + self.ppl_distances_files()

    def describe_outputs(self) -> list[str]:
        """What the run holds besides its metadata, in words ("3 snapshot(s) (0.5-1.5 kimg)")."""
        found = [name for name in (self.CHECKPOINT, self.SUMMARY) if (self.path / name).exists()]
        kimgs = self.snapshot_kimgs()
        if kimgs:
            found.append(f"{len(kimgs)} snapshot(s) ({kimgs[0]:g}-{kimgs[-1]:g} kimg)")
        for name, what in ((self.STATS, "stats line(s)"), (self.METRICS, "metric row(s)")):
            if (self.path / name).exists():
                found.append(f"{_count_lines(self.path / name)} {what} in {name}")
        return found + [path.name for path in self.ppl_distances_files()]

    # Lock -------------------------------------------------------------------------------------

    def lock(self) -> contextlib.AbstractContextManager[Path]:
        """Hold the run's lock for a `with` block (run_lock)."""
        return run_lock(self.path)

    def lock_owner(self) -> str | None:
        return lock_owner(self.path)


def _count_lines(path: Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip())
