"""Choosing between an op's plain-PyTorch reference ('ref') and its fast path ('fused').

`Impl` is the one declaration of the choices (variants.Config.impl and every op's `impl=` use it).
`resolve_impl('auto')` answers 'fused' on every device: every op has a torch fast path that runs
anywhere, and on CUDA the op itself tries its Triton kernel first (see `triton_available`). On CPU
the fast path was at least as fast as the reference in every op benchmarked
(results/bench/cpu-amd-epyc-2cpus/.../0001_baseline.json: ref / fused 0.93 to 4.8, the 0.93 a
grouped modulated conv within its timing noise), so no device needs 'ref' for speed.
"""

from __future__ import annotations

import functools
import logging
import warnings
from typing import Literal, get_args

import torch

from common.options import check_choice

logger = logging.getLogger(__name__)

Impl = Literal["ref", "fused", "auto"]
IMPLS: tuple[str, ...] = get_args(Impl)


def check_tensor(name: str, tensor, rank: int | None = None) -> None:
    """TypeError / ValueError naming `name` unless `tensor` is a floating-point torch.Tensor of `rank`."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if rank is not None and tensor.ndim != rank:
        raise ValueError(f"{name} must have rank {rank}, got shape {list(tensor.shape)}")
    if not tensor.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {tensor.dtype}; convert it with "
                        f"{name}.float()")


def check_impl(impl: str) -> str:
    """`impl` if it is one of IMPLS, else a ValueError naming the choices."""
    check_choice("impl", impl, IMPLS)
    return impl


def resolve_impl(impl: str) -> str:
    """Map `impl` ('ref' | 'fused' | 'auto') to the implementation to run: 'auto' is 'fused' on
    every device (see the module docstring). Raises ValueError for other names."""
    return "fused" if check_impl(impl) == "auto" else impl


@functools.cache
def triton_available(device_type: str) -> bool:
    """True when Triton kernels can run on `device_type` ('cuda'); cached, warns once if not.

    The cache is the only state: the first call per device type imports Triton (lazily, never at
    module import) and, when that fails, logs the reason and issues one warning.
    """
    if device_type != "cuda":
        return False
    reason = None
    if not torch.cuda.is_available():
        reason = "CUDA is not available"
    else:
        try:
            import triton  # noqa: F401
            import triton.language  # noqa: F401
        except ImportError as error:
            reason = f"triton cannot be imported ({error})"
    if reason is None:
        return True
    message = f"fused_ops: Triton kernels unavailable, using the torch fast path instead: {reason}"
    logger.info(message)
    warnings.warn(message, RuntimeWarning, stacklevel=2)
    return False


@functools.cache
def log_fallback(op: str, reason: str) -> None:
    """Log (once per op and reason) why an op's fast path is not used for some input."""
    logger.info("fused_ops.%s: fast path unavailable, using the reference computation: %s", op, reason)


def report_triton_failure(error: Exception) -> None:
    """Log and warn (once per distinct message) that a Triton kernel failed to build or launch."""
    _warn_once(f"fused_ops: Triton kernel failed, falling back to the torch fast path: {error!r}")


@functools.cache
def _warn_once(message: str) -> None:
    logger.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)
