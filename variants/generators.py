"""Generators: mapping network f plus synthesis network g in three architectures (paper Fig. 7).

- 'original': feed-forward blocks, one ToRGB at the output (plus one per level when growing; while
  growing the output stays at full resolution, the top level's image repeated to R x R).
- 'skip': a ToRGB at every resolution; the RGB images are FIR-upsampled and summed (Fig. 7b).
- 'residual': residual blocks, sum scaled by 1/sqrt(2), one ToRGB at the output (Fig. 7c).
Each uses the style block of `cfg.style_block` ('adain' or 'demod', see style_blocks.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from common.options import check_choice
from common.registry import Registry
from fused_ops.upfirdn2d import upsample2d
from variants.configs import Config
from variants.growing import GrowableMixin, Growth, fade
from variants.layers import (
    NOISE_MODES,
    ConstantInput,
    ConvLayer,
    MappingNetwork,
    ToRGB,
    UsesFusedOps,
    make_resample_filter,
    set_impl,
    upscale_nearest,
)
from variants.style_blocks import STYLE_BLOCKS, StyleLayer

RESIDUAL_GAIN = np.sqrt(0.5)


@dataclass
class SynthesisTrace:
    """What `G.synthesis(..., return_trace=True)` reports beside the image.

    rgb: {resolution: [N, C, r, r]}, each ToRGB output before it is upsampled and summed.
    features: {resolution: [N, C, r, r]}, the last feature map of each block that ran.
    """

    rgb: dict[int, torch.Tensor] = field(default_factory=dict)
    features: dict[int, torch.Tensor] = field(default_factory=dict)


def mix_styles(ws_a: torch.Tensor, ws_b: torch.Tensor, crossover: int) -> torch.Tensor:
    """Style mixing: layers < crossover take ws_a, layers >= crossover take ws_b; [N, num_ws, w_dim]."""
    if ws_a.shape != ws_b.shape or ws_a.ndim != 3:
        raise ValueError(f"ws_a {list(ws_a.shape)} and ws_b {list(ws_b.shape)} must both be "
                         f"[N, num_ws, w_dim]")
    if not 0 <= crossover <= ws_a.shape[1]:
        raise ValueError(f"crossover must lie in [0, num_ws={ws_a.shape[1]}], got {crossover}")
    return torch.cat([ws_a[:, :crossover], ws_b[:, crossover:]], dim=1)


def crop_to_content(img: torch.Tensor, content_height: int | None) -> torch.Tensor:
    """Keep the centred `content_height` rows of [N, C, H, W] (LSUN Car 512x384); None keeps all."""
    if content_height is None:
        return img
    if content_height > img.shape[2]:
        raise ValueError(f"content_height {content_height} exceeds the image height {img.shape[2]}")
    top = (img.shape[2] - content_height) // 2
    return img[:, :, top:top + content_height]


class SynthesisBlock(nn.Module):
    """One resolution of g: [N, in, r/2, r/2] -> [N, out, r, r] (the 4x4 block starts from a constant)."""

    def __init__(self, in_channels: int, out_channels: int, *, resolution: int, w_dim: int,
                 layer_cls: type[StyleLayer], residual: bool, has_torgb: bool, img_channels: int,
                 conv_clamp: float | None, family: str, impl: str) -> None:
        super().__init__()
        self.resolution = resolution
        kwargs = dict(w_dim=w_dim, conv_clamp=conv_clamp, family=family, impl=impl)
        if in_channels == 0:
            self.const = ConstantInput(out_channels, init=layer_cls.constant_init)
            self.layers = nn.ModuleList(layer_cls.input_layers(out_channels, **kwargs))
        else:
            self.const = None
            self.layers = nn.ModuleList([
                layer_cls(in_channels, out_channels, resolution=resolution, up=2, **kwargs),
                layer_cls(out_channels, out_channels, resolution=resolution, **kwargs)])
        self.skip = (ConvLayer(in_channels, out_channels, 1, bias=False, up=2, impl=impl)
                     if residual and in_channels else None)
        self.torgb = (ToRGB(out_channels, w_dim, modulated=layer_cls.modulated_torgb,
                            img_channels=img_channels, conv_clamp=conv_clamp, impl=impl)
                      if has_torgb else None)
        self.num_conv = len(self.layers)
        self.torgb_uses_w = has_torgb and layer_cls.modulated_torgb

    def forward(self, x: torch.Tensor | None, ws: torch.Tensor, noise_mode: str) -> torch.Tensor:
        """x: [N, in, r/2, r/2] or None (4x4 block); ws: [N, num_conv, w_dim]."""
        if self.const is not None:
            x = self.const(ws.shape[0])
        skip = None if self.skip is None else self.skip(x, gain=RESIDUAL_GAIN)
        for index, layer in enumerate(self.layers):
            last = index == len(self.layers) - 1
            gain = RESIDUAL_GAIN if (last and skip is not None) else 1.0
            x = layer(x, ws[:, index], noise_mode=noise_mode, gain=gain)
        return x if skip is None else skip + x


class SynthesisNetwork(GrowableMixin, UsesFusedOps):
    """g: ws [N, num_ws, w_dim] -> img [N, C, R, R] (C: cfg.img_channels) at full resolution R, also
    while growing.

    While growing at top resolution r (official: training/networks_stylegan2.py (TF StyleGAN2)
    G_synthesis_stylegan_revised and training/networks_stylegan.py G_synthesis, 'recursive' structure):
    the fading-in level blends over the previous level's ToRGB upsampled nearest, and the r x r
    image is repeated to R x R.
    """

    def __init__(self, cfg: Config, *, registered_name: str, rgb_every_block: bool, residual: bool,
                 growable: bool, impl: str) -> None:
        super().__init__(impl)
        self.config, self.registered_name, self.rgb_every_block = cfg, registered_name, rgb_every_block
        self.resolution = cfg.resolution
        self._growable, self._growth_start = growable, cfg.growing_start_res
        self._growth = Growth(cfg.resolution)
        layer_cls = STYLE_BLOCKS.get(cfg.style_block)
        self.register_buffer("resample_filter", make_resample_filter(), persistent=False)
        blocks, offsets, offset = [], [], 0
        for res in cfg.resolutions:
            grows_here = growable and res >= cfg.growing_start_res  # a level the output can stop at
            has_torgb = rgb_every_block or res == cfg.resolution or grows_here
            in_channels = 0 if res == 4 else cfg.channels_at(res // 2)
            block = SynthesisBlock(in_channels, cfg.channels_at(res), resolution=res, w_dim=cfg.w_dim,
                                   layer_cls=layer_cls, residual=residual, has_torgb=has_torgb,
                                   img_channels=cfg.img_channels, conv_clamp=cfg.conv_clamp,
                                   family=cfg.layer_family, impl=impl)
            blocks.append(block)
            offsets.append(offset)
            offset += block.num_conv
        self.blocks = nn.ModuleList(blocks)
        self.w_offsets = tuple(offsets)  # index of each block's first w in ws
        self.num_ws = offset + int(layer_cls.modulated_torgb)  # the last ToRGB takes one more w

    def _to_rgb(self, index: int, x: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
        block = self.blocks[index]
        w = ws[:, self.w_offsets[index] + block.num_conv] if block.torgb_uses_w else None
        return block.torgb(x, w)

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", return_trace: bool = False):
        """ws: [N, num_ws, w_dim]. Returns img [N, C, R, R], or (img, SynthesisTrace) with return_trace."""
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.config.w_dim):
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.config.w_dim}], "
                             f"got {list(ws.shape)}")
        check_choice("noise_mode", noise_mode, NOISE_MODES)
        top, alpha = self._growth.resolution, self._growth.alpha
        fading = self._growable and alpha < 1.0 and top > self._growth_start
        trace, x, previous_x, img = SynthesisTrace(), None, None, None
        for index, block in enumerate(self.blocks):
            if block.resolution > top:
                break
            previous_x = x
            block_ws = ws[:, self.w_offsets[index]:self.w_offsets[index] + block.num_conv]
            x = block(x, block_ws, noise_mode)
            trace.features[block.resolution] = x
            if self.rgb_every_block:  # output skips: upsample the running image, add this level's RGB
                rgb = trace.rgb[block.resolution] = self._to_rgb(index, x, ws)
                img = rgb if img is None else self._upsample(img) + rgb
            elif block.resolution == top:
                img = trace.rgb[top] = self._to_rgb(index, x, ws)
                if fading:  # blend in the new top level over the previous output, upsampled nearest
                    low = trace.rgb[top // 2] = self._to_rgb(index - 1, previous_x, ws)
                    img = fade(upscale_nearest(low, 2), img, alpha)
        img = upscale_nearest(img, self.resolution // top)  # growing: the networks see R x R
        return (img, trace) if return_trace else img

    def _upsample(self, img: torch.Tensor) -> torch.Tensor:
        return upsample2d(img, self.resample_filter, impl=self.impl)


class Generator(nn.Module):
    """G = g(f(z)); subclasses fix the synthesis architecture and are registered in GENERATORS.

    Attributes: z_dim, w_dim, num_ws, resolution, config, mapping, synthesis.
    """

    registered_name: str = ""
    kind = "generator"
    rgb_every_block = False
    residual = False
    supports_growing = False

    def __init__(self, cfg: Config, *, impl: str | None = None) -> None:
        super().__init__()
        if cfg.g_arch != self.registered_name:
            raise ValueError(f"{type(self).__name__} is the {self.registered_name!r} generator but "
                             f"config {cfg.name!r} asks for g_arch={cfg.g_arch!r}; "
                             f"use variants.build_generator(cfg)")
        impl = cfg.impl if impl is None else impl
        self.config = cfg
        self.z_dim, self.w_dim, self.resolution = cfg.z_dim, cfg.w_dim, cfg.resolution
        self.synthesis = SynthesisNetwork(
            cfg, registered_name=self.registered_name, rgb_every_block=self.rgb_every_block,
            residual=self.residual, growable=self.supports_growing and cfg.growing, impl=impl)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim=cfg.z_dim, w_dim=cfg.w_dim, num_ws=self.num_ws, num_layers=cfg.mapping_layers,
            width=cfg.mapping_width, lr_multiplier=cfg.mapping_lr_mult, w_avg_beta=cfg.w_avg_beta,
            family=cfg.layer_family, impl=impl)
        self.impl = impl

    def forward(self, z: torch.Tensor, psi: float = 1.0, truncation_cutoff: int | None = None,
                noise_mode: str = "random") -> torch.Tensor:
        """z: [N, z_dim] -> img [N, C, R, R] in about [-1, 1] (R: the full resolution, also while growing)."""
        return self.synthesis(self.mapping(z, psi, truncation_cutoff), noise_mode=noise_mode)

    @property
    def growth(self) -> Growth:
        return self.synthesis.growth

    def set_growth(self, resolution: int, alpha: float = 1.0) -> None:
        """Progressive growing (original G with cfg.growing only): top resolution and fade-in alpha."""
        self.synthesis.set_growth(resolution, alpha)

    def set_impl(self, impl: str) -> None:
        """Run every fused op with impl 'ref' | 'fused' | 'auto'."""
        set_impl(self, impl)
        self.impl = impl


GENERATORS: Registry = Registry("generator", Generator)


@GENERATORS.register("original")
class OriginalGenerator(Generator):
    """StyleGAN's feed-forward synthesis network; the only generator that can grow progressively."""

    supports_growing = True


@GENERATORS.register("skip")
class SkipGenerator(Generator):
    """Output skips (Fig. 7b): every resolution's ToRGB is upsampled and summed."""

    rgb_every_block = True


@GENERATORS.register("residual")
class ResidualGenerator(Generator):
    """Residual blocks (Fig. 7c): a 1x1 upsampling skip conv, sum scaled by 1/sqrt(2)."""

    residual = True


def build_generator(cfg: Config, *, impl: str | None = None) -> Generator:
    """The generator `cfg.g_arch` built from cfg; `impl` overrides cfg.impl for its fused ops."""
    return GENERATORS.get(cfg.g_arch)(cfg, impl=impl)


def list_generators() -> tuple[str, ...]:
    return GENERATORS.names()
