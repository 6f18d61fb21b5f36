"""A small synthetic results store in the runner's format (docs/architecture.md), for the loader,
findings and report tests. Numbers are made up but chosen so that the findings they touch come out
as the comments say; one run id and one dataset name carry HTML to test escaping."""

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

XSS_DATASET = "<script>alert(1)</script>"
XSS_RUN_ID = "A-large__<img src=x onerror=alert(2)>"
FEATURE_NETWORK = "efficientnet-lite0"
FFHQ_SOURCE = "openmoji:smileys-emotion"

# config name -> (g_arch, d_arch, style_block, growing, r1_interval, pl_weight)
CONFIGS = {
    "A": ("original", "original", "adain", True, 1, 0.0),
    "B": ("original", "original", "demod", True, 1, 0.0),
    "C": ("original", "original", "demod", True, 16, 0.0),
    "D": ("original", "original", "demod", True, 16, 2.0),
    "E": ("skip", "residual", "demod", False, 16, 2.0),
    "F": ("skip", "residual", "demod", False, 16, 2.0),
    "A-large": ("original", "original", "adain", True, 1, 0.0),
    "G-original/D-original": ("original", "original", "demod", False, 16, 2.0),
}


def png_bytes(seed: int, size: int = 16) -> bytes:
    """A small random RGB PNG."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def config_record(name: str) -> dict:
    g_arch, d_arch, style_block, growing, r1_interval, pl_weight = CONFIGS[name]
    return dict(
        name=name, g_arch=g_arch, d_arch=d_arch, style_block=style_block, growing=growing, resolution=16,
        width_multiplier=0.0625, fmap_base=32768 if name in ("F", "A-large") else 16384,
        r1_interval=r1_interval, pl_weight=pl_weight, adam_betas=[0.0, 0.99],
        r1_gamma=10 * (16 / 1024) ** 2,  # as the suites scale a non-growing config's (Scale.r1_gamma_factor)
    )


def metric_row(metric: str, value: float, snapshot_kimg: float, **extra) -> dict:
    row = dict(
        metric=metric, value=value, std=extra.pop("std", 0.1), repeats=2, values=None, num_samples=64,
        seeds=[0, 1], snapshot_kimg=snapshot_kimg, feature_network=FEATURE_NETWORK, weights_sha256="ab" * 32,
        feature_input_size=64, comparable_to_published=False, time="2024-01-01T00:00:00", seconds=1.0,
    )
    row.update(extra)
    return row


def write_lines(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def write_run(
    run_dir: Path, config: str, *, metrics=(), ticks=(), summary: dict | None = None,
    dataset: str = FFHQ_SOURCE, feature_maps: np.ndarray | None = None, samples: bool = True,
) -> Path:
    """Write a run directory; `summary=None` leaves the run unfinished (no summary.json)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(config_record(config)))
    (run_dir / "options.json").write_text(json.dumps(dict(data=dataset, kimg=3, seed=0)))
    (run_dir / "dataset.json").write_text(json.dumps(dict(
        name=dataset, source=dataset, resolution=16, num_images=120, num_skipped=0, content_hash="c0ffee",
        licence="CC BY-SA 4.0", attribution="OpenMoji, the open-source emoji and icon project",
    )))
    (run_dir / "environment.json").write_text(json.dumps(dict(
        time_utc="2024-01-01T00:00:00+00:00", host="fixture-host", python="3.11.2",
        accelerator=dict(device="cpu", name="x86_64", cuda_version=None),
        git=dict(commit="0123456789abcdef", dirty=False), packages=dict(torch="2.13.0", numpy="2.4.6"),
    )))
    write_lines(run_dir / "stats.jsonl", list(ticks))
    if metrics:
        write_lines(run_dir / "metrics.jsonl", list(metrics))
    if summary is not None:
        (run_dir / "summary.json").write_text(json.dumps(summary))
    if samples:  # the lowest-FID snapshot's grid and the first snapshot's
        (run_dir / "figures").mkdir(exist_ok=True)
        (run_dir / "figures" / "samples.png").write_bytes(png_bytes(len(config)))
        (run_dir / "figures" / "samples_first.png").write_bytes(png_bytes(len(config) + 50))
    if feature_maps is not None:
        (run_dir / "figures").mkdir(exist_ok=True)
        np.save(run_dir / "figures" / "feature_maps.npy", feature_maps.astype(np.float32))
    return run_dir


def ticks_for(img_per_s: float, droplet: float, top_shares=None, shares_key="fig8") -> list[dict]:
    """Three ticks at 1, 2, 3 kimg in harness.train's format; `top_shares` gives the 16x16 share per
    tick (skip G only) under `shares_key` ('fig8' as harness.train writes, or the contract's
    'fig8_shares')."""
    rows = []
    for index, kimg in enumerate((1.0, 2.0, 3.0)):
        tick = {
            "tick": index + 1, "kimg": kimg, "images_shown": int(kimg * 1000), "img_per_s": img_per_s,
            "img_per_s/G_main": 2 * img_per_s, "img_per_s/G_reg": None, "loss/G": 0.7, "loss/D": 1.2,
            "energy_j/gpu": None, "energy_j/cpu": 1000.0, "droplet": droplet, "fig8": None,
        }
        if top_shares is not None:
            top = top_shares[index]
            tick[shares_key] = {"4": (1 - top) * 0.6, "8": (1 - top) * 0.4, "16": top}
        rows.append(tick)
    return rows


def summary_for(img_per_s: float, cpu_energy_j: float | None = 3000.0) -> dict:
    """summary.json as harness.train writes it on a CPU-only machine (GPU energy not available)."""
    return {
        "done": True, "images_shown": 3000, "kimg": 3.0, "wall_s": 3000 / img_per_s, "img_per_s": img_per_s,
        "energy_j": None, "energy_source": "not available: no CUDA device", "energy_j/cpu": cpu_energy_j,
        "energy_source/cpu": "rapl", "peak_gpu_mem_bytes": None, "peak_rss_bytes": 2**20,
    }


# config -> (FID at the best snapshot 2.0, precision, recall, PPL, img/s, droplet, Figure 8 top shares)
TABLE1_NUMBERS = {
    "A": (40.0, 0.60, 0.30, 300.0, 100.0, 0.30, None),
    "B": (41.0, 0.55, 0.35, 250.0, 95.0, 0.05, None),
    "C": (40.5, 0.56, 0.34, 240.0, 120.0, 0.05, None),
    "D": (39.0, 0.57, 0.33, 150.0, 110.0, 0.06, None),
    "E": (35.0, 0.58, 0.36, 140.0, 150.0, 0.04, (0.10, 0.20, 0.30)),
    "F": (30.0, 0.57, 0.40, 160.0, 90.0, 0.04, (0.12, 0.30, 0.45)),
}


@dataclass(frozen=True, kw_only=True)
class FixtureTree:
    root: Path
    run_folders: dict  # config -> run folder relative to root


def _table1_metrics(fid: float, precision: float, recall: float, ppl: float) -> list[dict]:
    # FID is lowest at snapshot 2.0 (not the latest); a better-looking pr row at 3.0 must be ignored.
    return [
        metric_row("fid", fid + 10, 1.0), metric_row("fid", fid, 2.0, values=[fid - 0.1, fid + 0.1]),
        metric_row("fid", fid + 5, 3.0),
        metric_row("kid", 0.01, 2.0),
        metric_row("pr", precision, 2.0, precision=precision, recall=recall, std=None),
        metric_row("pr", 0.99, 3.0, precision=0.99, recall=0.99, std=None),
        metric_row("ppl", ppl, 2.0, std=ppl / 20, distances_file="ppl_distances.npy"),
    ]


def build_fixture_tree(root: Path) -> FixtureTree:
    """Suites table1 (A-F, A-large on FFHQ), table2 (two cells, one shared with E; no pair the paper
    compares, so finding 5 is not measured), table3 (one cell whose run was never trained) and
    figure8 (E, F); a real-image grid; HTML in one run id and one dataset name. The numbers follow
    the paper's directions except A -> B FID (up 2.5%, the paper's is about equal)."""
    root = Path(root)
    folders = {}
    for config, (fid, precision, recall, ppl, speed, droplet, shares) in TABLE1_NUMBERS.items():
        folder = f"table1/{config}__ffhq"
        run_dir = write_run(
            root / folder, config, metrics=_table1_metrics(fid, precision, recall, ppl),
            ticks=ticks_for(speed, droplet, shares, "fig8_shares" if config == "F" else "fig8"),
            summary=summary_for(speed),
            feature_maps=np.random.default_rng(0).random((2, 8, 8)) if config in ("A", "B") else None,
        )
        distances = np.random.default_rng(len(config)).gamma(4.0, ppl / 4.0, size=200)
        np.save(run_dir / "ppl_distances.npy", distances.astype(np.float32))
        folders[config] = folder
    folders["A-large"] = f"table1/{XSS_RUN_ID}"
    write_run(root / folders["A-large"], "A-large", metrics=[metric_row("fid", 38.0, 3.0)],
              ticks=ticks_for(80.0, 0.25), summary=None, dataset=XSS_DATASET)
    folders["G-original/D-original"] = "table2/G-original_D-original__ffhq"
    write_run(root / folders["G-original/D-original"], "G-original/D-original",
              metrics=[metric_row("fid", 37.0, 3.0), metric_row("ppl", 200.0, 3.0)],
              ticks=ticks_for(140.0, 0.05), summary=summary_for(140.0))
    (root / "table1" / "reals__ffhq.png").write_bytes(png_bytes(99))
    _write_suites(root, folders)
    return FixtureTree(root=root, run_folders=folders)


def _cell(table, row, column, config, folder, dataset=FFHQ_SOURCE, paper_dataset="FFHQ") -> dict:
    return dict(table=table, row=row, column=column, paper_dataset=paper_dataset, config=config,
                dataset=dataset, run=folder)


FFHQ_MIRROR_NOTE = "trained with x-flips; the metrics use the reals unmirrored"


def _write_suites(root: Path, folders: dict) -> None:
    scale_values = dict(name="smoke", resolution=16, kimg=3, batch_size=8, repeats=2)
    suites = {
        "table1": [_cell("table1", config, "FFHQ", config, folders[config]) for config in TABLE1_NUMBERS]
        + [_cell("table1", "A-large", "FFHQ", "A-large", folders["A-large"], dataset=XSS_DATASET)],
        "table2": [
            _cell("table2", "G output skips", "FFHQ / D residual", "E", folders["E"]),
            _cell("table2", "G original", "FFHQ / D original", "G-original/D-original",
                  folders["G-original/D-original"]),
        ],
        "table3": [_cell("table3", "StyleGAN", "LSUN Car", "A", "table3/A__lsun-car",
                         dataset="openmoji:travel-places", paper_dataset="LSUN Car")],
        "figure8": [_cell("figure8", "(a) config E", "FFHQ", "E", folders["E"]),
                    _cell("figure8", "(b) config F", "FFHQ", "F", folders["F"])],
    }
    for suite, cells in suites.items():
        (root / suite).mkdir(parents=True, exist_ok=True)
        (root / suite / "suite.json").write_text(json.dumps(dict(
            suite=suite, description=f"fixture {suite}", scale="smoke", scale_values=scale_values,
            cells=cells, dataset_settings={"FFHQ": {"xflip": True, "note": FFHQ_MIRROR_NOTE},
                                           "LSUN Car": {"xflip": False}},
        )))


def write_untrained_store(root: Path) -> None:
    """A store whose one suite cell points to a run that was never trained."""
    (root / "table1").mkdir(parents=True)
    cell = _cell("table1", "A", "FFHQ", "A", "table1/A__ffhq", dataset="openmoji")
    suite = {"suite": "table1", "scale": "smoke", "cells": [cell]}
    (root / "table1/suite.json").write_text(json.dumps(suite))


# ---- a store in the seeded format: one suite.json entry per (cell, training seed), speed.json ----

def write_seeded_store(root: Path, values: dict, *, speed: dict | None = None, eval_std: float = 0.1) -> None:
    """Suite table1 with one run per (config, seed) under `table1/<config>__ffhq__seed<k>`.

    values: {config: {metric: [one value per seed]}} for fid / ppl / precision / recall / droplet;
    each metric row gets std `eval_std`; speed: img/s per round per config, written to speed.json.
    """
    cells = []
    for config, metrics in values.items():
        seeds = len(next(iter(metrics.values())))
        for seed in range(seeds):
            folder = f"table1/{config}__ffhq__seed{seed}"
            rows = [metric_row(metric, metrics[metric][seed], 2.0, std=eval_std)
                    for metric in ("fid", "ppl") if metric in metrics]
            if "precision" in metrics:
                precision, recall = metrics["precision"][seed], metrics["recall"][seed]
                rows.append(metric_row("pr", precision, 2.0, precision=precision, recall=recall,
                                       precision_std=eval_std, recall_std=eval_std))
            ticks = ticks_for(100.0, metrics.get("droplet", [0.1] * seeds)[seed])
            write_run(root / folder, config, metrics=rows, ticks=ticks, summary=summary_for(100.0))
            cells.append(dict(_cell("table1", config, "FFHQ", config, folder), seed=seed))
    (root / "table1").mkdir(parents=True, exist_ok=True)
    (root / "table1" / "suite.json").write_text(json.dumps(dict(
        suite="table1", scale="cpu", seeds=max(cell["seed"] for cell in cells) + 1, cells=cells,
        evaluations={"table1": 2}, evaluations_source={"table1": "fixture"},
    )))
    if speed is not None:
        (root / "speed.json").write_text(json.dumps(dict(
            method="interleaved rounds", device="cpu (fixture)", threads=2, dataset="fixture", resolution=16,
            batch_size=8, rounds=len(next(iter(speed.values()))), steps_per_round=16, img_per_s=speed,
            written="2024-01-01T00:00:00",
        )))
