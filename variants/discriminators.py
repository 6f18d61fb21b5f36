"""Discriminators in three architectures (paper Fig. 7), all ending in the same epilogue.

- 'original': FromRGB at the input, then feed-forward blocks (plus a FromRGB per level when growing;
  while growing the input stays at full resolution and is box-downsampled to the top level).
- 'skip' ("input skips"): the FIR-downsampled image enters every block through its own FromRGB.
- 'residual': residual blocks with a 1x1 downsampling skip conv, sum scaled by 1/sqrt(2).
Epilogue (all): minibatch standard deviation, 3x3 conv, two dense layers -> one logit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from common.registry import Registry
from fused_ops.upfirdn2d import downsample2d
from variants.configs import Config
from variants.growing import GrowableMixin, Growth, fade
from variants.layers import (
    ConvLayer,
    DenseLayer,
    FromRGB,
    MinibatchStdDev,
    UsesFusedOps,
    downscale_box,
    make_resample_filter,
    set_impl,
)

RESIDUAL_GAIN = np.sqrt(0.5)


class DiscriminatorBlock(nn.Module):
    """One resolution of D: [N, C, r, r] -> [N, C', r/2, r/2]; optional FromRGB for an image at r."""

    def __init__(self, channels: int, out_channels: int, *, resolution: int, has_fromrgb: bool,
                 residual: bool, img_channels: int, conv_clamp: float | None, family: str, impl: str) -> None:
        super().__init__()
        self.resolution = resolution
        kwargs = dict(conv_clamp=conv_clamp, family=family, impl=impl)
        self.fromrgb = FromRGB(channels, img_channels=img_channels, **kwargs) if has_fromrgb else None
        self.conv0 = ConvLayer(channels, channels, 3, activation="lrelu", **kwargs)
        self.conv1 = ConvLayer(channels, out_channels, 3, activation="lrelu", down=2, **kwargs)
        self.skip = ConvLayer(channels, out_channels, 1, bias=False, down=2, impl=impl) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.skip is None:
            return self.conv1(self.conv0(x))
        skip = self.skip(x, gain=RESIDUAL_GAIN)
        return skip + self.conv1(self.conv0(x), gain=RESIDUAL_GAIN)


class DiscriminatorEpilogue(nn.Module):
    """4x4 features [N, C, 4, 4] -> logits [N, 1]: mbstd, 3x3 conv, dense, dense."""

    def __init__(self, channels: int, *, has_fromrgb: bool, mbstd_group: int, mbstd_channels: int,
                 img_channels: int, conv_clamp: float | None, family: str, impl: str) -> None:
        super().__init__()
        kwargs = dict(conv_clamp=conv_clamp, family=family, impl=impl)
        self.fromrgb = FromRGB(channels, img_channels=img_channels, **kwargs) if has_fromrgb else None
        self.mbstd = MinibatchStdDev(mbstd_group, mbstd_channels) if mbstd_channels > 0 else None
        self.conv = ConvLayer(channels + mbstd_channels, channels, 3, activation="lrelu", **kwargs)
        self.fc = DenseLayer(channels * 16, channels, activation="lrelu", family=family, impl=impl)
        self.out = DenseLayer(channels, 1, impl=impl)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        return self.out(self.fc(x.flatten(1)))


class Discriminator(GrowableMixin, UsesFusedOps):
    """D: img [N, C, R, R] (C: cfg.img_channels) -> logits [N, 1] at full resolution R, also while
    growing; in DISCRIMINATORS.

    While growing at top resolution r (official: training/networks_stylegan2.py (TF StyleGAN2)
    D_stylegan and training/networks_stylegan.py D_basic, 'recursive' structure): the top block reads
    the input box-downsampled to r x r, and the fading-out level reads it box-downsampled to r/2.
    """

    registered_name: str = ""
    kind = "discriminator"
    input_skips = False
    residual = False
    supports_growing = False

    def __init__(self, cfg: Config, *, impl: str | None = None) -> None:
        impl = cfg.impl if impl is None else impl
        super().__init__(impl)
        if cfg.d_arch != self.registered_name:
            raise ValueError(f"{type(self).__name__} is the {self.registered_name!r} discriminator but "
                             f"config {cfg.name!r} asks for d_arch={cfg.d_arch!r}; "
                             f"use variants.build_discriminator(cfg)")
        self.config, self.resolution = cfg, cfg.resolution
        self._growable = self.supports_growing and cfg.growing
        self._growth_start, self._growth = cfg.growing_start_res, Growth(cfg.resolution)
        self.register_buffer("resample_filter", make_resample_filter(), persistent=False)
        kwargs = dict(img_channels=cfg.img_channels, conv_clamp=cfg.conv_clamp, family=cfg.layer_family,
                      impl=impl)
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(cfg.channels_at(res), cfg.channels_at(res // 2), resolution=res,
                               has_fromrgb=(self.input_skips or res == cfg.resolution
                                            or (self._growable and res >= cfg.growing_start_res)),
                               residual=self.residual, **kwargs)
            for res in reversed(cfg.resolutions[1:]))
        self.epilogue = DiscriminatorEpilogue(
            cfg.channels_at(4), has_fromrgb=self.input_skips or self._growth_levels()[0] == 4,
            mbstd_group=cfg.mbstd_group, mbstd_channels=cfg.mbstd_channels, **kwargs)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """img: [N, C, R, R] at full resolution R -> logits [N, 1]."""
        top, alpha, full = self._growth.resolution, self._growth.alpha, self.resolution
        channels = self.config.img_channels
        if img.ndim != 4 or img.shape[1:] != (channels, full, full):
            raise ValueError(f"{type(self).__name__} expects images [N, {channels}, {full}, {full}], "
                             f"got {list(img.shape)}")
        img = downscale_box(img, full // top)  # growing: the top level reads the R x R input averaged
        fading = self._growable and alpha < 1.0 and top > self._growth_start
        x = None
        for block in self.blocks:
            if block.resolution > top:
                continue
            if block.resolution == top:
                x = block.fromrgb(img)
            elif self.input_skips:  # the image, downsampled once more, enters every block
                img = self._downsample(img)
                x = x + block.fromrgb(img)
            elif fading and block.resolution == top // 2:  # new top level fades in over the old input
                x = fade(block.fromrgb(downscale_box(img, 2)), x, alpha)
            x = block(x)
        if top == 4:  # no block ran: the image enters the epilogue directly
            x = self.epilogue.fromrgb(img)
        elif self.input_skips:
            x = x + self.epilogue.fromrgb(self._downsample(img))
        return self.epilogue(x)

    def _growth_levels(self) -> tuple[int, ...]:
        """The top resolutions this network can run at (one unless it grows)."""
        start = self._growth_start if self._growable else self.resolution
        return tuple(res for res in self.config.resolutions if res >= start)

    def _downsample(self, img: torch.Tensor) -> torch.Tensor:
        return downsample2d(img, self.resample_filter, impl=self.impl)

    def set_impl(self, impl: str) -> None:
        """Run every fused op with impl 'ref' | 'fused' | 'auto'."""
        set_impl(self, impl)


DISCRIMINATORS: Registry = Registry("discriminator", Discriminator)


@DISCRIMINATORS.register("original")
class OriginalDiscriminator(Discriminator):
    """StyleGAN's feed-forward discriminator; the only one that can grow progressively."""

    supports_growing = True


@DISCRIMINATORS.register("skip")
class SkipDiscriminator(Discriminator):
    """Input skips: the downsampled image enters every resolution block."""

    input_skips = True


@DISCRIMINATORS.register("residual")
class ResidualDiscriminator(Discriminator):
    """Residual blocks: 1x1 downsampling skip conv, sum scaled by 1/sqrt(2)."""

    residual = True


def build_discriminator(cfg: Config, *, impl: str | None = None) -> Discriminator:
    """The discriminator `cfg.d_arch` built from cfg; `impl` overrides cfg.impl for its fused ops."""
    return DISCRIMINATORS.get(cfg.d_arch)(cfg, impl=impl)


def list_discriminators() -> tuple[str, ...]:
    return DISCRIMINATORS.names()
