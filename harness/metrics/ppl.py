"""Perceptual path length (StyleGAN Section 3; StyleGAN2 Section 3.2 / Figure 5), the StyleGAN2 protocol.

In W, "end" sampling (t = 0): for latents z0, z1 and w_i = mapping(z_i), the per-sample value is
d(g(w0), g(lerp(w0, w1, epsilon))) / epsilon^2 with epsilon = 1e-4, on the full image (no crop),
downsampled to 256 by area averaging if larger, d = LPIPS (VGG-16). Values outside the 1st-99th
percentile are dropped and the rest averaged. Images are NOT quantised: the epsilon-sized change would
vanish; pixels are mapped to 0..255 as (x + 1) * 255 / 2, as both official implementations do.

Noise inputs (noise='fresh', the official protocol): every batch draws new noise maps, shared by all
images of that batch, both ends of each pair included (TF StyleGAN2 metrics/perceptual_path_length.py
re-runs the noise variables' initialisers for every minibatch; stylegan2-ada-pytorch
metrics/perceptual_path_length.py copies new random values into the `noise_const` buffers per batch).
Here the maps are drawn from a generator seeded by the batch's first seed, so results are reproducible.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, get_args

import numpy as np
import torch

from common.options import check_choice
from harness.metrics.metric import Metric, register_metric

PPL_EPSILON = 1e-4
PPL_MAX_RESOLUTION = 256
PplNoise = Literal["fresh", "frozen", "none"]
NOISE_CHOICES: tuple[str, ...] = get_args(PplNoise)
NOISE_STREAM = 0x9E3779B9  # separates noise seeds from latent seeds (same integer, different numbers)


def sample_latents(seeds: range, z_dim: int, per_seed: int = 1) -> torch.Tensor:
    """Latents [len(seeds), per_seed, z_dim]: sample i draws from its own generator seeded with seeds[i],
    so a sample's latents do not depend on the batch it is in (edm's StackedRandomGenerator idea)."""
    return torch.stack([torch.randn(per_seed, z_dim, generator=torch.Generator().manual_seed(seed))
                        for seed in seeds])


def noise_seed(seed: int) -> int:
    """The seed of the noise drawn for a batch whose first latent seed is `seed` (a separate stream)."""
    return int(np.random.SeedSequence([NOISE_STREAM, seed]).generate_state(1, np.uint64)[0] >> 1)


@contextmanager
def fresh_noise(G: torch.nn.Module, seed: int) -> Iterator[None]:
    """Inside: every `*.noise_const` buffer of G holds new standard normal values drawn from `seed`;
    afterwards the original buffers are back (G is unchanged)."""
    buffers = [buffer for name, buffer in G.named_buffers() if name.endswith("noise_const")]
    saved = [buffer.clone() for buffer in buffers]
    generator = torch.Generator().manual_seed(noise_seed(seed))
    try:
        with torch.no_grad():
            for buffer in buffers:
                buffer.copy_(torch.randn(buffer.shape, generator=generator, dtype=torch.float32))
        yield
    finally:
        with torch.no_grad():
            for buffer, original in zip(buffers, saved, strict=True):
                buffer.copy_(original)


def to_pixel_range(images: torch.Tensor) -> torch.Tensor:
    """Generator output in about [-1, 1] -> 0..255 as (x + 1) * 255 / 2, unclamped and unquantised
    (official: perceptual_path_length.py in TF StyleGAN2 and in stylegan2-ada-pytorch)."""
    return (images + 1) * (255 / 2)


def downsample_to(images: torch.Tensor, size: int = PPL_MAX_RESOLUTION) -> torch.Tensor:
    """Area-downsample [N, C, H, W] by the integer factor H // size when H > size (no-op otherwise)."""
    height, width = images.shape[-2:]
    if height <= size:
        return images
    factor = height // size
    if height % size or width % size or width // size != factor:
        raise ValueError(f"cannot area-downsample {height}x{width} to {size}: not an integer multiple")
    return images.reshape(*images.shape[:2], size, factor, size, factor).mean(dim=(3, 5))


def _synthesize_pairs(G, batch_seeds: range, epsilon: float, noise: str, device) -> torch.Tensor:
    """Images [2n, C, H, W] (float32, about [-1, 1]): the n start points, then the n epsilon-steps."""
    z = sample_latents(batch_seeds, G.z_dim, per_seed=2).to(device)
    n = len(batch_seeds)
    ws = G.mapping(z.reshape(2 * n, G.z_dim), psi=1.0).reshape(n, 2, G.num_ws, G.w_dim).float()
    w_start = ws[:, 0]
    w_end = torch.lerp(ws[:, 0], ws[:, 1], epsilon)  # t = 0 ("end" sampling), t + epsilon
    ws_pairs = torch.cat([w_start, w_end])
    if noise == "none":
        return G.synthesis(ws_pairs, noise_mode="none").float()
    if noise == "frozen":
        return G.synthesis(ws_pairs, noise_mode="const").float()
    with fresh_noise(G, batch_seeds[0]):
        return G.synthesis(ws_pairs, noise_mode="const").float()


@torch.no_grad()
def path_lengths(
    G, distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, seeds: range,
    epsilon: float = PPL_EPSILON, batch_size: int = 16, device: torch.device | str = "cpu",
    noise: str = "fresh", max_resolution: int = PPL_MAX_RESOLUTION,
) -> np.ndarray:
    """Per-sample path lengths [len(seeds)] (float64) of generator G under `distance` (images 0..255).

    Sample i uses latents z0, z1 drawn from seed seeds[i]; G exposes mapping(z) -> ws [N, num_ws, w_dim]
    and synthesis(ws, noise_mode=...) -> images [N, C, H, W] in about [-1, 1]. `noise`: 'fresh' (new
    maps per batch, the official protocol), 'frozen' (G's own noise_const buffers for every sample) or
    'none' (no noise inputs). With 'fresh' a sample's value depends on the batches (as officially).
    """
    check_choice("noise", noise, NOISE_CHOICES)
    out = np.empty(len(seeds), dtype=np.float64)
    for start in range(0, len(seeds), batch_size):
        batch_seeds = seeds[start:start + batch_size]
        n = len(batch_seeds)
        images = _synthesize_pairs(G, batch_seeds, epsilon, noise, device)
        images = to_pixel_range(downsample_to(images, max_resolution))  # official order: downsample, scale
        dist = distance(images[:n], images[n:]).double() / epsilon**2
        out[start:start + n] = dist.cpu().numpy()
    return out


def filtered_mean(values: np.ndarray, low: float = 1.0, high: float = 99.0) -> float:
    """Mean of the values within the [low, high] percentiles (StyleGAN2's outlier filter)."""
    values = np.asarray(values, dtype=np.float64)
    lower = np.percentile(values, low, method="lower")
    upper = np.percentile(values, high, method="higher")
    return float(values[(values >= lower) & (values <= upper)].mean())


@register_metric("ppl", higher_is_better=False, features="lpips-vgg16", perceptual=True)
class PPL(Metric):
    """Per-sample path lengths under a perceptual distance (shared out over ranks) -> filtered mean."""

    def protocol(self, options, count: int | None) -> dict:
        return {"ppl_epsilon": options.ppl_epsilon, "ppl_noise": options.ppl_noise}

    def repeat(self, evaluator, net, repeat: int, count: int | None) -> dict:
        o, seeds = evaluator.options, evaluator.seeds(repeat)
        batch_lengths = lambda start, stop: path_lengths(
            evaluator.G, net, seeds=seeds[start:stop], epsilon=o.ppl_epsilon, batch_size=o.batch_size,
            device=o.device, noise=o.ppl_noise)
        distances = evaluator.dist.gather_batches(batch_lengths, len(seeds), o.batch_size, dtype=np.float64)
        return {"value": filtered_mean(distances), "distances": distances}

    def finish(self, row: dict, runs: list[dict]) -> None:
        row["per_sample_distances"] = np.stack([run["distances"] for run in runs])  # [repeats, N], Fig. 5
