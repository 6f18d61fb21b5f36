"""What every feature network and perceptual distance shares: provenance, input checks, resizing, loading.

Images enter every network in the uint8 range: float or uint8 tensors [N, 3, H, W] (or grayscale
[N, 1, H, W], repeated to RGB by `check_images`) with values 0..255 (the metrics quantise generated
images to uint8 first, SPEC section 4, except PPL whose epsilon-sized
differences quantisation would erase).
"""

import os
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.metrics.features.weights import file_sha256

# Bump when the pixels a network sees change outside the network: the uint8 quantisation of generated
# images (x * 127.5 + 128, clamped), how real images are read, PPL's pixel map. Part of every cache key.
PREPROCESSING_VERSION = 2
COMPARABILITY_LEVELS = ("comparable", "approximately comparable", "not comparable")


class _Provenance:
    """`provenance()` for networks with name, weights_sha256, input_size, preprocessing, comparability.

    `comparability` is one of COMPARABILITY_LEVELS and `comparability_reason` says what was verified
    against the network the paper's numbers came from (set when published weights are loaded).
    """

    comparability: str = "not comparable"
    comparability_reason: str = "not one of the networks the published numbers were computed with"
    preprocessing: str = ""

    @property
    def comparable_to_published(self) -> bool:
        """Comparable or approximately comparable (the older boolean field of metric rows)."""
        return self.comparability != "not comparable"

    def set_comparability(self, level: str, reason: str) -> None:
        if level not in COMPARABILITY_LEVELS:
            raise ValueError(f"comparability must be one of {COMPARABILITY_LEVELS}, got {level!r}")
        self.comparability, self.comparability_reason = level, reason

    def provenance(self) -> dict:
        """The fields a metrics row records about this network (and that key the feature cache)."""
        return {
            "feature_network": self.name,
            "weights_sha256": self.weights_sha256,
            "feature_input_size": self.input_size,
            "preprocessing": f"v{PREPROCESSING_VERSION}: {self.preprocessing}",
            "comparability": self.comparability,
            "comparability_reason": self.comparability_reason,
            "comparable_to_published": self.comparable_to_published,
        }


class FeatureNetwork(_Provenance, nn.Module):
    """Maps images [N, 3, H, W] (0..255) to features [N, feature_dim] (float32).

    Provenance recorded with every number: `name`, `weights_sha256` (None for the random network),
    `comparability` (+ reason), `preprocessing` (resize and normalisation), `feature_dim`,
    `input_size` (the side images are resized to).
    """

    name: str
    weights_sha256: str | None
    feature_dim: int
    input_size: int


class PerceptualDistance(_Provenance, nn.Module):
    """Maps two image batches [N, 3, H, W] (0..255, float) to distances [N] (for PPL).

    Same provenance fields as FeatureNetwork; `input_size` is None (images are used at their size).
    """

    name: str
    weights_sha256: str | None
    input_size: int | None = None


def check_images(images: torch.Tensor) -> torch.Tensor:
    """Validate [N, 3, H, W] or grayscale [N, 1, H, W] images in 0..255; float32 [N, 3, H, W].

    Grayscale is repeated to three channels, as the official metrics do (TF StyleGAN2
    metrics/frechet_inception_distance.py tiles one channel to RGB before the Inception graph).
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor [N, 3, H, W], got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape [N, 3, H, W] (or [N, 1, H, W] grayscale), "
                         f"got {list(images.shape)}")
    images = images.to(torch.float32)
    return images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images


def unit_normalize(features: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Divide each spatial feature vector [N, C, H, W] by its L2 norm over C (LPIPS's normalisation)."""
    return features / (features.square().sum(dim=1, keepdim=True).sqrt() + eps)


def lpips_style_distance(
    features0: list[torch.Tensor], features1: list[torch.Tensor], weights: list[torch.Tensor] | None = None
) -> torch.Tensor:
    """sum over layers of mean over space of sum_c w_c (f0_hat - f1_hat)^2 -> [N] (Zhang et al. 2018, Eq. 1).

    `features*` are per-layer maps [N, C_l, H_l, W_l]; `weights` are LPIPS's [1, C_l, 1, 1] linear
    layers, or None for the unweighted form (every w_c = 1).
    """
    total = 0.0
    for layer, (f0, f1) in enumerate(zip(features0, features1, strict=True)):
        squared = (unit_normalize(f0) - unit_normalize(f1)).square()
        if weights is not None:
            squared = F.conv2d(squared, weights[layer])
        else:
            squared = squared.sum(dim=1, keepdim=True)
        total = total + squared.mean(dim=(2, 3)).flatten()
    return total


def tf1_resize_matrix(in_size: int, out_size: int, device=None) -> torch.Tensor:
    """[out, in] matrix of TF1 `resize_bilinear(align_corners=False)`: source = dest * in/out (no half-pixel
    offset, no antialiasing), as in the Inception graph the FID literature uses."""
    source = torch.arange(out_size, dtype=torch.float64) * (in_size / out_size)
    lower = source.floor().long().clamp(max=in_size - 1)
    upper = (lower + 1).clamp(max=in_size - 1)
    frac = source - lower
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64)
    rows = torch.arange(out_size)
    matrix.index_put_((rows, lower), 1.0 - frac, accumulate=True)
    matrix.index_put_((rows, upper), frac, accumulate=True)
    return matrix.to(device=device, dtype=torch.float32)


def tf1_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize [N, C, H, W] to [N, C, size, size] with TF1 bilinear semantics (see tf1_resize_matrix)."""
    height, width = images.shape[-2:]
    if (height, width) == (size, size):
        return images
    rows = tf1_resize_matrix(height, size, images.device)
    cols = tf1_resize_matrix(width, size, images.device)
    return torch.einsum("oh,nchw,pw->ncop", rows, images, cols)


def area_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize [N, C, H, W] to size x size: area averaging when shrinking, bilinear when enlarging."""
    if images.shape[-2:] == (size, size):
        return images
    if images.shape[-1] > size:
        return F.interpolate(images, size=(size, size), mode="area")
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)


def load_state_dict_file(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], str]:
    """Read a weight file without unpickling code (torch.load weights_only) -> (state dict, sha256)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict (got {type(state).__name__})")
    return state, file_sha256(path)


def build_uninitialized(factory: Callable[[], nn.Module]) -> nn.Module:
    """`factory()` without spending time on random initialisation (every tensor will be loaded):
    built on the meta device, then given empty CPU storage."""
    with torch.device("meta"):
        module = factory()
    return module.to_empty(device="cpu")


def load_matching_state_dict(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy `state` into `module`, requiring the same key names and shapes (BatchNorm's
    num_batches_tracked may be absent: files saved by old PyTorch versions lack it, and it is unused
    in eval mode, so it is then set to 0)."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k}: {list(state[k].shape)} != {list(v.shape)}" for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        raise ValueError(
            f"{source} does not match the network: missing keys {missing[:5]}, unexpected keys "
            f"{unexpected[:5]}, wrong shapes {wrong[:5]} (is it the right file?)"
        )
    module.load_state_dict(state, strict=False)
    for key, tensor in module.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state:
            tensor.zero_()


ImageSource = np.ndarray | torch.Tensor | Callable[[int, int], torch.Tensor]


def iterate_batches(images: ImageSource, num_images: int, batch_size: int) -> Iterator[torch.Tensor]:
    """Yield uint8-range batches [B, 3, H, W] from an array/tensor or a `fetch(start, stop)` callable."""
    for start in range(0, num_images, batch_size):
        stop = min(start + batch_size, num_images)
        if callable(images):
            yield images(start, stop)
        else:
            yield torch.as_tensor(np.asarray(images[start:stop]))


@torch.no_grad()
def compute_features(
    network: FeatureNetwork, images: ImageSource, *, num_images: int | None = None, batch_size: int = 64,
    device: torch.device | str | None = None, progress: bool = False,
) -> np.ndarray:
    """Features [N, D] float32 of N images (0..255), computed in batches without gradients."""
    if num_images is None:
        if callable(images):
            raise ValueError("num_images is required when images is a callable")
        num_images = len(images)
    device = torch.device(device) if device is not None else next(network.parameters()).device
    out = np.empty((num_images, network.feature_dim), dtype=np.float32)
    batches = iterate_batches(images, num_images, batch_size)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, total=-(-num_images // batch_size), desc=f"features ({network.name})")
    position = 0
    for batch in batches:
        features = network(batch.to(device))
        out[position:position + len(features)] = features.float().cpu().numpy()
        position += len(features)
    return out
