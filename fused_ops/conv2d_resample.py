"""2-D convolution fused with FIR up/downsampling (`conv2d_resample`), as in StyleGAN2's layers.

The reference runs the steps one after another (upfirdn2d up + pad, conv2d, upfirdn2d down); the
fused path folds the upsampling into a strided transposed convolution and the downsampling into a
strided convolution, so the zero-inserted or full-resolution intermediates are never built.
Padding conventions follow the official StyleGAN2 PyTorch ops (stylegan2-ada-pytorch).
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from fused_ops._impl import check_tensor, resolve_impl
from fused_ops.upfirdn2d import _filter_size, _parse_padding, upfirdn2d


def conv2d_resample(
    x, w, f=None, up=1, down=1, padding=0, groups=1, flip_weight=True, flip_filter=False, impl="auto"
) -> torch.Tensor:
    """Convolve [N, C_in, H, W] with weight [C_out, C_in / groups, kh, kw], with FIR resampling.

    f: FIR filter for up/downsampling ([K] or [Kh, Kw], see setup_filter), required when up or
    down > 1. up, down: int >= 1. padding: int, (x, y) or [x0, x1, y0, y1], padding of the conv
    input at the output resolution. flip_weight: False flips `w` (true convolution); True is
    PyTorch's cross-correlation. Returns [N, C_out, H * up / down, W * up / down] for 'same' padding
    (padding = kernel_size // 2).
    """
    padding = _check_args(x, w, f, up, down, padding, groups)
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    padding = _resample_padding(_filter_size(f), up, down, padding)
    if resolve_impl(impl) == "ref":
        return _conv2d_resample_ref(x, w, f, up, down, padding, groups, flip_weight, flip_filter)
    return _conv2d_resample_fused(x, w, f, up, down, padding, groups, flip_weight, flip_filter)


def _check_args(x, w, f, up, down, padding, groups):
    """Validate before any work; returns padding as (x0, x1, y0, y1)."""
    check_tensor("x", x, rank=4)
    check_tensor("w", w, rank=4)
    for name, value in (("up", up), ("down", down), ("groups", groups)):
        if not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if x.shape[1] != w.shape[1] * groups or w.shape[0] % groups != 0:
        raise ValueError(
            f"x has {x.shape[1]} channels but w {list(w.shape)} with groups={groups} "
            f"expects {w.shape[1] * groups} (and C_out divisible by groups)"
        )
    if f is not None and (
        not isinstance(f, torch.Tensor) or f.ndim not in (1, 2) or not f.is_floating_point()
    ):
        raise ValueError("filter f must be a floating-point 1-D or 2-D tensor (see setup_filter) or None")
    if f is None and (up > 1 or down > 1):
        raise ValueError("up/down > 1 needs a resampling filter f, e.g. setup_filter([1, 3, 3, 1])")
    padding = _parse_padding(padding)
    fw, fh = (1, 1) if f is None else _filter_size(f)
    x0, x1, y0, y1 = _resample_padding((fw, fh), up, down, padding)
    for axis, size, lo, hi, kernel, taps in (
        ("width", x.shape[3], x0, x1, w.shape[3], fw),
        ("height", x.shape[2], y0, y1, w.shape[2], fh),
    ):
        size = size * up + lo + hi - (taps - 1 if up > 1 else 0) - kernel + 1  # after upsampling + conv
        if size < 1 or (down > 1 and size < taps):
            raise ValueError(
                f"padding {list(padding)} leaves an empty output {axis} for a {x.shape[2]}x"
                f"{x.shape[3]} input, a {w.shape[2]}x{w.shape[3]} kernel and up={up}, down={down}; "
                f"increase padding"
            )
    return padding


def _resample_padding(filter_size, up, down, padding):
    """Add the padding that up/downsampling with a (width, height) filter needs (official bookkeeping)."""
    x0, x1, y0, y1 = padding
    fw, fh = filter_size
    if up > 1:
        x0, x1, y0, y1 = (
            x0 + (fw + up - 1) // 2,
            x1 + (fw - up) // 2,
            y0 + (fh + up - 1) // 2,
            y1 + (fh - up) // 2,
        )
    if down > 1:
        x0, x1 = x0 + (fw - down + 1) // 2, x1 + (fw - down) // 2
        y0, y1 = y0 + (fh - down + 1) // 2, y1 + (fh - down) // 2
    return x0, x1, y0, y1


def _conv2d(x, w, groups, flip_weight, stride=1, padding=0, transpose=False):
    """conv2d / conv_transpose2d with the official flip_weight convention."""
    if not flip_weight and (w.shape[2] > 1 or w.shape[3] > 1):
        w = w.flip([2, 3])
    w = w.to(x.dtype)
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


def _conv2d_resample_ref(x, w, f, up, down, padding, groups, flip_weight, flip_filter) -> torch.Tensor:
    """Oracle: upsample + pad with upfirdn2d, convolve, then downsample with upfirdn2d."""
    x = upfirdn2d(
        x, f if up > 1 else None, up=up, padding=padding, gain=up**2, flip_filter=flip_filter, impl="ref"
    )
    x = _conv2d(x, w, groups, flip_weight)
    if down > 1:
        x = upfirdn2d(x, f, down=down, flip_filter=flip_filter, impl="ref")
    return x


def _conv2d_resample_fused(x, w, f, up, down, padding, groups, flip_weight, flip_filter) -> torch.Tensor:
    """Fast path: resampling folded into strided (transposed) convolution, 1x1 kernels reordered."""
    x0, x1, y0, y1 = padding
    kh, kw = w.shape[2], w.shape[3]
    fir = dict(f=f, flip_filter=flip_filter, impl="fused")
    if (kw, kh) == (1, 1) and up == 1 and down > 1:  # downsample first: 1x1 conv on 1/4 of the pixels
        x = upfirdn2d(x, down=down, padding=padding, **fir)
        return _conv2d(x, w, groups, flip_weight)
    if (kw, kh) == (1, 1) and up > 1 and down == 1:  # convolve first, at the low resolution
        x = _conv2d(x, w, groups, flip_weight)
        return upfirdn2d(x, up=up, padding=padding, gain=up**2, **fir)
    if up == 1 and down > 1:  # filter at full resolution, then a strided conv computes only kept pixels
        x = upfirdn2d(x, padding=padding, **fir)
        return _conv2d(x, w, groups, flip_weight, stride=down)
    if up > 1:  # transposed conv with stride `up` = zero insertion + conv, without the zeros
        crop_y, crop_x = _transposed_crop(padding, kw, kh, up)
        w_t = _transpose_weight(w, groups)
        x = _conv2d(x, w_t, groups, not flip_weight, stride=up, padding=[crop_y, crop_x], transpose=True)
        filter_padding = [
            x0 - (kw - 1) + crop_x,
            x1 - (kw - up) + crop_x,
            y0 - (kh - 1) + crop_y,
            y1 - (kh - up) + crop_y,
        ]
        x = upfirdn2d(x, padding=filter_padding, gain=up**2, **fir)
        return x if down == 1 else upfirdn2d(x, down=down, **fir)
    if x0 == x1 and y0 == y1 and min(x0, y0) >= 0:  # plain conv with symmetric padding
        return _conv2d(x, w, groups, flip_weight, padding=[y0, x0])
    return _conv2d(upfirdn2d(x, None, padding=padding, impl="fused"), w, groups, flip_weight)


def _transpose_weight(w, groups) -> torch.Tensor:
    """[C_out, C_in / g, kh, kw] conv weight as a [C_in, C_out / g, kh, kw] conv_transpose2d weight."""
    c_out, c_in_per_group, kh, kw = w.shape
    w = w.reshape(groups, c_out // groups, c_in_per_group, kh, kw).transpose(1, 2)
    return w.reshape(groups * c_in_per_group, c_out // groups, kh, kw)


def _transposed_crop(padding, kw, kh, up) -> list[int]:
    """[crop_y, crop_x]: how much of the transposed conv's border it can crop itself."""
    x0, x1, y0, y1 = padding
    crop_x = max(min(kw - 1 - x0, kw - up - x1), 0)
    crop_y = max(min(kh - 1 - y0, kh - up - y1), 0)
    return [crop_y, crop_x]
