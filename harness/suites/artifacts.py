"""Pictures a run leaves for the report: sample grids from fixed seeds and feature-map heat maps."""

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from common.io import write_bytes_atomic
from harness.rundir import RunDir

SAMPLE_SEEDS = tuple(range(16))  # the same seeds for every run, so grids compare image by image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] float in about [-1, 1] -> [N, H, W, C] uint8 (x * 127.5 + 128, clamped)."""
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def grid_png(images_hwc: np.ndarray, columns: int = 8) -> bytes:
    """[N, H, W, C] uint8 (C 3, or 1 drawn as gray) -> PNG bytes of a grid with `columns` images a row."""
    if images_hwc.shape[3] == 1:
        images_hwc = np.repeat(images_hwc, 3, axis=3)
    count, height, width, _ = images_hwc.shape
    rows = -(-count // columns)
    canvas = np.full((rows * height, columns * width, 3), 255, dtype=np.uint8)
    for index, image in enumerate(images_hwc):
        row, column = divmod(index, columns)
        canvas[row * height : (row + 1) * height, column * width : (column + 1) * width] = image
    scale = max(1, 64 // height)  # small smoke images are enlarged so a reader can see them
    picture = Image.fromarray(canvas).resize(
        (canvas.shape[1] * scale, canvas.shape[0] * scale), Image.NEAREST
    )
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def fixed_latents(z_dim: int, seeds=SAMPLE_SEEDS) -> torch.Tensor:
    """[len(seeds), z_dim]: one latent per seed, each from its own generator."""
    return torch.stack([torch.randn(z_dim, generator=torch.Generator().manual_seed(seed)) for seed in seeds])


@torch.no_grad()
def render_samples(generator, return_trace: bool = False):
    """G(fixed_latents) in eval mode with constant noise: [len(SAMPLE_SEEDS), C, H, W] (and the
    synthesis trace when `return_trace`)."""
    generator.eval()
    z = fixed_latents(generator.z_dim).to(next(generator.parameters()).device)
    return generator.synthesis(generator.mapping(z), noise_mode="const", return_trace=return_trace)


def save_sample_grid(generator, path: Path) -> None:
    """A PNG grid of the generator's samples from the fixed seeds."""
    write_bytes_atomic(path, grid_png(to_uint8(render_samples(generator))))


@torch.no_grad()
def save_run_pictures(generator, run_dir: Path) -> None:
    """Write `figures/samples.png` (fixed seeds) and `figures/feature_maps.npy`.

    feature_maps.npy: float32 [num_maps, H, W], the per-pixel mean |activation| over channels of
    sample 0's feature maps at the two highest resolutions (Figure 1's view of droplets).
    """
    images, trace = render_samples(generator, return_trace=True)
    run = RunDir(run_dir)
    write_bytes_atomic(run.figure(RunDir.SAMPLES), grid_png(to_uint8(images)))
    top = sorted(trace.features)[-2:]
    size = max(top)
    maps = []
    for resolution in top:
        heat = trace.features[resolution][:1].abs().mean(dim=1, keepdim=True)
        maps.append(torch.nn.functional.interpolate(heat, size=(size, size), mode="nearest")[0, 0])
    buffer = _npy_bytes(torch.stack(maps).float().cpu().numpy())
    write_bytes_atomic(run.figure(RunDir.FEATURE_MAPS), buffer)


def save_reals_grid(images_uint8_chw: np.ndarray, path: Path) -> None:
    """Grid of real images ([N, C, H, W] uint8) for the report, beside the generated ones."""
    write_bytes_atomic(path, grid_png(np.ascontiguousarray(images_uint8_chw.transpose(0, 2, 3, 1))))


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()
