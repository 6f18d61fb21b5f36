"""`python -m harness metrics`: argument parsing and the hand-off to compute()."""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from harness.metrics import cli
from harness.metrics.rows import read_rows, unique_rows


def _parse(argv):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_parses_the_documented_options():
    args = _parse(["--run", "runs/E", "--metrics", "fid,kid,pr,ppl", "--num-samples", "1000",
                   "--repeats", "10", "--features", "efficientnet-lite0", "--weights-dir", "/w",
                   "--snapshot", "0.5", "--device", "cpu", "--feature-input-size", "128"])
    assert args.metrics == ["fid", "kid", "pr", "ppl"] and args.repeats == 10 and args.snapshot == 0.5
    assert args.features == "efficientnet-lite0" and args.feature_input_size == 128
    assert args.weights_dir == "/w"
    assert _parse(["--run", "r"]).num_samples == 50_000  # paper scale by default


def test_rejects_unknown_metrics_and_networks(capsys):
    with pytest.raises(SystemExit):
        _parse(["--run", "r", "--metrics", "fid,is"])
    assert "unknown metric(s) ['is']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse(["--run", "r", "--features", "resnet"])


def test_run_computes_and_prints_one_line_per_metric(fake_run, fake_loaders, tmp_path, monkeypatch, capsys):
    load_generator, open_dataset, _ = fake_loaders
    real_compute = cli.compute
    monkeypatch.setattr(cli, "compute", lambda *a, **k: real_compute(
        *a, **k, load_generator=load_generator, open_dataset=open_dataset))
    args = _parse(["--run", str(fake_run), "--metrics", "fid,ppl", "--num-samples", "8",
                   "--features", "random", "--device", "cpu", "--cache-dir", str(tmp_path / "cache")])
    assert cli.run(args) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["metric"] for p in printed] == ["fid", "ppl"]
    assert all(p["label"] == "not comparable to published values" for p in printed)
    assert len((fake_run / "metrics.jsonl").read_text().splitlines()) == 2


def _image_folder_run(root):
    """A run directory as harness.train leaves it: a 16x16 config E snapshot and an image folder."""
    variants = pytest.importorskip("variants")
    from PIL import Image

    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for index in range(24):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(images / f"{index:03d}.png")
    run = root / "run"
    (run / "snapshots").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"resolution": 16}))
    (run / "options.json").write_text(json.dumps({"data": str(images)}))
    G = variants.build_generator(variants.get_config("E", resolution=16, width_multiplier=1 / 32))
    variants.save_network(run / "snapshots" / "001000", G)
    return run


@pytest.mark.slow
def test_two_metrics_processes_on_one_run_write_each_key_once(tmp_path):
    run = _image_folder_run(tmp_path)
    env = {**os.environ, "HARNESS_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    from harness.data import open_dataset

    open_dataset(run.parent / "images", 16, cache_dir=tmp_path / "cache")  # decoded once, before the race
    command = [sys.executable, "-m", "harness", "metrics", "--run", str(run), "--metrics", "fid,kid,pr,ppl",
               "--num-samples", "16", "--features", "random", "--device", "cpu", "--batch-size", "8"]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    rows = read_rows(run / "metrics.jsonl")
    assert sorted(row["metric"] for row in rows) == ["fid", "kid", "ppl", "pr"]  # each key once
    assert unique_rows(rows) == rows
    logs = "".join(stderr for _, stderr in outputs)
    assert logs.count("already in") == 4  # the second process skipped (or did not write) every key
    printed = [json.loads(line) for stdout, _ in outputs for line in stdout.splitlines()]
    reals = {(row["real_samples"], row["real_rule"]) for row in printed if row["metric"] != "ppl"}
    assert len(printed) == 8 and reals == {(16, "first")}  # the first 16 of the 24 reals


def test_errors_are_one_line_without_a_traceback(fake_run, capsys):
    assert cli.run(_parse(["--run", str(fake_run), "--snapshot", "7", "--features", "random"])) == 2
    error = capsys.readouterr().err
    assert error.startswith("metrics: error: snapshot 7") and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1


def test_num_real_precision_noise_and_recompute_options():
    args = _parse(["--run", "r", "--num-real", "all", "--pr-precision", "exact", "--ppl-noise", "frozen",
                   "--recompute"])
    chosen = (args.num_real, args.pr_precision, args.ppl_noise, args.recompute)
    assert chosen == ("all", "exact", "frozen", True)
    defaults = _parse(["--run", "r"])
    assert (defaults.num_real, defaults.pr_precision, defaults.ppl_noise) == (None, "official", "fresh")
    assert _parse(["--run", "r", "--num-real", "1000"]).num_real == 1000
    with pytest.raises(SystemExit):
        _parse(["--run", "r", "--num-real", "some"])
