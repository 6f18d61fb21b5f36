"""The two style blocks of the ablation (paper Fig. 2): StyleGAN's AdaIN and StyleGAN2's demodulation.

Both take features x [N, C_in, H, W] and one w [N, w_dim] and return [N, C_out, H * up, W * up].
- 'adain' (Fig. 2a/b): conv, then noise, bias and leaky ReLU, then instance normalisation of each
  map's mean and std and the style's scale and bias (StyleGAN Eq. 1). The 4x4 constant is followed
  by one such block without a conv. With layer family 'stylegan' (config A) it is networks_stylegan.py's
  layer: the sqrt(2) He gain in the conv's weight scale (before noise and bias), one noise strength
  per channel, nearest upsampling and a [1, 2, 1] blur around the up-conv. As in the official
  style_mod, the styles start as unit-variance functions of w (scale ~ N(1, 1), bias ~ N(0, 1) per
  map and sample), which G takes far more Adam steps to tame than the demod block needs: at 16x16 on
  CPU, A learns only once lr x steps reaches a few units (docs/adain-at-small-scale.md).
- 'demod' (Fig. 2d): modulated conv with demodulation (Eq. 1-3), then noise, bias and leaky ReLU
  outside the style block; the constant input goes straight into the first conv.
A block family also fixes its ToRGB (modulated for demod, plain for adain) and how the 4x4 block
starts (`input_layers`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from common.registry import Registry
from fused_ops.bias_act import bias_act
from fused_ops.modconv import modulated_conv2d
from variants.layers import ConvLayer, DenseLayer, NoiseInput, UsesFusedOps, he_gains, make_resample_filter


def adaptive_instance_norm(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor,
                           eps: float = 1e-8) -> torch.Tensor:
    """AdaIN(x, y) = y_s * (x - mu(x)) / sigma(x) + y_b per map (StyleGAN Eq. 1).

    x: [N, C, H, W]; scale, bias: [N, C]. sigma is the population std over H, W. The normalisation
    runs in float32 and the result has x's dtype (official: training/networks_stylegan.py
    instance_norm casts to float32, style_mod casts the style to x's dtype): in float16 the squares
    of clamped activations (up to 256) would overflow.
    """
    dtype = x.dtype
    x = x.float()
    x = x - x.mean(dim=[2, 3], keepdim=True)
    x = (x * (x.square().mean(dim=[2, 3], keepdim=True) + eps).rsqrt()).to(dtype)
    return x * scale.to(dtype)[:, :, None, None] + bias.to(dtype)[:, :, None, None]


class StyleLayer(UsesFusedOps):
    """One styled layer; subclasses are registered in STYLE_BLOCKS by the Config.style_block name.

    Class attributes: `modulated_torgb` (whether ToRGB takes a w) and `constant_init`.
    """

    modulated_torgb: bool = True
    constant_init: str = "randn"

    def __init__(self, impl: str = "auto") -> None:
        super().__init__(impl)

    @classmethod
    def input_layers(cls, channels: int, *, w_dim: int, conv_clamp: float | None, impl: str,
                     family: str = "stylegan2") -> list[StyleLayer]:
        """The styled layers of the 4x4 block that follow the learned constant."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random",
                gain: float = 1.0) -> torch.Tensor:
        raise NotImplementedError


STYLE_BLOCKS: Registry = Registry("style block", StyleLayer)


@STYLE_BLOCKS.register("adain")
class AdaINLayer(StyleLayer):
    """StyleGAN's layer: [conv] -> + noise -> bias, lrelu -> AdaIN with style (scale, bias) = A(w).

    kernel_size=None skips the conv (the epilogue of the 4x4 constant; needs in == out channels).
    """

    modulated_torgb = False
    constant_init = "ones"

    def __init__(self, in_channels: int, out_channels: int, *, w_dim: int, resolution: int,
                 kernel_size: int | None = 3, up: int = 1, conv_clamp: float | None = None,
                 family: str = "stylegan2", impl: str = "auto") -> None:
        super().__init__(impl)
        if kernel_size is None and (in_channels != out_channels or up != 1):
            raise ValueError("an AdaIN layer without a conv needs in_channels == out_channels and up == 1")
        self.out_channels, self.conv_clamp = out_channels, conv_clamp
        # activation='lrelu' sets the conv's He gain only: noise, bias and the activation follow in
        # forward (official: training/networks_stylegan.py G_synthesis, conv2d(gain=sqrt(2)), layer_epilogue)
        self.conv = (None if kernel_size is None else
                     ConvLayer(in_channels, out_channels, kernel_size, bias=False, activation="lrelu", up=up,
                               family=family, impl=impl))
        _, self.act_gain = he_gains(family, "lrelu")
        self.noise = NoiseInput(resolution, out_channels if family == "stylegan" else None)
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.affine = DenseLayer(w_dim, 2 * out_channels, impl=impl)
        with torch.no_grad():  # style scale starts at 1, style bias at 0 (StyleGAN's "1 + y_s")
            self.affine.bias[:out_channels] = 1.0 / self.affine.bias_gain

    @classmethod
    def input_layers(cls, channels, *, w_dim, conv_clamp, impl, family="stylegan2"):
        kwargs = dict(w_dim=w_dim, resolution=4, conv_clamp=conv_clamp, family=family, impl=impl)
        return [cls(channels, channels, kernel_size=None, **kwargs), cls(channels, channels, **kwargs)]

    def styles(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, bias), each [N, out_channels]."""
        style = self.affine(w)
        return style[:, :self.out_channels], style[:, self.out_channels:]

    def forward(self, x, w, noise_mode="random", gain=1.0):
        if self.conv is not None:
            x = self.conv.convolve(x)  # bias and activation follow the noise
        noise = self.noise(x, noise_mode)
        if noise is not None:
            x = x + noise
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        x = bias_act(x, self.bias, act="lrelu", gain=self.act_gain * gain, clamp=clamp, impl=self.impl)
        return adaptive_instance_norm(x, *self.styles(w))


@STYLE_BLOCKS.register("demod")
class DemodLayer(StyleLayer):
    """StyleGAN2's layer: modulated conv with weight demodulation (Eq. 1-3) -> + noise -> bias, lrelu.

    The conv weight is N(0, 1): demodulation removes any fixed scale, so no equalised-lr gain.
    """

    modulated_torgb = True
    constant_init = "randn"

    def __init__(self, in_channels: int, out_channels: int, *, w_dim: int, resolution: int,
                 kernel_size: int = 3, up: int = 1, conv_clamp: float | None = None,
                 family: str = "stylegan2", impl: str = "auto") -> None:
        super().__init__(impl)
        if family != "stylegan2":
            raise ValueError(f"the demod layer exists only in layer family 'stylegan2' "
                             f"(networks_stylegan2.py), got {family!r}")
        self.up, self.padding, self.conv_clamp = up, kernel_size // 2, conv_clamp
        self.affine = DenseLayer(w_dim, in_channels, bias_init=1.0, impl=impl)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.noise = NoiseInput(resolution)
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("resample_filter", make_resample_filter(), persistent=False)

    @classmethod
    def input_layers(cls, channels, *, w_dim, conv_clamp, impl, family="stylegan2"):
        return [cls(channels, channels, w_dim=w_dim, resolution=4, conv_clamp=conv_clamp, family=family,
                    impl=impl)]

    def modulated_conv(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None = None):
        """The style block proper: modulate, convolve, demodulate (Eq. 1-3); [N, C_out, H*up, W*up]."""
        return modulated_conv2d(x, self.weight, self.affine(w), noise=noise, up=self.up, padding=self.padding,
                                resample_filter=self.resample_filter, demodulate=True,
                                fused_modconv=not self.training, impl=self.impl)

    def forward(self, x, w, noise_mode="random", gain=1.0):
        noise = self.noise(x, noise_mode)
        x = self.modulated_conv(x, w, noise)
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, self.bias, act="lrelu", gain=np.sqrt(2) * gain, clamp=clamp, impl=self.impl)
