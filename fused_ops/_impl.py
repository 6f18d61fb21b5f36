"""Choosing between an op's plain-PyTorch reference ('ref') and its fast path ('fused').

`resolve_impl('auto', device)` always answers 'fused': every op has a torch fast path that runs on
any device, and on CUDA the op itself tries its Triton kernel first (see `triton_available`).
"""

from __future__ import annotations

import functools
import logging
import warnings

import torch

logger = logging.getLogger(__name__)

IMPLS = ("ref", "fused", "auto")


def check_tensor(name: str, tensor, rank: int | None = None) -> None:
    """TypeError / ValueError naming `name` unless `tensor` is a floating-point torch.Tensor of `rank`."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if rank is not None and tensor.ndim != rank:
        raise ValueError(f"{name} must have rank {rank}, got shape {list(tensor.shape)}")
    if not tensor.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {tensor.dtype}; convert it with "
                        f"{name}.float()")


def resolve_impl(impl: str, device: torch.device | str | None = None) -> str:
    """Map `impl` ('ref' | 'fused' | 'auto') to the implementation to run on `device`.

    'auto' picks the fastest available, which is 'fused' on every device (CPU: torch fast path;
    CUDA: Triton where it builds, else the torch fast path). Raises ValueError for other names.
    """
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    if device is not None and not isinstance(device, (torch.device, str)):
        raise TypeError(f"device must be a torch.device or str, got {type(device).__name__}")
    return "fused" if impl == "auto" else impl


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
