"""LPIPS v0.1 on VGG-16 (Zhang et al. 2018), the perceptual distance of PPL, in plain torch.

Two files: the VGG-16 trunk (`vgg16-397923af.pth`, torchvision key names) and LPIPS's linear layers
(`vgg.pth`, keys `lin0.model.1.weight` ... `lin4.model.1.weight`, shapes [1, C, 1, 1] for
C = 64, 128, 256, 512, 512). Images 0..255 are mapped to [-1, 1] and through LPIPS's scaling layer;
each of relu1_2 .. relu5_3 is unit-normalised over channels, the squared difference weighted by the
linear layer, averaged over space and summed over layers. No resizing: PPL downsamples beforehand.
"""

import torch
from torch import nn

from harness.metrics.features.base import PerceptualDistance, check_images, lpips_style_distance
from harness.metrics.features.vgg16 import LPIPS_CHANNELS, LPIPS_TAPS, build_vgg16_trunk

# LPIPS's ScalingLayer: x in [-1, 1] -> (x - shift) / scale, close to the ImageNet normalisation.
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)


class LinearLayer(nn.Module):
    """LPIPS's NetLinLayer: `model` = (Dropout, 1x1 conv to 1 channel, no bias); key `model.1.weight`."""

    def __init__(self, channels: int):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, kernel_size=1, bias=False))


class LpipsLinearLayers(nn.Module):
    """The five LPIPS v0.1 linear layers, with the key names of `vgg.pth`."""

    def __init__(self):
        super().__init__()
        for index, channels in enumerate(LPIPS_CHANNELS):
            self.add_module(f"lin{index}", LinearLayer(channels))

    def weights(self) -> list[torch.Tensor]:
        return [getattr(self, f"lin{index}").model[1].weight for index in range(len(LPIPS_CHANNELS))]


class VGG16Trunk(nn.Module):
    """VGG-16 convolutions (keys `features.*`) returning the five LPIPS taps."""

    def __init__(self):
        super().__init__()
        self.features = build_vgg16_trunk()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in LPIPS_TAPS:
                taps.append(x)
            if index == LPIPS_TAPS[-1]:
                break
        return taps


class LpipsVGG16(PerceptualDistance):
    """LPIPS v0.1 (VGG-16): (img0, img1) [N, 3, H, W] in 0..255 -> distances [N]."""

    def __init__(self):
        super().__init__()
        self.name = "lpips-vgg16 (LPIPS v0.1, vgg16-397923af)"
        self.weights_sha256 = None
        self.preprocessing = "no resize; x / 127.5 - 1; LPIPS scaling layer"
        self.input_size = None
        self.net = VGG16Trunk()
        self.lins = LpipsLinearLayers()

    def _taps(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = check_images(images) / 127.5 - 1.0
        shift = torch.tensor(LPIPS_SHIFT, device=x.device).view(1, 3, 1, 1)
        scale = torch.tensor(LPIPS_SCALE, device=x.device).view(1, 3, 1, 1)
        return self.net((x - shift) / scale)

    def forward(self, images0: torch.Tensor, images1: torch.Tensor) -> torch.Tensor:
        return lpips_style_distance(self._taps(images0), self._taps(images1), self.lins.weights())
