"""Evaluate a run directory's snapshot and keep its rows in the run's keyed store (`<run>/metrics.jsonl`).

Before any work: the snapshot is found, the run folder (and the feature cache) are checked writable,
and each metric's row key (rows.metric_row_key) is planned; a key already in the store is skipped
(said in the log) unless `recompute=True`, which replaces the stored row. Rows are written one by one
under the store's lock, so two `metrics` processes on one run never write a key twice. Under torchrun
every rank computes its share; rank 0 decides what to skip and writes.
"""

import io
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from common.io import write_bytes_atomic
from harness.metrics import cache
from harness.metrics.evaluate import (  # noqa: F401 (re-exported: the names callers import from here)
    APPROXIMATELY_COMPARABLE,
    NOT_COMPARABLE,
    SEED_SCHEME,
    Evaluator,
    check_metrics,
    evaluate,
    evaluate_many,
    generated_images,
    quantize,
)
from harness.metrics.options import (  # noqa: F401 (re-exported)
    DEFAULT_NUM_SAMPLES,
    FEATURE_CHOICES,
    METRICS,
    PUBLISHED_NETWORKS,
    MetricOptions,
    network_for,
)
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
    name = RunDir(run_dir).ppl_distances_name(round(row["snapshot_kimg"] * 1000), stamp)
    buffer = io.BytesIO()
    np.save(buffer, row.pop("per_sample_distances").astype(np.float32), allow_pickle=False)
    write_bytes_atomic(run_dir / name, buffer.getvalue())
    row["distances_file"] = name


def _options(options: MetricOptions | None, settings: dict, device: str, progress: bool) -> MetricOptions:
    """`options` (or MetricOptions(**settings)) on `device`; num_samples None means the default."""
    if options is None:
        settings = {**settings, "num_samples": settings["num_samples"] or DEFAULT_NUM_SAMPLES}
        options = MetricOptions(**settings)
    return replace(options, device=device, progress=progress)


def compute(
    run_dir, metrics=("fid",), *, snapshot: float | None = None, num_samples: int | None = None,
    repeats: int = 1, features: str = "auto", device: str | None = None, weights_dir: str | None = None,
    feature_input_size: int | None = None, num_real: int | str | None = None, seed: int = 0,
    batch_size: int = 32, cache_dir: str | None = None, progress: bool = False, kid_subsets: int = 100,
    pr_precision: str = "official", ppl_noise: str = "fresh", recompute: bool = False,
    options: MetricOptions | None = None, log=print, load_generator=None, open_dataset=None,
) -> list[dict]:
    """Evaluate `metrics` ('fid', 'kid', 'pr', 'ppl'; a list or 'fid,kid') on the run's G_ema snapshot
    (latest, or `snapshot` kimg) and add one row per metric to `<run>/metrics.jsonl`; returns the rows
    in the order asked (a row already stored, and so skipped, is returned as stored).

    The keyword arguments from num_samples to ppl_noise are MetricOptions fields (`num_real`: None =
    the first num_samples reals, an int, or 'all'; `pr_precision` defaults to 'official'); `options`
    replaces all of them at once. `recompute=True` replaces stored rows of the same key.
    `load_generator(path)` and `open_dataset(source, resolution)` replace variants.load_network and
    harness.data.open_dataset (tests).
    """
    from harness.train.distributed import process_group

    run_dir = Path(run_dir)
    metrics = check_metrics([m.strip() for m in metrics.split(",") if m.strip()]
                            if isinstance(metrics, str) else metrics)
    kimg, snapshot_path = RunDir(run_dir).find_snapshot(snapshot)
    store, is_rank0 = RunDir(run_dir).metric_store(log), os.environ.get("RANK", "0") == "0"
    if is_rank0:
        store.require_writable()  # before any work: a read-only run folder fails here, in one line
    settings = dict(num_samples=num_samples, repeats=repeats, features=features, weights_dir=weights_dir,
                    feature_input_size=feature_input_size, num_real=num_real, seed=seed,
                    batch_size=batch_size, cache_dir=cache_dir, kid_subsets=kid_subsets,
                    pr_precision=pr_precision, ppl_noise=ppl_noise)
    requested = device or (options.device if options else None)
    requested = torch.device(requested or ("cuda" if torch.cuda.is_available() else "cpu"))
    with process_group(requested) as dist:
        options = _options(options, settings, str(dist.device), progress and dist.is_main)
        dataset = _open_run_dataset(run_dir, open_dataset)
        dataset_hash = getattr(getattr(dataset, "info", None), "content_hash", None)
        if dataset_hash is not None and is_rank0 and any(m != "ppl" for m in metrics):
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
