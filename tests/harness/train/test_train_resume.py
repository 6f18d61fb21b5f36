"""A run killed with SIGKILL after a checkpoint and resumed ends bit-identical to an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from harness.data import open_dataset

REPO_ROOT = Path(__file__).resolve().parents[3]
KIMG = 0.1  # 25 minibatches of 4; a checkpoint every 5


def train_command(png_folder, out, cache, *extra):
    return [sys.executable, "-m", "harness", "train", "--config", "E", "--data", str(png_folder),
            "--kimg", str(KIMG), "--out", str(out), "--resolution", "16", "--width-multiplier", "0.03125",
            "--batch-size", "4", "--impl", "ref", "--set", "mapping_layers=2", "--set", "z_dim=32",
            "--set", "w_dim=32", "--set", "mapping_width=32", "--set", "ema_kimg=0.01",
            "--tick-kimg", "0.02", "--snapshot-kimg", "0.05", "--checkpoint-kimg", "0.02",
            "--fig8-samples", "8", "--deterministic", "--threads", "1", "--device", "cpu",
            "--cache-dir", str(cache), "--progress", "none", "--seed", "7", *extra]


def environment():
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1", "CI": "1"}


def assert_bit_identical(left, right, where="state"):
    if isinstance(left, torch.Tensor):
        assert left.dtype == right.dtype and torch.equal(left, right), where
    elif isinstance(left, dict):
        assert left.keys() == right.keys(), where
        for key in left:
            assert_bit_identical(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, list | tuple):
        assert len(left) == len(right), where
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            assert_bit_identical(a, b, f"{where}[{index}]")
    else:
        assert left == right, where


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(tmp_path, png_folder):
    cache = tmp_path / "cache"
    open_dataset(str(png_folder), 16, cache_dir=cache)  # fill the cache both runs read
    whole_run = subprocess.Popen(train_command(png_folder, tmp_path / "whole", cache), env=environment(),
                                 cwd=REPO_ROOT)
    killed_dir = tmp_path / "killed"
    process = subprocess.Popen(train_command(png_folder, killed_dir, cache), env=environment(), cwd=REPO_ROOT)
    deadline = time.monotonic() + 120
    while (not (killed_dir / "checkpoint.pt").exists() and process.poll() is None
           and time.monotonic() < deadline):
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    interrupted_at = torch.load(killed_dir / "checkpoint.pt", weights_only=True)["images_shown"]
    assert 0 < interrupted_at < KIMG * 1000
    assert not (killed_dir / "summary.json").exists()

    subprocess.run(train_command(png_folder, killed_dir, cache, "--resume"), env=environment(), check=True,
                   cwd=REPO_ROOT, timeout=300)
    assert whole_run.wait(timeout=300) == 0
    whole = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)
    resumed = torch.load(killed_dir / "checkpoint.pt", weights_only=True)
    for key in ("G", "G_ema", "D", "opt_G", "opt_D", "pl_mean", "rng", "images_shown", "step", "growth"):
        assert_bit_identical(whole[key], resumed[key], key)
    summary = json.loads((killed_dir / "summary.json").read_text())
    assert summary["done"] and summary["images_shown"] == 100 and summary["resumes"] == 1
    stats = [json.loads(line) for line in (killed_dir / "stats.jsonl").read_text().splitlines()]
    assert [row["tick"] for row in stats] == list(range(5))
    assert [row["images_shown"] for row in stats] == list(range(20, 101, 20))
