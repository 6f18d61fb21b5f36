"""`python -m harness train` errors: one line naming the field or file and what to do, exit code 2,
never a traceback; --force-restart and --rebuild-cache."""

import pytest
import torch

from harness.cli import main as harness_main


def train_args(tmp_path, data, *extra, out="run"):
    return ["train", "--config", "E", "--data", str(data), "--kimg", "0.008", "--out", str(tmp_path / out),
            "--resolution", "16", "--width-multiplier", "0.03125", "--batch-size", "4", "--impl", "ref",
            "--set", "mapping_layers=1", "--set", "z_dim=16", "--set", "w_dim=16",
            "--set", "mapping_width=16", "--tick-kimg", "0.004", "--snapshot-kimg", "0.008",
            "--fig8-samples", "8", "--progress", "none", "--threads", "1",
            "--cache-dir", str(tmp_path / "cache"), *extra]


def one_line_error(capsys, code: int, expected: str) -> str:
    error = capsys.readouterr().err
    assert code == 2, error
    assert len(error.strip().splitlines()) == 1 and "Traceback" not in error, error
    assert expected in error, error
    return error


@pytest.mark.parametrize(("flags", "expected"), [
    (["--kimg", "inf"], "train: error: kimg must be a finite number, got inf"),
    (["--set", "lr=abc"], 'train: error: --set lr="abc": lr must be a finite number'),
    (["--set", "batch_size=1.5"], "train: error: --set batch_size=1.5: batch_size must be an integer"),
    (["--set", "batch_size=true"], "train: error: --set batch_size=true: batch_size must be an integer"),
    (["--set", "ema_kimg=nan"], 'train: error: --set ema_kimg="nan": ema_kimg must be a finite number'),
    (["--set", "ema_kimg=NaN"], "train: error: --set ema_kimg=NaN: ema_kimg must be a finite number"),
    (["--set", "adam_betas=[0,1,2]"], "adam_betas must be a JSON list, e.g. [0, 0.99]"),
    (["--device", "bogus"], "train: error: device='bogus' is not a device torch knows"),
    (["--seed", "-1"], "train: error: seed must be an integer >= 0, got -1"),
    (["--resume", "--force-restart"], "resume and force_restart exclude each other"),
])
def test_bad_options_fail_in_one_line_before_anything_is_written(tmp_path, png_folder, capsys, flags,
                                                                  expected):
    one_line_error(capsys, harness_main(train_args(tmp_path, png_folder, *flags)), expected)
    assert not (tmp_path / "run").exists()


def test_unwritable_run_folder_fails_before_the_work(tmp_path, png_folder, capsys):
    (tmp_path / "file").write_text("not a folder")
    code = harness_main(train_args(tmp_path, png_folder, out="file/run"))
    one_line_error(capsys, code, f"cannot write the run folder {tmp_path / 'file' / 'run'}")
    assert not (tmp_path / "cache").exists()  # the dataset was not even opened


def test_bad_image_advice_names_the_cli_flag(tmp_path, png_folder, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for path in png_folder.iterdir():
        (data / path.name).write_bytes(path.read_bytes())
    (data / "broken.png").write_bytes(b"not a png")
    error = one_line_error(capsys, harness_main(train_args(tmp_path, data)), "broken.png")
    assert "--skip-bad" in error and "skip_bad=True" in error  # the flag first, the keyword for Python


@pytest.mark.slow
def test_damaged_checkpoint_full_disk_and_force_restart(tmp_path, png_folder, capsys, monkeypatch):
    assert harness_main(train_args(tmp_path, png_folder)) == 0
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    good = checkpoint.read_bytes()
    for damaged in (good[:len(good) // 2], b"", bytes(range(256)) * 40):
        checkpoint.write_bytes(damaged)
        code = harness_main(train_args(tmp_path, png_folder, "--resume", "--kimg", "0.016"))
        one_line_error(capsys, code, f"train: error: {checkpoint} is corrupt")
    (tmp_path / "run" / "checkpoint.json").unlink()  # without its checksum: unreadable, said as much
    code = harness_main(train_args(tmp_path, png_folder, "--resume", "--kimg", "0.016"))
    error = one_line_error(capsys, code, f"{checkpoint} cannot be read as a checkpoint")
    assert "--force-restart" in error and "snapshots/000008" in error

    real_save = torch.save

    def full_disk(obj, file):  # what torch.save raises when the disk fills up under it
        real_save(obj, file)
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 4224 vs 4112")

    monkeypatch.setattr(torch, "save", full_disk)
    code = harness_main(train_args(tmp_path, png_folder, "--force-restart"))
    error = one_line_error(capsys, code, f"could not write {checkpoint}: ")
    assert "MiB free on the disk holding" in error and "unexpected pos" in error
    assert not list((tmp_path / "run").glob(".*.tmp"))
    monkeypatch.undo()
    assert harness_main(train_args(tmp_path, png_folder, "--force-restart", "--rebuild-cache")) == 0
    assert "--force-restart: removed from" in capsys.readouterr().out
