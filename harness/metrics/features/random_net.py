"""A seeded, randomly initialised conv net (`--features random`): for tests only, its numbers mean nothing.

Three stride-2 3x3 convolutions with leaky ReLU; features are the concatenated spatial means of the
three stages, and the perceptual distance is the unweighted LPIPS form on the same stages.
"""

import torch
import torch.nn.functional as F
from torch import nn

from harness.metrics.features.base import (
    FeatureNetwork,
    PerceptualDistance,
    area_resize,
    check_images,
    lpips_style_distance,
)

RANDOM_CHANNELS = (16, 32, 64)
RANDOM_INPUT_SIZE = 64
RANDOM_SEED = 0
RANDOM_REASON = "a seeded random network for tests: its numbers mean nothing"


class RandomConvNet(nn.Module):
    """Convolutions initialised from a fixed seed (independent of the global RNG)."""

    def __init__(self, seed: int = RANDOM_SEED):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        layers, in_channels = [], 3
        for channels in RANDOM_CHANNELS:
            conv = nn.Conv2d(in_channels, channels, 3, stride=2, padding=1)
            with torch.no_grad():
                weight = torch.randn(conv.weight.shape, generator=generator) / (in_channels * 9) ** 0.5
                conv.weight.copy_(weight)
                conv.bias.zero_()
            layers.append(conv)
            in_channels = channels
        self.convs = nn.ModuleList(layers)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = check_images(images) / 127.5 - 1.0
        stages = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
            stages.append(x)
        return stages


class RandomFeatures(FeatureNetwork):
    """Random net -> [N, 112] features (spatial means of its stages); images resized to `input_size`."""

    def __init__(self, input_size: int = RANDOM_INPUT_SIZE, seed: int = RANDOM_SEED):
        super().__init__()
        self.name = f"random (seed {seed}; tests only)"
        self.comparability_reason = RANDOM_REASON
        self.weights_sha256 = None
        self.preprocessing = "area resize (bilinear when enlarging) to input_size; x / 127.5 - 1"
        self.feature_dim = sum(RANDOM_CHANNELS)
        self.input_size = input_size
        self.net = RandomConvNet(seed)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        stages = self.net(area_resize(check_images(images), self.input_size))
        return torch.cat([stage.mean(dim=(2, 3)) for stage in stages], dim=1)


class RandomDistance(PerceptualDistance):
    """Unweighted LPIPS-style distance on the random net's stages; [N] per image pair."""

    def __init__(self, seed: int = RANDOM_SEED):
        super().__init__()
        self.name = f"random perceptual (seed {seed}; tests only)"
        self.comparability_reason = RANDOM_REASON
        self.weights_sha256 = None
        self.preprocessing = "no resize; x / 127.5 - 1"
        self.input_size = None
        self.net = RandomConvNet(seed)

    def forward(self, images0: torch.Tensor, images1: torch.Tensor) -> torch.Tensor:
        return lpips_style_distance(self.net(images0), self.net(images1))
