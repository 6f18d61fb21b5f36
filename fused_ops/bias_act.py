"""Bias, activation, gain and clamp in one op (`bias_act`), as in StyleGAN2's layers.

`y = clamp(act(x + b) * gain, -clamp, clamp)`, with the official StyleGAN2 defaults: gain sqrt(2)
for relu/lrelu (He-style equalised learning rate, paper Section 2 / ProGAN), lrelu slope 0.2.
The fused path runs the forward in place on one fresh tensor and, for activations whose derivative
is a function of the output, saves only `y` for backward; its backward is built from differentiable
torch ops, so R1 / path length regularisation can differentiate through it twice.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from fused_ops._impl import check_tensor, report_triton_failure, resolve_impl, triton_available

_SELU_SCALE = 1.0507009873554805
_SELU_ALPHA = 1.6732632423543772


@dataclass(frozen=True, kw_only=True)
class _Activation:
    """One activation: its function, default alpha and gain, and whether f' is a function of f."""

    func: object
    default_alpha: float = 0.0
    default_gain: float = 1.0
    derivative_from_output: bool = True


ACTIVATIONS = {
    "linear": _Activation(func=lambda x, alpha: x),
    "relu": _Activation(func=lambda x, alpha: F.relu(x), default_gain=math.sqrt(2)),
    "lrelu": _Activation(
        func=lambda x, alpha: F.leaky_relu(x, alpha), default_alpha=0.2, default_gain=math.sqrt(2)
    ),
    "tanh": _Activation(func=lambda x, alpha: torch.tanh(x)),
    "sigmoid": _Activation(func=lambda x, alpha: torch.sigmoid(x)),
    "elu": _Activation(func=lambda x, alpha: F.elu(x)),
    "selu": _Activation(func=lambda x, alpha: F.selu(x)),
    "softplus": _Activation(func=lambda x, alpha: F.softplus(x), derivative_from_output=False),
    "swish": _Activation(func=lambda x, alpha: torch.sigmoid(x) * x, derivative_from_output=False),
}


def bias_act(x, b=None, dim=1, act="linear", alpha=None, gain=None, clamp=None, impl="auto") -> torch.Tensor:
    """Add bias `b` along `dim`, apply activation `act`, multiply by `gain`, clamp to [-clamp, clamp].

    x: any shape, floating point (typically [N, C, H, W] or [N, C]). b: [x.shape[dim]] or None.
    act: one of linear, relu, lrelu, tanh, sigmoid, elu, selu, softplus, swish.
    alpha: lrelu slope (default 0.2). gain: default sqrt(2) for relu/lrelu, else 1.
    clamp: None (no clamping) or a number >= 0. Returns a tensor shaped like x.
    """
    dim, spec, alpha, gain, clamp = _check_args(x, b, dim, act, alpha, gain, clamp)
    if resolve_impl(impl) == "ref":
        return _bias_act_ref(x, b, dim, spec, alpha, gain, clamp)
    return _bias_act_fused(x, b, dim, act, alpha, gain, clamp)


def _check_args(x, b, dim, act, alpha, gain, clamp):
    """Validate before any work; returns (dim, activation, alpha, gain, clamp) with defaults filled."""
    check_tensor("x", x)
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; choose one of {sorted(ACTIVATIONS)}")
    if not isinstance(dim, numbers.Integral) or not -x.ndim <= dim < max(x.ndim, 1):
        raise ValueError(f"dim={dim!r} is out of range for x of rank {x.ndim}")
    dim = int(dim) % max(x.ndim, 1)
    if b is not None:
        check_tensor("b", b)
        if b.ndim != 1 or x.ndim == 0 or b.shape[0] != x.shape[dim]:
            raise ValueError(
                f"bias must have shape [{x.shape[dim] if x.ndim else '?'}] "
                f"(x.shape[dim={dim}]), got {list(b.shape)}"
            )
    for name, value in (("alpha", alpha), ("gain", gain), ("clamp", clamp)):
        if value is not None and not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a number or None, got {type(value).__name__}")
    if clamp is not None and clamp < 0:
        raise ValueError(f"clamp must be >= 0 or None, got {clamp}")
    spec = ACTIVATIONS[act]
    alpha = float(spec.default_alpha if alpha is None else alpha)
    gain = float(spec.default_gain if gain is None else gain)
    return dim, spec, alpha, gain, (None if clamp is None else float(clamp))


def _bias_shape(x: torch.Tensor, dim: int) -> list[int]:
    return [-1 if i == dim else 1 for i in range(x.ndim)]


def _bias_act_ref(x, b, dim, spec, alpha, gain, clamp) -> torch.Tensor:
    """Oracle: one plain torch op per step."""
    if b is not None:
        x = x + b.to(x.dtype).reshape(_bias_shape(x, dim))
    x = spec.func(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def _bias_act_fused(x, b, dim, act, alpha, gain, clamp) -> torch.Tensor:
    """Fast path: one fresh output tensor, in-place steps, minimal saved tensors."""
    if act == "linear" and b is None and gain == 1 and clamp is None:
        return x
    b_full = None if b is None else b.to(x.dtype)
    return _BiasAct.apply(x, b_full, dim, act, alpha, gain, clamp)


_POSITIVELY_HOMOGENEOUS = ("linear", "relu", "lrelu")


def _forward_torch(x, b, dim, act, alpha, gain, clamp) -> torch.Tensor:
    """y = clamp(act(x + b) * gain) computed in place on one fresh tensor (no autograd)."""
    if act in _POSITIVELY_HOMOGENEOUS and gain > 0:
        # act(z) * gain == act(gain * z) for gain > 0: the gain rides along with the bias add, one pass fewer.
        y = x * gain if b is None else torch.add(b.reshape(_bias_shape(x, dim)) * gain, x, alpha=gain)
        gain = 1.0
    else:
        y = torch.add(x, b.reshape(_bias_shape(x, dim))) if b is not None else x.clone()
    if act == "relu":
        y.relu_()
    elif act == "lrelu":
        F.leaky_relu_(y, alpha)
    elif act == "tanh":
        y.tanh_()
    elif act == "sigmoid":
        y.sigmoid_()
    elif act == "elu":
        F.elu_(y)
    elif act == "selu":
        F.selu_(y)
    elif act == "softplus":
        y = F.softplus(y)
    elif act == "swish":
        y.mul_(torch.sigmoid(y))
    if gain != 1:
        y.mul_(gain)
    if clamp is not None:
        y.clamp_(-clamp, clamp)
    return y


# The Triton kernel computes in float32: float64 would lose precision there (gradcheck fails), so
# it takes the torch path, as any dtype the kernel does not handle.
TRITON_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


def uses_triton(x: torch.Tensor) -> bool:
    """Whether the fused forward of `x` runs the Triton kernel: CUDA, a kernel dtype, Triton present."""
    return x.is_cuda and x.dtype in TRITON_DTYPES and triton_available("cuda")


def _forward(x, b, dim, act, alpha, gain, clamp) -> torch.Tensor:
    """Triton kernel on CUDA where it builds (float16/bfloat16/float32), else the torch forward."""
    if uses_triton(x):
        try:
            from fused_ops._triton_kernels import bias_act_forward

            return bias_act_forward(x, b, dim, act, alpha, gain, clamp)
        except Exception as error:  # a kernel that fails to compile must not stop training
            report_triton_failure(error)
    return _forward_torch(x, b, dim, act, alpha, gain, clamp)


def _saves_output_only(act: str, alpha: float, gain: float) -> bool:
    """True when act'(x + b) can be recovered from y alone (sign-preserving y, gain > 0)."""
    return ACTIVATIONS[act].derivative_from_output and gain > 0 and not (act == "lrelu" and alpha < 0)


class _BiasAct(torch.autograd.Function):
    """Forward y = bias_act(x, b); backward via `_bias_act_grad` (itself differentiable)."""

    @staticmethod
    def forward(ctx, x, b, dim, act, alpha, gain, clamp):
        y = _forward(x, b, dim, act, alpha, gain, clamp)
        ctx.params = (dim, act, alpha, gain, clamp)
        ctx.from_output = _saves_output_only(act, alpha, gain)
        ctx.has_bias = b is not None
        if ctx.from_output:
            # linear needs y only for the clamp mask; everything else derives f' from y.
            ctx.save_for_backward(y if (act != "linear" or clamp is not None) else None)
        else:
            ctx.save_for_backward(x, b)
        return y

    @staticmethod
    def backward(ctx, dy):
        dim, act, alpha, gain, clamp = ctx.params
        if ctx.from_output:
            (y,) = ctx.saved_tensors
            dx = _grad_from_output(dy, y, act, alpha, gain, clamp)
        else:
            x, b = ctx.saved_tensors
            dx = _grad_from_input(dy, x, b, dim, act, alpha, gain, clamp)
        db = None
        if ctx.has_bias and ctx.needs_input_grad[1]:
            db = dx.sum([i for i in range(dx.ndim) if i != dim])
        return dx, db, None, None, None, None, None


def _grad_from_output(dy, y, act, alpha, gain, clamp) -> torch.Tensor:
    """dL/dx from dL/dy and the saved output y, with differentiable aten ops (for double backward).

    The gain and the clamp mask are applied in place on the fresh gradient tensor (never on dy).
    """
    aten = torch.ops.aten
    if act == "linear":
        dx = dy * gain if gain != 1 else dy
    elif act == "relu":
        dx = aten.threshold_backward(dy, y, 0)
    elif act == "lrelu":
        dx = aten.leaky_relu_backward(dy, y, alpha, True)
    else:
        unscaled = y if gain == 1 else y / gain  # act(x + b) before the gain (where not clamped)
        if act == "tanh":
            dx = aten.tanh_backward(dy, unscaled)
        elif act == "sigmoid":
            dx = aten.sigmoid_backward(dy, unscaled)
        elif act == "elu":
            dx = aten.elu_backward(dy, 1.0, 1.0, 1.0, True, unscaled)
        else:  # selu
            dx = aten.elu_backward(dy, _SELU_ALPHA, _SELU_SCALE, 1.0, True, unscaled)
    if gain != 1 and act != "linear":
        dx.mul_(gain)
    if clamp is not None:
        outside = y.abs() >= clamp
        dx = dy.masked_fill(outside, 0) if dx is dy else dx.masked_fill_(outside, 0)
    return dx


def _grad_from_input(dy, x, b, dim, act, alpha, gain, clamp) -> torch.Tensor:
    """dL/dx recomputed from the saved input (softplus, swish, or a sign-flipping gain/alpha)."""
    z = x if b is None else x + b.reshape(_bias_shape(x, dim))
    if act == "softplus":
        derivative = torch.sigmoid(z)
    elif act == "swish":
        sig = torch.sigmoid(z)
        derivative = sig * (1 + z * (1 - sig))
    else:
        with torch.enable_grad():
            z_leaf = z.detach().requires_grad_(True)
            derivative = torch.autograd.grad(ACTIVATIONS[act].func(z_leaf, alpha).sum(), z_leaf)[0]
    dx = dy * derivative * gain
    if clamp is not None:
        y = ACTIVATIONS[act].func(z, alpha) * gain
        dx = torch.where(y.abs() < clamp, dx, torch.zeros((), dtype=dx.dtype, device=dx.device))
    return dx
