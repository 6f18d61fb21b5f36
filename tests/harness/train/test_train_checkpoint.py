"""Checkpoints: weights-only round trip, random streams resume exactly, format errors."""

import pytest
import torch

from harness.io import save_torch_atomic
from harness.train.checkpoint import load_checkpoint, restore_rng_states, rng_states, save_checkpoint


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
