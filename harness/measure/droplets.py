"""The droplet statistic of Figure 1: how much a few pixels dominate G's feature maps.

AdaIN generators learn a localised spike (the "droplet") that carries most of a feature map's
magnitude from 64x64 upwards (Section 2 of the paper); demodulation removes it. Per feature map the
statistic is the share of the total |activation| held by the largest 1% of its pixels: about
1% for a smooth map and close to 1 for a single spike. It is averaged over samples and channels of
the resolutions >= 64 (or the top two resolutions when the images are smaller).
"""

import math

import torch

DEFAULT_MIN_RESOLUTION = 64
DEFAULT_TOP_FRACTION = 0.01


def top_share(feature_maps: torch.Tensor, fraction: float = DEFAULT_TOP_FRACTION) -> torch.Tensor:
    """Share of sum |x| held by the top `fraction` of pixels of each map.

    feature_maps: [N, C, H, W] -> [N, C], each value in [k / (H * W), 1] with
    k = max(1, round(fraction * H * W)) pixels; maps that are all zero give 0.
    """
    if feature_maps.ndim != 4:
        raise ValueError(f"feature_maps must be [N, C, H, W], got shape {tuple(feature_maps.shape)}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    magnitude = feature_maps.detach().abs().flatten(2).to(torch.float32)
    k = max(1, round(fraction * magnitude.shape[-1]))
    top = magnitude.topk(k, dim=-1).values.sum(-1)
    total = magnitude.sum(-1)
    return torch.where(total > 0, top / total.clamp(min=torch.finfo(total.dtype).tiny), torch.zeros_like(top))


def droplet_resolutions(available, min_resolution: int = DEFAULT_MIN_RESOLUTION) -> list[int]:
    """Resolutions the statistic uses: those >= min_resolution, else the top two available."""
    available = sorted(int(res) for res in available)
    selected = [res for res in available if res >= min_resolution]
    return selected or available[-2:]


def droplet_statistic(features: dict[int, torch.Tensor], *, min_resolution: int = DEFAULT_MIN_RESOLUTION,
                      fraction: float = DEFAULT_TOP_FRACTION) -> dict[str, float]:
    """{"droplet": mean top share over the chosen resolutions, "droplet/<res>": per resolution}.

    features: {resolution: [N, C, r, r]} (the generator trace's `features`).
    """
    if not features:
        raise ValueError("droplet_statistic needs at least one feature map")
    record = {}
    for resolution in droplet_resolutions(features, min_resolution):
        record[f"droplet/{resolution}"] = float(top_share(features[resolution], fraction).mean())
    record["droplet"] = math.fsum(record.values()) / len(record)
    return record


@torch.no_grad()
def measure_droplets(generator, z: torch.Tensor, **kwargs) -> dict[str, float]:
    """The droplet statistic of `generator`'s feature maps for latents z [N, z_dim] (constant noise)."""
    ws = generator.mapping(z)
    _, trace = generator.synthesis(ws, noise_mode="const", return_trace=True)
    return droplet_statistic(trace.features, **kwargs)
