"""Shared fixtures: a tiny generator with the variants interface (mapping, synthesis, z_dim, ...).

Both stages are linear (with an optional tanh on the image), so path lengths have closed forms.
"""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn


class TinyGenerator(nn.Module):
    """`noise_strength` > 0 adds strength * noise_const ([res, res], as variants' NoiseInput) in 'const'
    mode, scaled by the image so that noise changes path lengths; `seen_noise` records each 'const' map."""

    def __init__(self, *, z_dim=4, w_dim=3, num_ws=2, resolution=8, seed=0, squash=True, noise_strength=0.0):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.resolution = z_dim, w_dim, num_ws, resolution
        self.squash, self.noise_strength, self.seen_noise = squash, noise_strength, []
        generator = torch.Generator().manual_seed(seed)
        self.map_matrix = nn.Parameter(torch.randn(z_dim, w_dim, generator=generator) / z_dim**0.5)
        pixels = 3 * resolution * resolution
        self.synth_matrix = nn.Parameter(torch.randn(num_ws * w_dim, pixels, generator=generator) * 0.1)
        self.register_buffer("noise_const", torch.randn([resolution, resolution], generator=generator))

    def mapping(self, z, psi=1.0, truncation_cutoff=None, update_w_avg=False):
        w = z @ self.map_matrix
        return w[:, None, :].repeat(1, self.num_ws, 1)

    def synthesis(self, ws, noise_mode="random"):
        x = ws.flatten(1) @ self.synth_matrix
        if noise_mode == "random":
            x = x + 0.01 * torch.randn_like(x)
        x = x.reshape(len(ws), 3, self.resolution, self.resolution)
        if noise_mode == "const" and self.noise_strength:
            self.seen_noise.append(self.noise_const.clone())
            x = x * (1 + self.noise_strength * self.noise_const)  # noise that interacts with the latent
        return torch.tanh(x) if self.squash else x


@pytest.fixture
def tiny_generator():
    """The TinyGenerator class (call it with keyword overrides)."""
    return TinyGenerator


class FakeDataset:
    """Stands in for harness.data.ImageDataset: `images` uint8 [N, 3, H, W] and `info.content_hash`."""

    def __init__(self, num_images=40, resolution=8, seed=0):
        rng = np.random.default_rng(seed)
        self.images = rng.integers(0, 256, (num_images, 3, resolution, resolution), dtype=np.uint8)
        self.info = SimpleNamespace(content_hash=f"fake-{seed}-{num_images}-{resolution}")

    def __len__(self):
        return len(self.images)


@pytest.fixture
def fake_run(tmp_path):
    """A run directory with config.json, options.json and two (empty) snapshots at 0.5 and 20 kimg
    (named by images shown, as harness.train writes them)."""
    run = tmp_path / "run"
    (run / "snapshots").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"resolution": 8}))
    (run / "options.json").write_text(json.dumps({"data": "fake-source"}))
    for images in (500, 20_000):
        (run / "snapshots" / f"{images:06d}.safetensors").write_bytes(b"")
        (run / "snapshots" / f"{images:06d}.json").write_text("{}")
    return run


@pytest.fixture
def fake_loaders():
    """(load_generator, open_dataset) for compute(): a TinyGenerator per snapshot, a FakeDataset."""
    opened = []

    def load_generator(path):
        return TinyGenerator(seed=int(Path(path).name))

    def open_dataset(source, resolution):
        opened.append((source, resolution))
        return FakeDataset(resolution=resolution)

    return load_generator, open_dataset, opened


@pytest.fixture
def fake_dataset():
    """The FakeDataset class (call it with keyword overrides)."""
    return FakeDataset


@pytest.fixture(autouse=True)
def _private_feature_cache(tmp_path_factory, monkeypatch):
    """Metric tests never read or write the user's feature cache (~/.cache/stylegan2-ablations)."""
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("feature-cache")))
