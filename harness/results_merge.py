"""Merging results stores written on several machines (or by the suite executors' staging folders)
into one: runs copied or kept by how far they trained, metric rows and suite cells unioned."""

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common.io import read_json_object, write_json_atomic
from harness.results import find_run_dirs
from harness.rundir import RunDir


@dataclass(frozen=True, kw_only=True)
class MergeReport:
    """What `merge_results` did: run folders (relative to the store) and metric rows added."""

    copied_runs: tuple[str, ...]
    replaced_runs: tuple[str, ...]
    kept_runs: tuple[str, ...]
    metric_rows_added: int
    suites_written: tuple[str, ...]


def _run_rank(run_dir: Path) -> tuple[bool, float]:
    # A finished run beats an unfinished one; then the one that has seen more images.
    run = RunDir(run_dir)
    return run.is_done(), run.images_shown()


def _canonical(row: dict) -> str:
    return json.dumps(row, sort_keys=True)


def _union_metric_rows(kept: Path, other_rows: list[dict]) -> int:
    """Append to kept/metrics.jsonl the rows of `other_rows` it lacks; returns how many."""
    run = RunDir(kept)
    rows = run.raw_metric_rows()
    seen = {_canonical(row) for row in rows}
    added = [row for row in other_rows if _canonical(row) not in seen]
    added = list({_canonical(row): row for row in added}.values())
    if added:
        run.write_metric_rows(rows + added)
    return len(added)


def _replace_tree(source: Path, dest: Path) -> None:
    # Copy beside the destination first so that an interruption never leaves half a run.
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.merge-"))
    shutil.copytree(source, staging / "run")
    if dest.exists():
        retired = staging / "old"
        dest.rename(retired)
    (staging / "run").rename(dest)
    shutil.rmtree(staging)


def _merge_suite_json(source: Path, dest: Path) -> bool:
    """Union the cells of two suite.json files (dest's cell wins); True when dest changed."""
    incoming = read_json_object(source)
    if not dest.exists():
        write_json_atomic(dest, incoming)
        return True
    current = read_json_object(dest)
    if incoming.get("scale") != current.get("scale"):
        raise ValueError(
            f"cannot merge {source} (scale {incoming.get('scale')!r}) into {dest} (scale "
            f"{current.get('scale')!r}): runs of different scales are not comparable; merge into a "
            "separate results root instead"
        )
    # One entry per (cell, training seed); cells written before seeds existed are seed 0.
    key = lambda cell: (cell.get("table"), cell.get("row"), cell.get("column"), cell.get("seed", 0))
    known = {key(cell) for cell in current["cells"]}
    new_cells = [cell for cell in incoming["cells"] if key(cell) not in known]
    if not new_cells:
        return False
    write_json_atomic(dest, {**current, "cells": current["cells"] + new_cells})
    return True


def merge_results(src_roots, dest_root: Path | str) -> MergeReport:
    """Merge results stores written on several machines into `dest_root`.

    A run missing in dest is copied; where both have it, the finished one (then the one with more
    images shown) is kept, and the metrics rows of both are unioned without duplicates. Suite
    cells are unioned (a suite's scale must match); other suite files (real-image grids) are
    copied when missing.
    """
    dest_root = Path(dest_root)
    copied, replaced, kept, suites_written, rows_added = [], [], [], set(), 0
    for src_root in map(Path, src_roots):
        if not src_root.is_dir():
            raise ValueError(f"results root {src_root} does not exist")
        for suite_json in sorted(src_root.glob("*/suite.json")):
            dest_suite = dest_root / suite_json.parent.name
            if _merge_suite_json(suite_json, dest_suite / "suite.json"):
                suites_written.add(suite_json.parent.name)
            for extra in suite_json.parent.iterdir():
                if extra.is_file() and extra.name != "suite.json" and not (dest_suite / extra.name).exists():
                    shutil.copy2(extra, dest_suite / extra.name)
        for run_dir in find_run_dirs(src_root):
            name = run_dir.relative_to(src_root).as_posix()
            target = dest_root / name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                _replace_tree(run_dir, target)
                copied.append(name)
            elif _run_rank(run_dir) > _run_rank(target):
                previous_rows = RunDir(target).raw_metric_rows()
                _replace_tree(run_dir, target)
                rows_added += _union_metric_rows(target, previous_rows)
                replaced.append(name)
            else:
                rows_added += _union_metric_rows(target, RunDir(run_dir).raw_metric_rows())
                kept.append(name)
    return MergeReport(
        copied_runs=tuple(copied),
        replaced_runs=tuple(replaced),
        kept_runs=tuple(kept),
        metric_rows_added=rows_added,
        suites_written=tuple(sorted(suites_written)),
    )
