"""Figure 8: how much each resolution's ToRGB contributes to a skip generator's output.

For a fixed set of latents (1024 in the paper) the generator is run once; for each resolution r the
ToRGB output `trace.rgb[r]` ([N, C, r, r], before upsampling and summation) has a per-pixel
standard deviation over the N samples; its mean over pixels and channels, normalised so that the
resolutions sum to 1, is that resolution's share (the paper plots it in percent).
"""

import torch

from harness.measure.throughput import synchronize


def fixed_latents(z_dim: int, num_samples: int, seed: int,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """The fixed z set [num_samples, z_dim] every tick of a run (and every config) evaluates."""
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(num_samples, z_dim, generator=generator).to(device)


class _RunningMoments:
    """Per-element mean and variance over batches (float64, one pass)."""

    def __init__(self):
        self.count, self.total, self.total_squares = 0, None, None

    def add(self, batch: torch.Tensor) -> None:
        batch = batch.detach().to(torch.float64)
        batch_sum, batch_squares = batch.sum(0), batch.square().sum(0)
        if self.total is None:
            self.total, self.total_squares = batch_sum, batch_squares
        else:
            self.total += batch_sum
            self.total_squares += batch_squares
        self.count += batch.shape[0]

    def std(self) -> torch.Tensor:
        mean = self.total / self.count
        return (self.total_squares / self.count - mean.square()).clamp(min=0).sqrt()


def shares_from_std(std_per_resolution: dict[int, float]) -> dict[int, float]:
    """Normalise {resolution: std} to {resolution: share} summing to 1 (all zero -> equal shares)."""
    total = sum(std_per_resolution.values())
    if total <= 0:
        return {res: 1.0 / len(std_per_resolution) for res in std_per_resolution}
    return {res: value / total for res, value in sorted(std_per_resolution.items())}


def rgb_std(rgb_batches) -> dict[int, float]:
    """Mean per-pixel std over samples of each resolution's ToRGB output.

    rgb_batches: iterable of {resolution: [N_b, 3, r, r]} (one dict per batch of latents).
    """
    moments: dict[int, _RunningMoments] = {}
    for rgb in rgb_batches:
        for resolution, image in rgb.items():
            moments.setdefault(int(resolution), _RunningMoments()).add(image)
    return {res: float(moment.std().mean()) for res, moment in sorted(moments.items())}


@torch.no_grad()
def resolution_shares(generator, z: torch.Tensor, *, batch_size: int = 256) -> dict[int, float] | None:
    """Figure 8 shares {resolution: share} of `generator` for latents z [N, z_dim].

    Uses truncation psi=1 and constant noise so the spread comes from w alone. Returns None for a
    generator without output skips (original, residual), where the figure does not apply, also
    while an original G fades a level in (its two ToRGBs are blended, not summed).
    """
    if not generator.synthesis.rgb_every_block:
        return None

    def batches():
        for start in range(0, z.shape[0], batch_size):
            ws = generator.mapping(z[start:start + batch_size])
            _, trace = generator.synthesis(ws, noise_mode="const", return_trace=True)
            yield trace.rgb

    std = rgb_std(batches())
    synchronize(z.device)
    return shares_from_std(std)
