"""Perceptual path length (StyleGAN Section 3; StyleGAN2 Section 3.2 / Figure 5), the StyleGAN2 protocol.

In W, "end" sampling (t = 0): for latents z0, z1 and w_i = mapping(z_i), the per-sample value is
d(g(w0), g(lerp(w0, w1, epsilon))) / epsilon^2 with epsilon = 1e-4, on the full image (no crop),
downsampled to 256 by area averaging if larger, d = LPIPS (VGG-16). Values outside the 1st-99th
percentile are dropped and the rest averaged. Images are NOT quantised: the epsilon-sized change would
vanish. Pixels are mapped to 0..255 as x * 127.5 + 128, the map the other metrics quantise.
"""

from collections.abc import Callable

import numpy as np
import torch

HIGHER_IS_BETTER = False
PPL_EPSILON = 1e-4
PPL_MAX_RESOLUTION = 256


def sample_latents(seeds: range, z_dim: int, per_seed: int = 1) -> torch.Tensor:
    """Latents [len(seeds), per_seed, z_dim]: sample i draws from its own generator seeded with seeds[i],
    so a sample's latents do not depend on the batch it is in (edm's StackedRandomGenerator idea)."""
    return torch.stack([torch.randn(per_seed, z_dim, generator=torch.Generator().manual_seed(seed))
                        for seed in seeds])


def downsample_to(images: torch.Tensor, size: int = PPL_MAX_RESOLUTION) -> torch.Tensor:
    """Area-downsample [N, C, H, W] by the integer factor H // size when H > size (no-op otherwise)."""
    height, width = images.shape[-2:]
    if height <= size:
        return images
    factor = height // size
    if height % size or width % size or width // size != factor:
        raise ValueError(f"cannot area-downsample {height}x{width} to {size}: not an integer multiple")
    return images.reshape(*images.shape[:2], size, factor, size, factor).mean(dim=(3, 5))


@torch.no_grad()
def path_lengths(
    G, distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, seeds: range,
    epsilon: float = PPL_EPSILON, batch_size: int = 16, device: torch.device | str = "cpu",
    noise_mode: str = "const", max_resolution: int = PPL_MAX_RESOLUTION,
) -> np.ndarray:
    """Per-sample path lengths [len(seeds)] (float64) of generator G under `distance` (images 0..255).

    Sample i uses latents z0, z1 drawn from seed seeds[i]; G exposes mapping(z) -> ws [N, num_ws, w_dim]
    and synthesis(ws, noise_mode=...) -> images [N, 3, H, W] in about [-1, 1].
    """
    out = np.empty(len(seeds), dtype=np.float64)
    for start in range(0, len(seeds), batch_size):
        batch_seeds = seeds[start:start + batch_size]
        z = sample_latents(batch_seeds, G.z_dim, per_seed=2).to(device)
        n = len(batch_seeds)
        ws = G.mapping(z.reshape(2 * n, G.z_dim), psi=1.0).reshape(n, 2, G.num_ws, G.w_dim).float()
        w_start = ws[:, 0]
        w_end = torch.lerp(ws[:, 0], ws[:, 1], epsilon)  # t = 0 ("end" sampling), t + epsilon
        images = G.synthesis(torch.cat([w_start, w_end]), noise_mode=noise_mode).float()
        images = downsample_to(images * 127.5 + 128.0, max_resolution)
        dist = distance(images[:n], images[n:]).double() / epsilon**2
        out[start:start + n] = dist.cpu().numpy()
    return out


def filtered_mean(values: np.ndarray, low: float = 1.0, high: float = 99.0) -> float:
    """Mean of the values within the [low, high] percentiles (StyleGAN2's outlier filter)."""
    values = np.asarray(values, dtype=np.float64)
    lower = np.percentile(values, low, method="lower")
    upper = np.percentile(values, high, method="higher")
    return float(values[(values >= lower) & (values <= upper)].mean())
