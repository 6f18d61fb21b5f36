"""Checkpoints: weights-only round trip, random streams resume exactly, format errors, checksums."""

import json

import pytest
import torch

import variants
from common import io as io_module
from common.io import file_sha256, save_torch_atomic
from harness.rundir import RunDir
from harness.train import rundir
from harness.train.checkpoint import (
    CheckpointError,
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from tests.harness.train.tiny import tiny_config


def test_round_trip_and_rng_continuation(tmp_path):
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(net.parameters())
    net(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    generators = {"latents": torch.Generator().manual_seed(5)}
    torch.randn(3, generator=generators["latents"])
    save_checkpoint(tmp_path, {"net": net.state_dict(), "opt": optimizer.state_dict(), "images_shown": 12,
                               "rng": rng_states(generators)})
    expected_global, expected_stream = torch.randn(4), torch.randn(4, generator=generators["latents"])

    state = load_checkpoint(tmp_path)
    fresh = {"latents": torch.Generator().manual_seed(0)}
    restore_rng_states(state["rng"], fresh)
    assert torch.equal(torch.randn(4), expected_global)
    assert torch.equal(torch.randn(4, generator=fresh["latents"]), expected_stream)
    other = torch.nn.Linear(3, 2)
    other.load_state_dict(state["net"])
    assert torch.equal(other.weight, net.weight) and state["images_shown"] == 12
    torch.optim.Adam(other.parameters()).load_state_dict(state["opt"])


def test_missing_checkpoint_and_wrong_format(tmp_path):
    assert load_checkpoint(tmp_path) is None
    save_torch_atomic(tmp_path / "checkpoint.pt", {"format": 99})
    with pytest.raises(ValueError, match="format 99"):
        load_checkpoint(tmp_path)


def test_restore_needs_every_stream(tmp_path):
    states = rng_states({})
    with pytest.raises(ValueError, match="latents"):
        restore_rng_states(states, {"latents": torch.Generator()})


def small_state(step: int) -> dict:
    return {"w": torch.full((64,), float(step)), "images_shown": 4 * step, "step": step}


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "random"])
def test_damaged_checkpoint_is_refused_naming_the_file(tmp_path, damage):
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "000004.safetensors").write_bytes(b"x")
    path = save_checkpoint(tmp_path, small_state(1))
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[200:264] = bytes(255 - byte for byte in data[200:264])
    elif damage == "truncate":
        data = data[:len(data) // 2]
    elif damage == "empty":
        data = b""
    else:
        data = bytearray(torch.randint(0, 256, (len(data),), generator=torch.Generator().manual_seed(1),
                                       dtype=torch.uint8).numpy().tobytes())
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=rf"{path} is corrupt: its sha256 is .*snapshots/000004"
                                              rf".*--force-restart"):
        load_checkpoint(tmp_path)
    (tmp_path / RunDir.CHECKPOINT_RECORD).unlink()  # without the checksum, reading it still fails cleanly
    with pytest.raises(CheckpointError, match=rf"{path} cannot be read as a checkpoint"):
        load_checkpoint(tmp_path)


def test_checkpoint_json_records_the_hash_and_the_replaced_one(tmp_path):
    save_checkpoint(tmp_path, small_state(1))
    first = json.loads((tmp_path / RunDir.CHECKPOINT_RECORD).read_text())
    assert first["sha256"] == file_sha256(tmp_path / "checkpoint.pt") and first["replaces_sha256"] is None
    assert first["bytes"] == (tmp_path / "checkpoint.pt").stat().st_size and first["images_shown"] == 4
    save_checkpoint(tmp_path, small_state(2))
    second = json.loads((tmp_path / RunDir.CHECKPOINT_RECORD).read_text())
    assert second["replaces_sha256"] == first["sha256"] and second["step"] == 2


def test_kill_between_record_and_rename_resumes_from_the_previous_checkpoint(tmp_path, monkeypatch, capsys):
    save_checkpoint(tmp_path, small_state(1))

    real_replace = io_module.os.replace

    def killed(source, target):  # the process dies after checkpoint.json, before checkpoint.pt moves
        if str(target).endswith("checkpoint.pt"):
            raise KeyboardInterrupt
        real_replace(source, target)

    for attempt in (2, 3):  # twice in a row: the record must describe the file actually kept
        with monkeypatch.context() as patch:
            patch.setattr(io_module.os, "replace", killed)
            with pytest.raises(KeyboardInterrupt):
                save_checkpoint(tmp_path, small_state(attempt))
        assert load_checkpoint(tmp_path)["step"] == 1
        assert "interrupted" in capsys.readouterr().out
    kept = file_sha256(tmp_path / "checkpoint.pt")
    assert json.loads((tmp_path / RunDir.CHECKPOINT_RECORD).read_text())["sha256"] == kept
    save_checkpoint(tmp_path, small_state(4))
    assert load_checkpoint(tmp_path)["step"] == 4


def test_corrupt_snapshot_is_refused_naming_earlier_ones(tmp_path):
    generator = variants.build_generator(tiny_config())
    for images in (500, 1000):
        rundir.save_snapshot(tmp_path, generator, images)
    path = tmp_path / "snapshots" / "001000.safetensors"
    assert json.loads(path.with_suffix(".json").read_text())["sha256"] == file_sha256(path)
    variants.load_network(path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(variants.serialization.CorruptFileError,
                       match=r"001000.safetensors is corrupt: .*earlier ones beside it: 000500"):
        variants.load_network(path)
