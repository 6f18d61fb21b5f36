"""StyleGAN2's modulated convolution with weight demodulation (paper, Section 2.2, Equations 1-3).

Modulation scales the input feature maps of each sample by its style, `w'_ijk = s_i * w_ijk`
(Eq. 1); demodulation rescales each output feature map to unit expected variance,
`w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + eps)` (Eq. 3). Two equivalent forms, as in the official
code: `fused_modconv=True` builds per-sample weights and runs one grouped convolution for the whole
batch; `fused_modconv=False` scales the activations before and after one shared convolution.
Kernel orientation follows the official code: up-sampling convolutions are true convolutions
(`flip_weight=False`), all others cross-correlations, so official weights load unflipped.
"""

from __future__ import annotations

import torch

from fused_ops._impl import check_tensor, resolve_impl
from fused_ops.conv2d_resample import conv2d_resample

DEMODULATION_EPS = 1e-8


def modulated_conv2d(
    x,
    weight,
    styles,
    noise=None,
    up=1,
    down=1,
    padding=0,
    resample_filter=None,
    demodulate=True,
    fused_modconv=True,
    impl="auto",
    flip_weight=None,
) -> torch.Tensor:
    """Modulated (and demodulated) convolution with optional FIR up/downsampling and noise.

    x: [N, C_in, H, W]. weight: [C_out, C_in, kh, kw]. styles: [N, C_in] (the per-sample s_i).
    noise: None or broadcastable to [N, C_out, H_out, W_out] (e.g. [N, 1, H_out, W_out]); added to
    the conv output, before bias_act as in the official code. up, down, padding, resample_filter:
    as in conv2d_resample. impl: 'ref' | 'fused' | 'auto' for the underlying conv2d_resample.
    flip_weight: as in conv2d_resample; None (default) is the official choice `up == 1`, i.e. the
    up-sampling convolution flips its kernel. Returns [N, C_out, H_out, W_out].
    """
    _check_args(x, weight, styles)
    impl = resolve_impl(impl)
    batch_size, (_, in_channels, kh, kw) = x.shape[0], weight.shape
    if x.dtype == torch.float16 and demodulate:
        # Pre-normalise so the products below stay inside the float16 range (official trick).
        weight = weight * (
            1 / (in_channels * kh * kw) ** 0.5 / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True)
        )
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    w = dcoefs = None
    if demodulate or fused_modconv:
        w = weight.unsqueeze(0) * styles.reshape(batch_size, 1, -1, 1, 1)  # [N, C_out, C_in, kh, kw], Eq. 1
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + DEMODULATION_EPS).rsqrt()  # [N, C_out], Eq. 3
    if flip_weight is None:
        flip_weight = up == 1  # official: training/networks.py (stylegan2-ada-pytorch), SynthesisLayer
    conv_args = dict(f=resample_filter, up=up, down=down, padding=padding, flip_weight=flip_weight, impl=impl)

    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(batch_size, -1, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), **conv_args)
        if demodulate:
            x = x * dcoefs.to(x.dtype).reshape(batch_size, -1, 1, 1)
        return x if noise is None else x + noise.to(x.dtype)

    if demodulate:
        w = w * dcoefs.reshape(batch_size, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    x = conv2d_resample(x, w.reshape(-1, in_channels, kh, kw).to(x.dtype), groups=batch_size, **conv_args)
    x = x.reshape(batch_size, -1, *x.shape[2:])
    return x if noise is None else x + noise.to(x.dtype)


def _check_args(x, weight, styles):
    """Shapes and dtypes checked before any work."""
    for name, tensor, rank in (("x", x, 4), ("weight", weight, 4), ("styles", styles, 2)):
        check_tensor(name, tensor, rank)
    if x.shape[1] != weight.shape[1] or styles.shape != (x.shape[0], x.shape[1]):
        raise ValueError(
            f"x {list(x.shape)}, weight {list(weight.shape)} and styles {list(styles.shape)} "
            f"disagree: need x [N, C_in, H, W], weight [C_out, C_in, kh, kw], styles [N, C_in]"
        )
