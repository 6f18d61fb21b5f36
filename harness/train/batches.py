"""Real minibatches: the seeded data order every config shares, and resizing for progressive growing."""

import numpy as np
import torch

from harness.data import ImageDataset, to_float
from variants.layers import downscale_box, upscale_nearest


class DataOrder:
    """A seeded permutation of the dataset, a fresh one per epoch, addressed by images consumed.

    With xflip the dataset is doubled: virtual index i >= N is image i - N mirrored (as in
    stylegan2-ada's --mirror), so flips are part of the order and as reproducible as it is.
    The order depends only on (seed, dataset size, xflip): every config sees the same images in
    the same order for the same seed, and a resumed run continues from `images_shown` alone.
    """

    def __init__(self, num_images: int, seed: int, xflip: bool = False):
        if num_images < 1:
            raise ValueError("the dataset has no images")
        self.num_images, self.seed, self.xflip = num_images, int(seed), bool(xflip)
        self.epoch_size = num_images * (2 if xflip else 1)
        self._cached_epoch, self._cached_permutation = -1, None

    def permutation(self, epoch: int) -> np.ndarray:
        """Virtual indices [epoch_size] of epoch `epoch`."""
        if epoch != self._cached_epoch:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch]))
            self._cached_epoch, self._cached_permutation = epoch, rng.permutation(self.epoch_size)
        return self._cached_permutation

    def indices(self, start: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(dataset indices [count], flip mask [count] bool) of images start .. start + count - 1."""
        virtual = np.empty(count, dtype=np.int64)
        filled = 0
        while filled < count:
            epoch, offset = divmod(start + filled, self.epoch_size)
            chunk = self.permutation(epoch)[offset:offset + count - filled]
            virtual[filled:filled + len(chunk)] = chunk
            filled += len(chunk)
        return virtual % self.num_images, virtual >= self.num_images

    def batch(self, dataset: ImageDataset, start: int, count: int) -> torch.Tensor:
        """uint8 images [count, C, H, W] (CPU) of positions start .. start + count - 1."""
        indices, flips = self.indices(start, count)
        return dataset.get(indices, xflip=flips if self.xflip else None)


def prepare_reals(images: torch.Tensor, resolution: int, alpha: float, device: torch.device) -> torch.Tensor:
    """uint8 [N, C, R, R] -> float [N, C, R, R] in [-1, 1] on `device`, at the level of detail of growing.

    As the official loop (training/training_loop.py (TF StyleGAN2) process_reals, FadeLOD and
    UpscaleLOD): the image is box-downsampled to `resolution` (the official datasets build their lower
    levels of detail by 2x2 averaging), blended during a fade-in (alpha < 1) with its 2x2 block means,
    then repeated back to R x R, so the networks always see the full resolution.
    """
    reals = to_float(images.to(device, non_blocking=True))
    factor = reals.shape[-1] // resolution
    reals = downscale_box(reals, factor)
    if alpha < 1.0:
        reals = torch.lerp(upscale_nearest(downscale_box(reals, 2), 2), reals, float(alpha))
    return upscale_nearest(reals, factor)
