"""Training's use of the run directory: fresh starts after a dead attempt, refused resumes, orphan
files, non-finite networks, a second process refused (the lock itself: tests/harness/test_rundir.py)."""

import json
import signal
import socket
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

import variants
from common.io import append_jsonl_line, read_jsonl
from harness.cli import main as harness_main
from harness.rundir import RunDir
from harness.runlock import lock_owner
from harness.train import NonFiniteError, TrainOptions, train
from harness.train.rundir import RunDirError
from tests.harness.train.test_train_cli import train_args
from tests.harness.train.tiny import tiny_config, write_pngs

# Run directories across attempts ---------------------------------------------------------------

def tiny_options(tmp_path, data, **overrides):
    values = dict(config=tiny_config("E"), data=str(data), out=tmp_path / "run", kimg=0.032,
                  tick_kimg=0.008, snapshot_kimg=0.016, fig8_samples=8, droplet_samples=2,
                  cache_dir=tmp_path / "cache", progress="none", deterministic=True, threads=1)
    return TrainOptions(**{**values, **overrides})


def tree(run_dir):
    """Every file of a run directory -> its content: tensors for weights (safetensors writes its
    metadata in a random order), bytes otherwise; timing-dependent files and checksums left out."""
    skipped = {"stats.jsonl", "summary.json", "environment.json", "checkpoint.pt", "checkpoint.json",
               "options.json", RunDir.LOCK}
    content = {}
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file() or path.name in skipped:
            continue
        if path.suffix == ".safetensors":
            content[path.name] = {key: value.tolist() for key, value in load_file(path).items()}
        elif path.parent.name == "snapshots":
            content[path.name] = {**json.loads(path.read_text()), "sha256": None}
        else:
            content[path.name] = path.read_bytes()
    return content


def stats_images(run_dir):
    return [row["images_shown"] for row in read_jsonl(run_dir / "stats.jsonl")]


@pytest.mark.slow
def test_fresh_start_after_a_death_before_the_first_checkpoint_clears_the_leftovers(tmp_path, png_folder,
                                                                                     capsys):
    options = tiny_options(tmp_path, png_folder)
    clean = train(options.replace(out=tmp_path / "clean"))
    run_dir = train(options)
    for name in ("checkpoint.pt", "checkpoint.json", "summary.json"):  # as if killed before them
        (run_dir / name).unlink()
    append_jsonl_line(run_dir / "metrics.jsonl", {"metric": "fid", "snapshot_kimg": 0.016, "value": 1.0})
    capsys.readouterr()
    train(options)
    note = capsys.readouterr().out
    assert "earlier attempt was stopped before its first checkpoint" in note
    assert "2 snapshot(s) (0.016-0.032 kimg), 4 stats line(s) in stats.jsonl, 1 metric row(s)" in note
    assert stats_images(run_dir) == [8, 16, 24, 32]  # each tick once
    assert not (run_dir / "metrics.jsonl").exists()
    assert tree(run_dir) == tree(clean)


@pytest.mark.slow
def test_resume_without_checkpoint_refuses_to_replace_results(tmp_path, png_folder, capsys):
    options = tiny_options(tmp_path, png_folder)
    run_dir = train(options)
    (run_dir / "checkpoint.pt").unlink()  # a finished run kept without weights, as the committed example
    append_jsonl_line(run_dir / "metrics.jsonl", {"metric": "fid", "snapshot_kimg": 0.032, "value": 1.0})
    before = tree(run_dir) | {"summary.json": (run_dir / "summary.json").read_bytes()}
    for attempt in (options.replace(resume=True), options):
        expected = (r"summary.json, 2 snapshot\(s\) \(0.016-0.032 kimg\), 4 stats line\(s\) in stats.jsonl, "
                    r"1 metric row\(s\).*--force-restart")
        with pytest.raises(RunDirError, match=expected):
            train(attempt)
    assert tree(run_dir) | {"summary.json": (run_dir / "summary.json").read_bytes()} == before
    capsys.readouterr()
    train(options.replace(force_restart=True))
    assert "--force-restart: removed from" in capsys.readouterr().out
    assert not (run_dir / "metrics.jsonl").exists() and stats_images(run_dir) == [8, 16, 24, 32]


@pytest.mark.slow
def test_resume_refuses_a_changed_dataset_naming_both_hashes(tmp_path):
    (tmp_path / "data").mkdir()
    data = write_pngs(tmp_path / "data")
    options = tiny_options(tmp_path, data, kimg=0.016)
    run_dir = train(options)
    recorded = json.loads((run_dir / "dataset.json").read_text())["content_hash"]
    write_pngs(data, seed=1)  # new pixels under the same path
    with pytest.raises(RunDirError, match=rf"now has content hash [0-9a-f]{{16}}\.\.\., but the run was "
                                          rf"trained on {recorded[:16]}\.\.\. \(dataset.json\)"):
        train(options.replace(kimg=0.032, resume=True))
    assert json.loads((run_dir / "dataset.json").read_text())["content_hash"] == recorded


@pytest.mark.slow
def test_resume_removes_orphan_temporaries_and_later_snapshots(tmp_path, png_folder, capsys):
    options = tiny_options(tmp_path, png_folder, kimg=0.016, snapshot_kimg=0.008)
    run_dir = train(options)
    orphans = [run_dir / ".checkpoint.pt.k3j2.tmp", run_dir / "snapshots" / ".000016.json.x9.tmp"]
    for path in orphans:
        path.write_bytes(b"half")
    later = run_dir / "snapshots" / "000024.safetensors"  # written after the checkpoint, then killed
    later.write_bytes(b"x")
    capsys.readouterr()
    train(options.replace(kimg=0.032, resume=True))
    out = capsys.readouterr().out
    assert "removed 2 temporary file(s) of interrupted writes" in out and "000024" in out
    assert not any(path.exists() for path in orphans)
    assert variants.load_network(later.with_suffix(""))  # redone by training, checksum and all
    assert stats_images(run_dir) == [8, 16, 24, 32]


@pytest.mark.slow
def test_non_finite_g_ema_stops_the_run_before_anything_is_saved(tmp_path, png_folder):
    config = tiny_config("E")
    # past Config's finite check: poisons G_ema's average
    object.__setattr__(config, "ema_kimg", float("nan"))
    options = tiny_options(tmp_path, png_folder, config=config)
    with pytest.raises(NonFiniteError, match=r"G_ema has \d+ non-finite weight\(s\) after 16 images .*no "
                                             r"checkpoint had been written yet"):
        train(options)
    assert not (options.out_dir / "snapshots").exists() and not (options.out_dir / "summary.json").exists()


@pytest.mark.slow
def test_second_train_process_on_a_run_is_refused_and_writes_nothing(tmp_path, png_folder, capsys):
    run_dir = tmp_path / "run"
    args = train_args(tmp_path, png_folder, "--kimg", "100")
    first = subprocess.Popen([sys.executable, "-m", "harness", *args])
    try:
        deadline = time.monotonic() + 120
        # until the first process has written who it is, not only taken the lock (a loaded machine
        # can show the window between the two)
        while not (lock_owner(run_dir) or "").startswith("process ") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert harness_main(args) == 2  # this process is the second one
        owner = json.loads((run_dir / RunDir.LOCK).read_text())
        assert capsys.readouterr().err.strip() == (
            f"train: error: {run_dir} is in use by process {first.pid} on {socket.gethostname()} since "
            f"{owner['since']} ({owner['command']}); wait for it to finish (or stop that process) and "
            f"run the same command again")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    images = stats_images(run_dir) if (run_dir / "stats.jsonl").exists() else []
    assert images == sorted(set(images))  # one writer: every tick once
