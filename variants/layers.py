"""Building blocks shared by every generator and discriminator.

Equalised learning rate (ProGAN, used throughout StyleGAN2): weights are stored as N(0, 1) / lr_mult
and scaled at run time by lr_mult / sqrt(fan_in), so Adam's step is the same in every layer.
Every bias + activation goes through `fused_ops.bias_act`, every FIR resampling through
`fused_ops.upfirdn2d` / `fused_ops.conv2d_resample`; each layer's `impl` picks 'ref' or 'fused'.
A layer's `family` (variants.Config.layer_family) picks the official code it follows: 'stylegan2'
(networks_stylegan2.py: FIR resampling, the activation's sqrt(2) gain after bias and activation) or
'stylegan' (networks_stylegan.py: nearest / box resampling beside a [1, 2, 1] blur, the sqrt(2) He
gain in the runtime weight scale, so bias and noise are added after it).
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.options import check_choice
from fused_ops import check_impl
from fused_ops.bias_act import bias_act
from fused_ops.conv2d_resample import conv2d_resample
from fused_ops.modconv import modulated_conv2d
from fused_ops.upfirdn2d import filter2d, setup_filter
from variants.configs import LAYER_FAMILIES

LRELU_ALPHA = 0.2
RESAMPLE_FILTER = (1, 3, 3, 1)  # the FIR filter of all up/downsampling (SPEC.md section 1)
STYLEGAN_BLUR = (1, 2, 1)  # official: training/networks_stylegan.py blur2d, beside nearest/box resampling
NoiseMode = Literal["random", "const", "none"]  # the one declaration of the noise inputs' modes
NOISE_MODES: tuple[str, ...] = get_args(NoiseMode)


def set_impl(module: nn.Module, impl: str) -> None:
    """Make every layer inside `module` run its fused_ops with `impl` ('ref' | 'fused' | 'auto')."""
    check_impl(impl)
    for submodule in module.modules():
        if isinstance(submodule, UsesFusedOps):
            submodule.impl = impl


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale x so the mean of its squares along `dim` is 1 (StyleGAN's normalisation of z)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def make_resample_filter(taps: tuple[int, ...] = RESAMPLE_FILTER) -> torch.Tensor:
    """A FIR filter ([1, 3, 3, 1] by default) as a normalised 2-D kernel, on the current default device."""
    default_device = torch.empty(0).device  # honours `with torch.device(...)`, e.g. 'meta'
    with torch.device("cpu"):  # built on CPU: on 'meta', the first outer() imports torch._refs (seconds)
        kernel = setup_filter(list(taps))
    return kernel.to(default_device)


def upscale_nearest(x: torch.Tensor, f: int) -> torch.Tensor:
    """Pixel repetition [N, C, H, W] -> [N, C, H * f, W * f] (official upscale2d, naive_upsample_2d)."""
    if f == 1:
        return x
    n, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(n, c, h, f, w, f).reshape(n, c, h * f, w * f)


def downscale_box(x: torch.Tensor, f: int) -> torch.Tensor:
    """Block means [N, C, H, W] -> [N, C, H / f, W / f] (official downscale2d, naive_downsample_2d)."""
    return x if f == 1 else F.avg_pool2d(x, f)


def check_family(family: str) -> str:
    check_choice("layer family", family, LAYER_FAMILIES)
    return family


def he_gains(family: str, activation: str) -> tuple[float, float]:
    """(extra runtime weight scale, activation gain) of an equalised-lr layer before `activation`.

    Linear layers: (1, 1). Before a leaky ReLU, 'stylegan2' multiplies by sqrt(2) after bias and
    activation; 'stylegan' puts the sqrt(2) He gain in the runtime weight scale (official:
    training/networks_stylegan.py get_weight(gain=np.sqrt(2)), no gain in leaky_relu).
    """
    if check_family(family) == "stylegan2" or activation == "linear":
        return 1.0, (1.0 if activation == "linear" else float(np.sqrt(2)))
    return float(np.sqrt(2)), 1.0


class UsesFusedOps(nn.Module):
    """A module whose forward calls fused_ops; `impl` is changed for a whole network by `set_impl`."""

    def __init__(self, impl: str = "auto") -> None:
        super().__init__()
        self.impl = check_impl(impl)


class DenseLayer(UsesFusedOps):
    """Fully connected layer with equalised learning rate: [N, in_features] -> [N, out_features]."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0, family: str = "stylegan2",
                 impl: str = "auto") -> None:
        super().__init__(impl)
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], bias_init / lr_multiplier)) if bias else None
        he_gain, self.act_gain = he_gains(family, activation)
        self.weight_gain = he_gain * lr_multiplier / np.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.weight_gain
        bias = None if self.bias is None else self.bias * self.bias_gain
        return bias_act(x.matmul(weight.t()), bias, act=self.activation, gain=self.act_gain, impl=self.impl)


class ConvLayer(UsesFusedOps):
    """Conv with equalised learning rate, optional up/down by 2, bias and activation.

    x: [N, in_channels, H, W] -> [N, out_channels, H * up / down, W * up / down]. `gain` scales the
    activation's output (residual blocks pass sqrt(0.5)); the clamp scales with it. Resampling:
    family 'stylegan2' convolves with the [1, 3, 3, 1] FIR filter; 'stylegan' upsamples nearest
    before the conv and blurs after it, or blurs before the conv and box-downsamples after it
    (official: training/networks_stylegan.py, G_synthesis block and D_basic block).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True,
                 activation: str = "linear", up: int = 1, down: int = 1, conv_clamp: float | None = None,
                 family: str = "stylegan2", impl: str = "auto") -> None:
        super().__init__(impl)
        self.activation, self.up, self.down, self.conv_clamp = activation, up, down, conv_clamp
        self.family, self.padding = check_family(family), kernel_size // 2
        taps = STYLEGAN_BLUR if family == "stylegan" else RESAMPLE_FILTER
        self.register_buffer("resample_filter", make_resample_filter(taps), persistent=False)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None
        he_gain, _ = he_gains(family, activation)
        self.weight_gain = he_gain / np.sqrt(in_channels * kernel_size ** 2)

    def convolve(self, x: torch.Tensor) -> torch.Tensor:
        """The conv with its resampling, before bias and activation."""
        weight = self.weight * self.weight_gain
        if self.family == "stylegan" and (self.up > 1 or self.down > 1):
            if self.up > 1:
                x = upscale_nearest(x, self.up)
            else:
                x = filter2d(x, self.resample_filter, impl=self.impl)
            x = conv2d_resample(x, weight, padding=self.padding, impl=self.impl)
            if self.up > 1:
                return filter2d(x, self.resample_filter, impl=self.impl)
            return downscale_box(x, self.down)
        resample = self.resample_filter if (self.up > 1 or self.down > 1) else None
        return conv2d_resample(x, weight, f=resample, up=self.up, down=self.down, padding=self.padding,
                               flip_weight=(self.up == 1), impl=self.impl)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        x = self.convolve(x)
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        if self.bias is None and self.activation == "linear" and clamp is None:
            return x if gain == 1 else x * gain  # nothing to fuse (residual skip convs)
        _, act_gain = he_gains(self.family, self.activation)
        return bias_act(x, self.bias, act=self.activation, gain=gain * act_gain, clamp=clamp, impl=self.impl)


class MappingNetwork(nn.Module):
    """f: z [N, z_dim] -> ws [N, num_ws, w_dim] (Section 2 of StyleGAN; 8 layers, lr mult 0.01).

    `w_avg` [w_dim] is a running average of w (decay `w_avg_beta` per update) for truncation.
    """

    def __init__(self, *, z_dim: int, w_dim: int, num_ws: int, num_layers: int = 8, width: int = 512,
                 lr_multiplier: float = 0.01, w_avg_beta: float = 0.995, family: str = "stylegan2",
                 impl: str = "auto") -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.w_avg_beta = z_dim, w_dim, num_ws, w_avg_beta
        features = [z_dim] + [width] * (num_layers - 1) + [w_dim]
        self.layers = nn.ModuleList(
            DenseLayer(size_in, size_out, activation="lrelu", lr_multiplier=lr_multiplier, family=family,
                       impl=impl)
            for size_in, size_out in zip(features[:-1], features[1:], strict=True))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, psi: float = 1.0, truncation_cutoff: int | None = None,
                update_w_avg: bool = False) -> torch.Tensor:
        """z: [N, z_dim]. psi < 1 pulls the first `truncation_cutoff` ws (all if None) towards w_avg."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape [N, {self.z_dim}], got {list(z.shape)}")
        w = normalize_2nd_moment(z.to(torch.float32))
        for layer in self.layers:
            w = layer(w)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws = torch.cat([self.w_avg.lerp(ws[:, :cutoff], psi), ws[:, cutoff:]], dim=1)
        return ws


class NoiseInput(nn.Module):
    """Per-pixel noise [N, 1, r, r] times a learned strength (StyleGAN Fig. 1, 'B').

    channels=None: one strength per layer (networks_stylegan2.py `noise_strength`, shape []);
    channels=C: one per feature map (networks_stylegan.py apply_noise `weight`, shape [C]).
    """

    def __init__(self, resolution: int, channels: int | None = None) -> None:
        super().__init__()
        self.resolution = resolution
        self.register_buffer("noise_const", torch.randn([resolution, resolution]))
        self.strength = nn.Parameter(torch.zeros([] if channels is None else [channels]))

    def _scale(self) -> torch.Tensor:
        return self.strength if self.strength.ndim == 0 else self.strength[:, None, None]

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor | None:
        """Scaled noise [N, 1 or C, r, r] ([1 or C, r, r] for 'const') for a batch like x; None for 'none'."""
        if noise_mode == "random":
            shape = [x.shape[0], 1, self.resolution, self.resolution]
            return torch.randn(shape, device=x.device, dtype=x.dtype) * self._scale()
        if noise_mode == "const":
            return self.noise_const.to(x.dtype) * self._scale()
        check_choice("noise_mode", noise_mode, NOISE_MODES)
        return None  # 'none'



class ConstantInput(nn.Module):
    """The learned constant [channels, size, size] the synthesis network starts from."""

    def __init__(self, channels: int, size: int = 4, *, init: str = "randn") -> None:
        super().__init__()
        initial = torch.randn if init == "randn" else torch.ones
        self.weight = nn.Parameter(initial([channels, size, size]))

    def forward(self, batch_size: int) -> torch.Tensor:
        return self.weight.unsqueeze(0).expand(batch_size, -1, -1, -1)


class MinibatchStdDev(nn.Module):
    """Append the std over groups of the minibatch as extra maps (ProGAN): [N, C, H, W] -> [N, C + c, H, W].

    Groups of `group_size` samples (or the whole batch if smaller); the features are split in
    `num_channels` parts and each part's mean std becomes one constant map.
    """

    def __init__(self, group_size: int = 4, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = min(self.group_size, n)
        if n % group:
            raise ValueError(f"minibatch std: batch size {n} is not divisible by the group size {group}; "
                             f"use a batch that is a multiple of {self.group_size}")
        f = self.num_channels
        if c % f:
            raise ValueError(f"minibatch std: {c} channels cannot be split into {f} parts")
        y = x.reshape(group, -1, f, c // f, h, w)  # [G, M, F, c, H, W]; sample n = g * M + m
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])  # [M, F]
        y = y.reshape(-1, f, 1, 1).repeat(group, 1, h, w)  # [N, F, H, W]
        return torch.cat([x, y], dim=1)


class ToRGB(UsesFusedOps):
    """Features [N, C, r, r] -> image [N, img_channels, r, r] (3 RGB, 1 grayscale) by a 1x1 conv plus bias.

    modulated=True (StyleGAN2): the conv is modulated by the style of w, not demodulated.
    modulated=False (StyleGAN, AdaIN generators): a plain equalised-lr 1x1 conv; w is ignored.
    """

    def __init__(self, in_channels: int, w_dim: int, *, modulated: bool, img_channels: int = 3,
                 conv_clamp: float | None = None, impl: str = "auto") -> None:
        super().__init__(impl)
        self.modulated, self.conv_clamp = modulated, conv_clamp
        if modulated:
            self.affine = DenseLayer(w_dim, in_channels, bias_init=1.0, impl=impl)
            self.weight = nn.Parameter(torch.randn([img_channels, in_channels, 1, 1]))
            self.bias = nn.Parameter(torch.zeros([img_channels]))
            self.weight_gain = 1 / np.sqrt(in_channels)
        else:
            self.conv = ConvLayer(in_channels, img_channels, 1, conv_clamp=conv_clamp, impl=impl)

    def forward(self, x: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        if not self.modulated:
            return self.conv(x)
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=not self.training,
                             impl=self.impl)
        return bias_act(x, self.bias, clamp=self.conv_clamp, impl=self.impl)


class FromRGB(ConvLayer):
    """Image [N, img_channels, r, r] (3 RGB, 1 gray) -> features [N, C, r, r]: 1x1 conv, bias, lrelu."""

    def __init__(self, out_channels: int, *, img_channels: int = 3, conv_clamp: float | None = None,
                 family: str = "stylegan2", impl: str = "auto") -> None:
        super().__init__(img_channels, out_channels, 1, activation="lrelu", conv_clamp=conv_clamp,
                         family=family, impl=impl)
