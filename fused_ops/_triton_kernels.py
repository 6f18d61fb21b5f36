"""Triton kernels for CUDA (imported lazily: this module never imports triton at import time).

Only forward kernels live here; their backward passes are differentiable torch ops (see
`bias_act._BiasAct`), so double backward works without second-order kernels.
"""

from __future__ import annotations

import functools

import torch

_ACT_CODES = {
    "linear": 0,
    "relu": 1,
    "lrelu": 2,
    "tanh": 3,
    "sigmoid": 4,
    "elu": 5,
    "selu": 6,
    "softplus": 7,
    "swish": 8,
}
_BLOCK = 1024


@functools.cache
def _bias_act_kernel():
    """Compile-on-first-use bias_act kernel: y = clamp(act(x + b[channel]) * gain)."""
    import triton
    import triton.language as tl

    @triton.jit
    def kernel(
        x_ptr,
        b_ptr,
        y_ptr,
        numel,
        inner,
        channels,
        alpha,
        gain,
        clamp,
        ACT: tl.constexpr,
        HAS_BIAS: tl.constexpr,
        HAS_CLAMP: tl.constexpr,
        BLOCK: tl.constexpr,
    ):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < numel
        v = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
        if HAS_BIAS:
            v += tl.load(b_ptr + (offsets // inner) % channels, mask=mask, other=0.0).to(tl.float32)
        if ACT == 1:
            v = tl.maximum(v, 0.0)
        elif ACT == 2:
            v = tl.where(v > 0, v, v * alpha)
        elif ACT == 3:
            v = 2.0 / (1.0 + tl.exp(-2.0 * v)) - 1.0
        elif ACT == 4:
            v = 1.0 / (1.0 + tl.exp(-v))
        elif ACT == 5:
            v = tl.where(v > 0, v, tl.exp(v) - 1.0)
        elif ACT == 6:
            v = tl.where(v > 0, 1.0507009873554805 * v, 1.7580993408473766 * (tl.exp(v) - 1.0))
        elif ACT == 7:
            v = tl.where(v > 20.0, v, tl.log(1.0 + tl.exp(v)))
        elif ACT == 8:
            v = v / (1.0 + tl.exp(-v))
        v = v * gain
        if HAS_CLAMP:
            v = tl.minimum(tl.maximum(v, -clamp), clamp)
        tl.store(y_ptr + offsets, v.to(y_ptr.dtype.element_ty), mask=mask)

    return kernel


def bias_act_forward(
    x: torch.Tensor, b, dim: int, act: str, alpha: float, gain: float, clamp
) -> torch.Tensor:
    """y = clamp(act(x + b) * gain) for a CUDA tensor x of any shape, b: [x.shape[dim]] or None."""
    x = x.contiguous()
    y = torch.empty_like(x)
    numel = x.numel()
    if numel == 0:
        return y
    inner = 1
    for size in x.shape[dim + 1 :]:
        inner *= size
    bias = x if b is None else b.contiguous()  # any valid pointer when HAS_BIAS is False
    grid = (triton_cdiv(numel, _BLOCK),)
    _bias_act_kernel()[grid](
        x,
        bias,
        y,
        numel,
        inner,
        x.shape[dim] if x.ndim else 1,
        float(alpha),
        float(gain),
        float(clamp if clamp is not None else 0.0),
        ACT=_ACT_CODES[act],
        HAS_BIAS=b is not None,
        HAS_CLAMP=clamp is not None,
        BLOCK=_BLOCK,
    )
    return y


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)
