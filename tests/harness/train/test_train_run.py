"""End-to-end runs on 16x16 random PNGs: the run directory, growing, NaN stop, CLI, resume checks."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import variants
from harness.cli import main as harness_main
from harness.data import list_builtin
from harness.suites.artifacts import save_run_pictures
from harness.train import NonFiniteError, TrainOptions, losses, train
from tests.harness.train.tiny import tiny_config

STATS_KEYS = {"tick", "kimg", "images_shown", "step", "resolution", "alpha", "batch", "lr", "wall_s",
              "tick_s", "img_per_s", "measure_s", "loss/G", "loss/D", "loss/r1", "loss/pl", "pl_mean",
              "energy_j/gpu", "energy_j/cpu", "peak_gpu_mem_bytes", "peak_rss_bytes", "fig8", "droplet",
              *(f"{kind}/{phase}" for kind in ("time_s", "img_per_s") for phase in
                ("G_main", "G_reg", "D_main", "D_reg"))}


def tiny_options(tmp_path, png_folder, name="E", **overrides):
    values = dict(config=tiny_config(name), data=str(png_folder), out=tmp_path / "run", kimg=0.048,
                  tick_kimg=0.016, snapshot_kimg=0.032, fig8_samples=16, droplet_samples=4,
                  cache_dir=tmp_path / "cache", progress="none")
    return TrainOptions(**{**values, **overrides})


@pytest.mark.slow
def test_tiny_run_writes_the_whole_run_directory(tmp_path, png_folder):
    run_dir = train(tiny_options(tmp_path, png_folder))
    for name in ("config.json", "options.json", "dataset.json", "environment.json", "summary.json"):
        assert isinstance(json.loads((run_dir / name).read_text()), dict), name
    assert variants.Config.from_json((run_dir / "config.json").read_text()) == tiny_config("E")
    assert json.loads((run_dir / "dataset.json").read_text())["num_images"] == 24
    stats = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert [row["images_shown"] for row in stats] == [16, 32, 48]
    assert STATS_KEYS <= set(stats[0])
    assert sum(stats[-1]["fig8"].values()) == pytest.approx(1.0)
    assert set(stats[-1]["fig8"]) == {"4", "8", "16"}
    assert stats[0]["loss/pl"] is not None and stats[0]["loss/r1"] is not None  # step 0 regularises
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["done"] is True and summary["images_shown"] == 48 and summary["steps"] == 12
    assert summary["energy_source"].startswith("not available") and summary["energy_j"] is None
    assert summary["img_per_s"] > 0 and summary["resumes"] == 0
    assert sorted(p.name for p in (run_dir / "snapshots").iterdir()) == [
        "000032.json", "000032.safetensors", "000048.json", "000048.safetensors"]
    generator = variants.load_network(run_dir / "snapshots" / "000048")
    assert generator(torch.randn(2, generator.z_dim)).shape == (2, 3, 16, 16)
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["images_shown"] == 48 and checkpoint["step"] == 12
    assert not list(run_dir.glob("*.tmp")) and not list(run_dir.glob(".*.tmp"))


@pytest.mark.slow
def test_the_early_snapshot_is_taken_at_the_first_tick_past_it(tmp_path, png_folder):
    run_dir = train(tiny_options(tmp_path, png_folder, kimg=0.064, tick_kimg=0.008, snapshot_kimg=0.032,
                                 first_snapshot_kimg=0.010))
    snapshots = sorted(p.stem for p in (run_dir / "snapshots").glob("*.safetensors"))
    assert snapshots == ["000016", "000032", "000064"]  # ticks every 8 images: 16 is the first past 10
    with pytest.raises(ValueError, match="first_snapshot_kimg must be > 0 or None, got 0"):
        tiny_options(tmp_path, png_folder, first_snapshot_kimg=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["A", "D"])
def test_growing_run_fades_in_the_next_resolution(tmp_path, png_folder, name):
    options = tiny_options(tmp_path, png_folder, name, kimg=0.064)  # phases of 16 images: 8, fade 16, 16
    run_dir = train(options)
    stats = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    growth = [(row["resolution"], row["alpha"]) for row in stats]
    assert growth == [(8, 1.0), (16, 0.75), (16, 1.0), (16, 1.0)]
    assert [row["batch"] for row in stats] == [8, 4, 4, 4]  # the growing batch table, scaled
    assert all(row["fig8"] is None for row in stats)  # original G: one ToRGB
    assert stats[0]["loss/r1"] is not None
    if name == "A":  # R1 every minibatch inside D main, no path length
        assert stats[0]["time_s/D_reg"] == 0.0 and all(row["loss/pl"] is None for row in stats)
    else:  # lazy R1 and path length, each run at step 0
        assert stats[0]["time_s/D_reg"] > 0 and stats[0]["loss/pl"] is not None
    generator = variants.load_network(run_dir / "snapshots" / "000064")
    assert generator(torch.randn(1, generator.z_dim)).shape == (1, 3, 16, 16)


@pytest.mark.slow
def test_nan_loss_stops_with_step_and_keeps_checkpoint(tmp_path, png_folder, monkeypatch):
    calls = []
    real_loss = losses.generator_loss

    def poisoned(fake_logits):
        calls.append(1)
        loss = real_loss(fake_logits)
        return loss * float("nan") if len(calls) > 5 else loss

    monkeypatch.setattr(losses, "generator_loss", poisoned)
    options = tiny_options(tmp_path, png_folder, checkpoint_kimg=0.016)
    message = r"loss/G is nan at step 5 \(after 24 images\).*checkpoint is kept"
    with pytest.raises(NonFiniteError, match=message):
        train(options)
    checkpoint = torch.load(options.out_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["images_shown"] == 16  # the last good one, from the tick before
    assert not (options.out_dir / "summary.json").exists()


def cli_args(tmp_path, png_folder, *extra):
    return ["train", "--config", "E", "--data", str(png_folder), "--kimg", "0.016",
            "--out", str(tmp_path / "cli"), "--resolution", "16", "--width-multiplier", "0.03125",
            "--batch-size", "4", "--impl", "ref", "--set", "mapping_layers=1", "--set", "z_dim=16",
            "--set", "w_dim=16", "--set", "mapping_width=16",
            "--tick-kimg", "0.008", "--snapshot-kimg", "0.016", "--fig8-samples", "8", "--progress", "lines",
            "--cache-dir", str(tmp_path / "cache"), *extra]


@pytest.mark.slow
def test_cli_trains_and_reports_errors(tmp_path, png_folder, capsys):
    same = ("--set", "adam_betas=[0, 0.9]", "--seed", "2")
    assert harness_main(cli_args(tmp_path, png_folder, *same)) == 0
    config = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert config["adam_betas"] == [0, 0.9] and config["width_multiplier"] == 0.03125
    assert config["z_dim"] == 16
    assert json.loads((tmp_path / "cli" / "options.json").read_text())["seed"] == 2
    assert "tick    1" in capsys.readouterr().out
    assert harness_main(cli_args(tmp_path, png_folder)) == 2  # directory in use, no --resume
    assert "pass --resume to continue it, --force-restart" in capsys.readouterr().err
    assert harness_main(cli_args(tmp_path, png_folder, *same, "--resume", "--set", "r1_gamma=5",
                                 "--seed", "3")) == 2
    error = capsys.readouterr().err
    assert "config.r1_gamma: 100.0 in options.json, 5 now; seed: 2 in options.json, 3 now" in error
    assert len(error.strip().splitlines()) == 1
    assert harness_main(cli_args(tmp_path, png_folder, "--set", "no_such_field=1")) == 2
    assert "no_such_field" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not {info.name: info.installed for info in list_builtin()}["fashion-mnist"],
                    reason="dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
def test_a_grayscale_dataset_trains_one_channel_networks_and_resumes(tmp_path):
    # official: stylegan2-ada-pytorch train.py builds G and D with img_channels=training_set.num_channels
    options = tiny_options(tmp_path, "fashion-mnist:sneaker", kimg=0.032)
    assert options.config.img_channels == 3  # the preset's default; the dataset decides
    run_dir = train(options)
    assert variants.Config.from_json((run_dir / "config.json").read_text()).img_channels == 1
    generator = variants.load_network(run_dir / "snapshots" / "000032")
    assert generator(torch.randn(2, generator.z_dim)).shape == (2, 1, 16, 16)
    save_run_pictures(generator, run_dir)  # the report's sample grid draws the one channel as gray
    grid = np.asarray(Image.open(run_dir / "figures" / "samples.png"))
    assert grid.shape[2] == 3 and (grid == grid[:, :, :1]).all()
    train(options.replace(kimg=0.048, resume=True))  # the unresolved options resume the resolved run
    assert json.loads((run_dir / "summary.json").read_text())["images_shown"] == 48
