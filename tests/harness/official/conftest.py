"""Fixtures of the official-checkpoint tests: the shared parity folder and small registry networks."""

from pathlib import Path

import pytest
import torch

import variants

# The official code's own outputs (see its README.md), beside the repository: ../shared/parity.
PARITY_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "parity"


@pytest.fixture
def parity_dir() -> Path:
    if not PARITY_DIR.is_dir():
        pytest.skip(f"official parity fixtures not found at {PARITY_DIR} (the shared folder is absent)")
    return PARITY_DIR


def small_networks(g_arch="skip", d_arch="residual", **overrides):
    """(G, D) StyleGAN2 networks at 16x16 with 8-32 channels and every 1-D tensor perturbed, so that a
    tensor loaded into the wrong place changes the outputs."""
    cfg = variants.Config(g_arch=g_arch, d_arch=d_arch, resolution=16, fmap_base=256, fmap_max=32,
                          z_dim=16, w_dim=16, mapping_width=16, mapping_layers=2, **overrides)
    nets = variants.build_generator(cfg, impl="ref"), variants.build_discriminator(cfg, impl="ref")
    with torch.no_grad():
        for net in nets:
            for tensor in net.state_dict().values():
                if tensor.ndim <= 1:
                    tensor.add_(0.1 * torch.randn_like(tensor))
    return nets[0].eval(), nets[1].eval()
