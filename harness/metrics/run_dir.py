"""Evaluate a run directory's snapshot and keep its rows in the run's keyed store (`<run>/metrics.jsonl`).

Before any work: the snapshot is found, the run folder (and the feature cache) are checked writable,
and each metric's row key (rows.metric_row_key) is planned; a key already in the store is skipped
(said in the log) unless `recompute=True`, which replaces the stored row. Rows are written one by one
under the store's lock, so two `metrics` processes on one run never write a key twice. Under torchrun
every rank computes its share; rank 0 decides what to skip and writes.
"""

import io
import os
from pathlib import Path

import numpy as np
import torch

from common.io import write_bytes_atomic
from harness.metrics import cache
from harness.metrics.evaluate import Evaluator, check_metrics
from harness.metrics.metric import get_metric
from harness.metrics.options import MetricOptions
from harness.metrics.rows import MetricStore, metric_row_key
from harness.rundir import RunDir


def _load_generator(path: Path):
    import variants

    return variants.load_network(path)


def _open_run_dataset(run_dir: Path, open_dataset=None):
    """The run's real images: `data` from options.json at `resolution` from config.json."""
    if open_dataset is None:
        from harness.data import open_dataset
    run = RunDir(run_dir)
    return open_dataset(run.read_json(RunDir.OPTIONS)["data"], run.read_json(RunDir.CONFIG)["resolution"])


def _save_distances(run_dir: Path, row: dict) -> None:
    """Write a PPL row's per-sample distances [repeats, N] as .npy beside metrics.jsonl, named in the row."""
    stamp = row["time"].replace(":", "").replace("-", "").split(".")[0]
    kimg, name = round(row["snapshot_kimg"] * 1000), None
    # a recompute within the same second must not reuse (and then delete) the old file
    for suffix in ("", *(f"-{n}" for n in range(1, 1000))):
        name = RunDir(run_dir).ppl_distances_name(kimg, stamp + suffix)
        if not (run_dir / name).exists():
            break
    buffer = io.BytesIO()
    np.save(buffer, row.pop("per_sample_distances").astype(np.float32), allow_pickle=False)
    write_bytes_atomic(run_dir / name, buffer.getvalue())
    row["distances_file"] = name


def compute(
    run_dir, metrics=("fid",), options: MetricOptions | None = None, *, snapshot: float | None = None,
    recompute: bool = False, log=print, load_generator=None, open_dataset=None,
) -> list[dict]:
    """Evaluate `metrics` (registered names, e.g. 'fid', 'kid', 'pr', 'ppl'; a list or 'fid,kid') on
    the run's G_ema snapshot (latest, or `snapshot` kimg) and add one row per metric to
    `<run>/metrics.jsonl`; returns the rows in the order asked (a row already stored, and so skipped,
    is returned as stored).

    `options`: how to evaluate (default MetricOptions(device='auto'); device 'auto' is cuda when
    available). `recompute=True` replaces stored rows of the same key. `load_generator(path)` and
    `open_dataset(source, resolution)` replace variants.load_network and harness.data.open_dataset
    (tests).
    """
    from harness.distributed import process_group

    run_dir = Path(run_dir)
    metrics = check_metrics([m.strip() for m in metrics.split(",") if m.strip()]
                            if isinstance(metrics, str) else metrics)
    kimg, snapshot_path = RunDir(run_dir).find_snapshot(snapshot)
    store, is_rank0 = RunDir(run_dir).metric_store(log), os.environ.get("RANK", "0") == "0"
    if is_rank0:
        store.require_writable()  # before any work: a read-only run folder fails here, in one line
    options = (options or MetricOptions(device="auto")).on_device()
    with process_group(torch.device(options.device)) as dist:
        options = options.replace(device=str(dist.device), progress=options.progress and dist.is_main)
        dataset = _open_run_dataset(run_dir, open_dataset)
        dataset_hash = getattr(getattr(dataset, "info", None), "content_hash", None)
        if dataset_hash is not None and is_rank0 and not all(get_metric(m).perceptual for m in metrics):
            cache.require_writable(options.cache_dir)
        evaluator = Evaluator(None, dataset, options, metrics)
        run_fields = {"snapshot_kimg": kimg, "dataset_hash": dataset_hash}
        planned = {m: {**evaluator.planned(m), **run_fields} for m in metrics}
        rows = _stored_rows(store, planned, dist) if not recompute else {}
        for metric in rows:
            log(f"metrics: {metric} @ {kimg:g} kimg is already in {store.path} (same protocol); skipped "
                f"(--recompute replaces it)")
        todo = [m for m in metrics if m not in rows]
        if todo:
            G = (load_generator or _load_generator)(snapshot_path)
            evaluator.G = G.eval().requires_grad_(False).to(options.device)
        for metric in todo:
            rows[metric] = {**evaluator.evaluate(metric), **run_fields}
            if dist.is_main:
                _write(store, run_dir, rows[metric], recompute)
        dist.barrier("writing the metrics")  # no rank reads metrics.jsonl before rank 0 has written it
    return [rows[m] for m in metrics]


def _stored_rows(store: MetricStore, planned: dict[str, dict], dist) -> dict[str, dict]:
    """metric -> its stored row, for the planned rows whose key is in the store. Rank 0 decides; the
    other ranks read the (shared) store too, keeping the planned row where theirs lacks it."""
    by_key = {metric_row_key(row): row for row in store.rows()} if store.path.exists() else {}
    found = {m for m, row in planned.items() if metric_row_key(row) in by_key}
    if dist.active:
        mask = dist.broadcast_(torch.tensor([float(m in found) for m in planned]))
        found = {m for m, flag in zip(planned, mask.tolist(), strict=True) if flag}
    return {m: by_key.get(metric_row_key(planned[m]), planned[m]) for m in planned if m in found}


def _write(store: MetricStore, run_dir: Path, row: dict, recompute: bool) -> None:
    """Add `row` to the store (its PPL distances file saved under the store's lock, only if written);
    files of rows it replaced are removed."""
    save = (lambda r: _save_distances(run_dir, r)) if "per_sample_distances" in row else None
    written, replaced = store.add(row, replace=recompute, before_write=save)
    row.pop("per_sample_distances", None)
    for old in replaced:
        if old.get("distances_file") and old["distances_file"] != row.get("distances_file"):
            (run_dir / old["distances_file"]).unlink(missing_ok=True)
