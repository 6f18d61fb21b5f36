"""FIR-filtered resampling of 2-D images: upsample, pad, filter, downsample (`upfirdn2d`).

Conventions follow the official StyleGAN2 PyTorch ops (stylegan2-ada-pytorch torch_utils/ops), so
results can be compared with it: the filter is a true convolution kernel (flipped before the
cross-correlation unless `flip_filter=True`), a 1-D filter is applied separably along both axes, and
`gain` multiplies the output. StyleGAN2 uses it for its [1, 3, 3, 1] resampling (paper, Section 2).
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from fused_ops._impl import check_tensor, log_fallback, resolve_impl


def setup_filter(f, device=None, normalize=True, flip_filter=False, gain=1, separable=None) -> torch.Tensor:
    """Turn filter taps into a float32 tensor for `upfirdn2d`.

    f: taps as a list or tensor, 1-D [K] or 2-D [Kh, Kw]; None means the identity [[1]].
    normalize: divide by the sum so the filter keeps the DC level.
    separable: keep a 1-D filter 1-D (applied along both axes); default: True when it has >= 8 taps
        (the official heuristic), else it is expanded to the 2-D outer product.
    gain: overall gain of the 2-D filter (a 1-D filter gets gain ** 0.5 per axis).
    Returns [K] (separable) or [Kh, Kw], float32 on `device`.
    """
    if f is None:
        f = 1
    f = torch.as_tensor(f, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    if f.ndim not in (1, 2) or f.numel() == 0:
        raise ValueError(f"filter must be a non-empty 1-D or 2-D tensor, got shape {list(f.shape)}")
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = f.outer(f)
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)


def _pair(value, name: str) -> tuple[int, int]:
    """An int or an (x, y) pair of ints >= 1 as (x, y)."""
    pair = (value, value) if isinstance(value, numbers.Integral) else value
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(isinstance(v, numbers.Integral) for v in pair)
    ):
        raise TypeError(f"{name} must be an int or a pair of ints (x, y), got {value!r}")
    if min(pair) < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(pair[0]), int(pair[1])


def _parse_padding(padding) -> tuple[int, int, int, int]:
    """An int, (x, y) or [x0, x1, y0, y1] as (x0, x1, y0, y1); negative values crop."""
    if isinstance(padding, numbers.Integral):
        padding = [padding, padding]
    if not isinstance(padding, (tuple, list)) or not all(isinstance(p, numbers.Integral) for p in padding):
        padding = None
    if padding is None or len(padding) not in (2, 4):
        raise TypeError("padding must be an int, (x, y) or [x0, x1, y0, y1] of ints")
    if len(padding) == 2:
        padding = [padding[0], padding[0], padding[1], padding[1]]
    return tuple(int(p) for p in padding)


def _filter_size(f: torch.Tensor) -> tuple[int, int]:
    """(width, height) of a 1-D (separable) or 2-D filter."""
    return (f.shape[-1], f.shape[0])


def _check_args(x, f, up, down, padding, check_size=True):
    """Validate and normalise upfirdn2d's arguments before any work; returns (f, up, down, padding)."""
    check_tensor("x", x, rank=4)  # [N, C, H, W]
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    if not isinstance(f, torch.Tensor):
        raise TypeError(f"f must be a torch.Tensor (see setup_filter), got {type(f).__name__}")
    if f.ndim not in (1, 2) or f.numel() == 0:
        raise ValueError(f"filter f must be a non-empty 1-D or 2-D tensor, got shape {list(f.shape)}")
    if not f.is_floating_point():
        raise TypeError(f"filter f must be floating-point, got {f.dtype}; use setup_filter()")
    up, down, padding = _pair(up, "up"), _pair(down, "down"), _parse_padding(padding)
    fw, fh = _filter_size(f)
    out_w = x.shape[3] * up[0] + padding[0] + padding[1] - fw + 1
    out_h = x.shape[2] * up[1] + padding[2] + padding[3] - fh + 1
    if check_size and (out_w < 1 or out_h < 1):
        raise ValueError(
            f"padding {list(padding)} with up={up} and a {fh}x{fw} filter leaves an empty output for "
            f"input {x.shape[2]}x{x.shape[3]}; increase padding or use a larger input"
        )
    return f, up, down, padding


def upfirdn2d(x, f, up=1, down=1, padding=0, flip_filter=False, gain=1, impl="auto") -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample a batch of images.

    x: [N, C, H, W] floating point. f: [K] (separable) or [Kh, Kw] filter, or None for identity.
    Steps: insert `up - 1` zeros after every sample; pad by `padding` (int, (x, y) or
    [x0, x1, y0, y1]; negative crops); convolve with `f` in 'valid' mode (true convolution unless
    `flip_filter`); keep every `down`-th sample; multiply by `gain`. `up`, `down`: int or (x, y).
    Returns [N, C, H_out, W_out] with W_out = ceil((W * up_x + x0 + x1 - Kw + 1) / down_x).
    """
    f, up, down, padding = _check_args(x, f, up, down, padding)
    if resolve_impl(impl) == "ref":
        return _upfirdn2d_ref(x, f, up, down, padding, flip_filter, gain)
    return _upfirdn2d_fused(x, f, up, down, padding, flip_filter, gain)


def _upfirdn2d_ref(x, f, up, down, padding, flip_filter, gain) -> torch.Tensor:
    """Oracle: zero insertion, pad/crop, depthwise conv2d with the (flipped) filter, subsampling."""
    n, c, h, w = x.shape
    (up_x, up_y), (down_x, down_y), (x0, x1, y0, y1) = up, down, padding
    x = x.reshape(n, c, h, 1, w, 1)
    x = F.pad(x, [0, up_x - 1, 0, 0, 0, up_y - 1]).reshape(n, c, h * up_y, w * up_x)
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0) : x.shape[2] - max(-y1, 0), max(-x0, 0) : x.shape[3] - max(-x1, 0)]
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        x = F.conv2d(x, f[None, None].repeat(c, 1, 1, 1), groups=c)
    else:
        x = F.conv2d(x, f[None, None, None, :].repeat(c, 1, 1, 1), groups=c)
        x = F.conv2d(x, f[None, None, :, None].repeat(c, 1, 1, 1), groups=c)
    return x[:, :, ::down_y, ::down_x]


def _upfirdn2d_fused(x, f, up, down, padding, flip_filter, gain) -> torch.Tensor:
    """Fast path: separable polyphase passes in a custom autograd.Function.

    Its backward is upfirdn2d again (flipped filter, up and down swapped), so it is differentiable
    to any order. Non-separable 2-D filters and CUDA tensors use the conv-based reference instead.
    """
    if x.is_cuda:  # cuDNN's depthwise convolutions beat the CPU-oriented polyphase passes here
        log_fallback("upfirdn2d", "CUDA tensors use the separable depthwise-convolution path")
        return _upfirdn2d_ref(x, f, up, down, padding, flip_filter, gain)
    if _separate_filter(f) is None:
        log_fallback("upfirdn2d", "the 2-D filter is not separable (rank > 1)")
        return _upfirdn2d_ref(x, f, up, down, padding, flip_filter, gain)
    return _UpFirDn2d.apply(x, f, up, down, padding, flip_filter, gain)


def _separate_filter(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(column [Kh], row [Kw]) with outer(column, row) == f, or None when f is not rank 1."""
    if f.ndim == 1:
        return f, f
    row_index, col_index = divmod(int(f.abs().argmax()), f.shape[1])
    column, row = f[:, col_index], f[row_index] / f[row_index, col_index]
    return (column, row) if torch.allclose(column.outer(row), f, rtol=1e-6, atol=1e-7) else None


class _UpFirDn2d(torch.autograd.Function):
    """upfirdn2d with a separable filter; backward = upfirdn2d(dy) with the adjoint arguments."""

    @staticmethod
    def forward(ctx, x, f, up, down, padding, flip_filter, gain):
        column, row = _separate_filter(f)
        scale = gain**0.5 if f.ndim == 1 else 1.0
        row_taps = (row if flip_filter else row.flip(0)).double().mul(scale).tolist()
        column_taps = (
            (column if flip_filter else column.flip(0))
            .double()
            .mul(scale * (gain if f.ndim == 2 else 1))
            .tolist()
        )
        y = _fir_axis(x, row_taps, -1, up[0], down[0], padding[0], padding[1])
        y = _fir_axis(y, column_taps, -2, up[1], down[1], padding[2], padding[3])
        ctx.save_for_backward(f)
        ctx.args = (x.shape, y.shape, up, down, padding, flip_filter, gain)
        return y

    @staticmethod
    def backward(ctx, dy):
        (f,) = ctx.saved_tensors
        x_shape, y_shape, up, down, padding, flip_filter, gain = ctx.args
        fw, fh = _filter_size(f)
        adjoint_padding = [
            fw - padding[0] - 1,
            x_shape[3] * up[0] - y_shape[3] * down[0] + padding[0] - up[0] + 1,
            fh - padding[2] - 1,
            x_shape[2] * up[1] - y_shape[2] * down[1] + padding[2] - up[1] + 1,
        ]
        dx = _upfirdn2d_fused(dy, f, down, up, adjoint_padding, not flip_filter, gain)
        return dx, None, None, None, None, None, None


def _fir_axis(x, taps, axis, up, down, pad0, pad1) -> torch.Tensor:
    """1-D upfirdn of x along `axis` (-1 or -2); `taps` are correlation weights (python floats).

    Upsampling is polyphase (each output phase is a short filter on x itself, no zeros are
    inserted); downsampling computes only the kept samples; borders are handled by clipping each
    tap's range, so no padded copy of x is made.
    """
    length, num_taps = x.shape[axis], len(taps)
    if up > 1 and down > 1:  # never used by StyleGAN2: materialise the zeros, then go on with up=1
        x = _insert_zeros(x, axis, up)
        length, up = length * up, 1
    out_len = (length * up + pad0 + pad1 - num_taps) // down + 1
    phase_len = -(-out_len // up)
    shape = list(x.shape)
    shape[axis] = phase_len * up
    out = x.new_empty(shape)
    phases = out.unflatten(x.ndim + axis, (phase_len, up))
    for phase in range(up):
        dst = phases.select(x.ndim + axis + 1, phase)
        # Output sample phase + up * i reads x[i * down + offset] for each tap of this phase.
        terms = [(taps[k], (phase + k - pad0) // up) for k in range(num_taps) if (phase + k - pad0) % up == 0]
        _accumulate(dst, x, axis, terms, down, length)
    return out.narrow(axis, 0, out_len)


def _accumulate(dst, x, axis, terms, step, length) -> None:
    """dst[i] = sum over (weight, offset) of weight * x[i * step + offset], zero outside x."""
    size = dst.shape[axis]

    def valid_range(offset):  # output indices i whose source index lies inside [0, length)
        return max(0, -(offset // step)), min(size, (length - 1 - offset) // step + 1)

    terms = sorted(terms, key=lambda term: valid_range(term[1]) != (0, size))
    if not terms or valid_range(terms[0][1]) != (0, size):
        dst.zero_()
    for index, (weight, offset) in enumerate(terms):
        lo, hi = valid_range(offset)
        if hi <= lo:
            continue
        source = _strided_slice(x, axis, lo * step + offset, hi - lo, step)
        target = dst.narrow(axis, lo, hi - lo)
        if index == 0 and (lo, hi) == (0, size):
            torch.mul(source, weight, out=target)
        else:
            target.add_(source, alpha=weight)


def _strided_slice(x, axis, start, count, step) -> torch.Tensor:
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, start + (count - 1) * step + 1, step)
    return x[tuple(index)]


def _insert_zeros(x, axis, up) -> torch.Tensor:
    """x with `up - 1` zeros after every sample along `axis`."""
    shape = list(x.shape)
    shape[axis] *= up
    out = x.new_zeros(shape)
    _strided_slice(out, axis, 0, x.shape[axis], up).copy_(x)
    return out


def upsample2d(x, f, up=2, padding=0, flip_filter=False, gain=1, impl="auto") -> torch.Tensor:
    """Upsample [N, C, H, W] by `up` with FIR filter `f`: output [N, C, H * up_y, W * up_x].

    The gain is multiplied by up_x * up_y to keep the mean (zero insertion dilutes it); the padding
    is chosen so the size is exactly scaled, and `padding` is added on top.
    """
    f, up, _, padding = _check_args(x, f, up, 1, padding, check_size=False)
    (up_x, up_y), (x0, x1, y0, y1), (fw, fh) = up, padding, _filter_size(f)
    padding = [
        x0 + (fw + up_x - 1) // 2,
        x1 + (fw - up_x) // 2,
        y0 + (fh + up_y - 1) // 2,
        y1 + (fh - up_y) // 2,
    ]
    return upfirdn2d(
        x, f, up=up, padding=padding, flip_filter=flip_filter, gain=gain * up_x * up_y, impl=impl
    )


def downsample2d(x, f, down=2, padding=0, flip_filter=False, gain=1, impl="auto") -> torch.Tensor:
    """Downsample [N, C, H, W] by `down` with FIR filter `f`: output [N, C, H / down_y, W / down_x]."""
    f, _, down, padding = _check_args(x, f, 1, down, padding, check_size=False)
    (down_x, down_y), (x0, x1, y0, y1), (fw, fh) = down, padding, _filter_size(f)
    padding = [
        x0 + (fw - down_x + 1) // 2,
        x1 + (fw - down_x) // 2,
        y0 + (fh - down_y + 1) // 2,
        y1 + (fh - down_y) // 2,
    ]
    return upfirdn2d(x, f, down=down, padding=padding, flip_filter=flip_filter, gain=gain, impl=impl)


def filter2d(x, f, padding=0, flip_filter=False, gain=1, impl="auto") -> torch.Tensor:
    """Filter [N, C, H, W] with FIR filter `f`, keeping the size [N, C, H, W] (plus `padding`)."""
    f, _, _, padding = _check_args(x, f, 1, 1, padding, check_size=False)
    (x0, x1, y0, y1), (fw, fh) = padding, _filter_size(f)
    padding = [x0 + fw // 2, x1 + (fw - 1) // 2, y0 + fh // 2, y1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=padding, flip_filter=flip_filter, gain=gain, impl=impl)
