"""One frozen configuration per run, and the paper's named presets (Tables 1 and 2).

`Config` holds everything a run needs: the architecture axes of the ablation (Section 1 of
SPEC.md), channel widths, regularisation, optimiser and growing schedule. Every field's type and
Literal choice is checked from its hint (common.options.Options), ranges and combinations once, in
`validate`. `PRESETS` is the one literal table of the
paper's configurations; each entry overrides the defaults (which are config E) and nothing else.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Literal, get_args

from common.options import Options
from common.registry import UnknownNameError, unknown_name_message
from fused_ops import Impl

Architecture = Literal["original", "skip", "residual"]
StyleBlock = Literal["adain", "demod"]
LayerFamily = Literal["stylegan2", "stylegan"]

ARCHITECTURES: tuple[str, ...] = get_args(Architecture)
STYLE_BLOCK_NAMES: tuple[str, ...] = get_args(StyleBlock)
LAYER_FAMILIES: tuple[str, ...] = get_args(LayerFamily)


@dataclass(frozen=True, kw_only=True)
class Config(Options):
    """A resolved run configuration; defaults are config E (FFHQ 1024, Table 1).

    Channels at resolution r: `channels_at(r) = max(1, round(min(fmap_base // r, fmap_max) *
    width_multiplier))`; fmap_base 16384 (A-E) gives 512 up to 32x32, then 256..16 at 64..1024;
    32768 (F, A-large) doubles the maps at 64x64 and above.
    Growing tables are (resolution, value) pairs read as a step function: the value at r is that of
    the largest listed resolution <= r (see `variants.growing.schedule_value`).

    name: the preset's name (or 'custom').
    g_arch: generator architecture (Section 4.1, Table 2): original, skip (output skips), residual.
    d_arch: discriminator architecture (Table 2): original, skip (input skips), residual.
    style_block: 'adain' (StyleGAN's AdaIN) or 'demod' (weight demodulation, Section 2.2).
    growing: progressive growing (configs A-D); needs original G and D.
    layer_family: which official network code the layers follow. 'stylegan2'
        (networks_stylegan2.py, configs B-F): [1, 3, 3, 1] FIR resampling inside the convs, the
        sqrt(2) gain after the activation, one noise strength per layer. 'stylegan'
        (networks_stylegan.py, config A): nearest upsampling before and a [1, 2, 1] blur after G's
        up-convs, the blur before and a 2x2 box after D's down-convs, the sqrt(2) He gain in the
        runtime weight scale, one noise strength per channel.
    resolution: image size (a power of two >= 4).
    content_height: None = square; LSUN Car: 384 rows of 512, the rest black bars.
    img_channels: 3 (RGB) or 1 (grayscale). Training sets it from the dataset, as the official
        code builds G and D with its dataset's channel count (stylegan2-ada-pytorch train.py:
        img_channels=training_set.num_channels; TF StyleGAN2 training_loop.py: num_channels).
    width_multiplier: scale every layer's feature maps.
    mapping_lr_mult: learning-rate multiplier of the mapping network f (0.01).
    w_avg_beta: decay of the running average of w used for truncation.
    batch_size: minibatch (at full resolution when growing).
    ema_kimg: half-life of G's weight average, thousands of images.
    ema_rampup: None (the paper) or r: G_ema's half-life is min(ema_kimg, r * kimg shown so far),
        as stylegan2-ada-pytorch's training_loop.py (0.05), so short runs do not average in the
        initial network.
    growing_phase_kimg: thousands of images per stabilise phase and per fade-in.
    conv_clamp: clamp conv activations to [-X, X] (None = off; changes the maths; 256 officially
        with float16).
    impl: fused_ops implementation: ref, fused or auto.
    """

    name: str = "custom"
    # Architecture axes (Section 1).
    g_arch: Architecture = "skip"
    d_arch: Architecture = "residual"
    style_block: StyleBlock = "demod"
    growing: bool = False
    layer_family: LayerFamily = "stylegan2"
    # Image size and widths.
    resolution: int = 1024
    content_height: int | None = None
    img_channels: int = 3
    width_multiplier: float = 1.0
    fmap_base: int = 16384
    fmap_max: int = 512
    # Mapping network f: z -> w.
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    mapping_width: int = 512
    mapping_lr_mult: float = 0.01
    w_avg_beta: float = 0.995
    # Discriminator epilogue.
    mbstd_group: int = 4
    mbstd_channels: int = 1
    # Regularisation (Section 3).
    style_mixing_prob: float = 0.9
    r1_gamma: float = 10.0
    r1_interval: int = 16
    pl_weight: float = 2.0
    pl_interval: int = 4
    pl_decay: float = 0.01
    pl_batch_shrink: int = 2
    # Optimiser and EMA.
    batch_size: int = 32
    lr: float = 0.002
    adam_betas: tuple[float, float] = (0.0, 0.99)
    adam_eps: float = 1e-8
    ema_kimg: float = 10.0
    ema_rampup: float | None = None
    # Progressive growing schedule (configs A-D; SPEC.md section 3).
    growing_start_res: int = 8
    growing_phase_kimg: float = 600.0
    growing_batch_by_res: tuple[tuple[int, int], ...] = ((8, 256), (16, 128), (32, 64), (64, 32))
    growing_lr_by_res: tuple[tuple[int, float], ...] = (
        (8, 0.001), (128, 0.0015), (256, 0.002), (512, 0.003), (1024, 0.003))
    # Numerics.
    conv_clamp: float | None = None
    impl: Impl = "auto"

    def validate(self) -> None:
        _check_power_of_two("resolution", self.resolution)
        if self.growing and (self.g_arch != "original" or self.d_arch != "original"):
            raise ValueError(
                f"config {self.name!r}: progressive growing needs g_arch='original' and "
                f"d_arch='original' (got g_arch={self.g_arch!r}, d_arch={self.d_arch!r}); "
                f"skip and residual networks train at full size (set growing=False)")
        if self.layer_family == "stylegan" and (self.style_block, self.g_arch, self.d_arch) != (
                "adain", "original", "original"):
            raise ValueError(
                f"config {self.name!r}: layer_family='stylegan' (networks_stylegan.py) exists only for "
                f"style_block='adain' with g_arch='original' and d_arch='original' (got "
                f"style_block={self.style_block!r}, g_arch={self.g_arch!r}, d_arch={self.d_arch!r}); "
                f"use layer_family='stylegan2'")
        if self.img_channels not in (1, 3):
            raise ValueError(f"config {self.name!r}: img_channels must be 1 (grayscale) or 3 (RGB), "
                             f"got {self.img_channels!r}")
        if self.ema_rampup is not None and not self.ema_rampup > 0:
            raise ValueError(f"config {self.name!r}: ema_rampup must be > 0 or None (off), "
                             f"got {self.ema_rampup!r}")
        if self.growing:
            _check_power_of_two("growing_start_res", self.growing_start_res)
            if not 4 <= self.growing_start_res <= self.resolution:
                raise ValueError(f"config {self.name!r}: growing_start_res={self.growing_start_res} must "
                                 f"lie in [4, resolution={self.resolution}]")
        if self.content_height is not None and not (0 < self.content_height <= self.resolution
                                                    and self.content_height % 2 == 0):
            raise ValueError(f"config {self.name!r}: content_height={self.content_height} must be an even "
                             f"number of rows in (0, resolution={self.resolution}], or None for square")
        positive = {"width_multiplier": self.width_multiplier, "fmap_base": self.fmap_base,
                    "fmap_max": self.fmap_max, "z_dim": self.z_dim, "w_dim": self.w_dim,
                    "mapping_layers": self.mapping_layers, "mapping_width": self.mapping_width,
                    "mapping_lr_mult": self.mapping_lr_mult, "mbstd_group": self.mbstd_group,
                    "r1_interval": self.r1_interval, "pl_interval": self.pl_interval,
                    "pl_batch_shrink": self.pl_batch_shrink, "batch_size": self.batch_size,
                    "lr": self.lr, "growing_phase_kimg": self.growing_phase_kimg}
        for field_name, value in positive.items():
            if not value > 0:
                raise ValueError(f"config {self.name!r}: {field_name} must be > 0, got {value!r}")
        if not 0.0 <= self.style_mixing_prob <= 1.0:
            raise ValueError(f"config {self.name!r}: style_mixing_prob must lie in [0, 1], "
                             f"got {self.style_mixing_prob}")
        if self.mbstd_channels < 0 or self.pl_weight < 0 or self.r1_gamma < 0:
            raise ValueError(f"config {self.name!r}: mbstd_channels, pl_weight and r1_gamma must be >= 0")
        for table_name in ("growing_batch_by_res", "growing_lr_by_res"):
            table = getattr(self, table_name)
            if not table or [res for res, _ in table] != sorted({res for res, _ in table}):
                raise ValueError(f"config {self.name!r}: {table_name} must be non-empty (resolution, "
                                 f"value) pairs with strictly increasing resolutions, got {table!r}")

    # Derived quantities ------------------------------------------------------------------------

    def channels_at(self, resolution: int) -> int:
        """Feature maps at `resolution` (the fmap_base rule above, scaled by width_multiplier)."""
        return max(1, round(min(self.fmap_base // resolution, self.fmap_max) * self.width_multiplier))

    @property
    def resolutions(self) -> tuple[int, ...]:
        """The block resolutions 4, 8, ..., resolution."""
        return tuple(2 ** i for i in range(2, int(math.log2(self.resolution)) + 1))

    def to_json(self) -> str:
        """The config as JSON text (sorted keys, indented); `Config.from_json` inverts it exactly."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


field_names = Config.field_names


def _check_power_of_two(field_name: str, value: int) -> None:
    if not isinstance(value, int) or value < 4 or value & (value - 1):
        raise ValueError(f"{field_name} must be a power of two >= 4, got {value!r}")


# The paper's configurations: each entry overrides Config's defaults (config E) and nothing else.
# Table 1 (A-F, A-large); Table 2 = config E with the G and D architectures varied. R1 gamma 100 for
# E and Table 2 follows the official presets (SPEC.md section 3); F uses the general 10.
# official: run_training.py (TF StyleGAN2): config-a switches to networks_stylegan.G_style / D_basic,
# configs B-D use networks_stylegan2's G_synthesis_stylegan_revised / D_stylegan.
_GROWING_BASELINE = dict(g_arch="original", d_arch="original", growing=True, r1_gamma=10.0)
_STYLEGAN = dict(style_block="adain", layer_family="stylegan", r1_interval=1, pl_weight=0.0)
PRESETS: dict[str, dict] = {
    "A": dict(_GROWING_BASELINE, **_STYLEGAN),
    "B": dict(_GROWING_BASELINE, r1_interval=1, pl_weight=0.0),
    "C": dict(_GROWING_BASELINE, pl_weight=0.0),
    "D": dict(_GROWING_BASELINE),
    "E": dict(r1_gamma=100.0),
    "F": dict(fmap_base=32768),
    "A-large": dict(_GROWING_BASELINE, **_STYLEGAN, fmap_base=32768),
    **{f"G-{g_arch}/D-{d_arch}": dict(g_arch=g_arch, d_arch=d_arch, r1_gamma=100.0)
       for g_arch in ARCHITECTURES for d_arch in ARCHITECTURES},
}


def list_configs() -> tuple[str, ...]:
    """Names of the presets: A, B, C, D, E, F, A-large, then the nine Table 2 combinations."""
    return tuple(PRESETS)


def get_config(name: str, **overrides) -> Config:
    """The preset `name` with `overrides` applied; unknown names or fields raise with the valid ones."""
    if name not in PRESETS:
        raise UnknownNameError(unknown_name_message("config", name, PRESETS))
    Config.check_names(overrides)
    return Config(**{"name": name, **PRESETS[name], **overrides})
