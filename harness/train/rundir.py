"""The run directory (docs/architecture.md): metadata files, stats lines, snapshots, summary."""

import json
from pathlib import Path

from harness.environment import collect_environment
from harness.io import append_jsonl_atomic, read_jsonl, write_json_atomic, write_jsonl_atomic
from harness.train.checkpoint import CHECKPOINT_NAME
from harness.train.options import TrainOptions

STATS_NAME = "stats.jsonl"
SUMMARY_NAME = "summary.json"
SNAPSHOT_DIR = "snapshots"
# Options that must match when a run is resumed (the budget and intervals may change).
RESUME_INVARIANTS = ("config", "data", "seed", "xflip", "growing_fraction")


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
    append_jsonl_atomic(run_dir / STATS_NAME, record)


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
