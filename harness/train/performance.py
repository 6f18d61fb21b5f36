"""GPU speed options of a training run, applied by one function: `apply_performance(options, G, D, device)`.

Everything is off by default, and off means untouched: no flag set beyond TF32 (explicitly off),
no hook installed, no tensor converted, so default runs are bit-identical to runs without this
module. What each option does and whether it changes the mathematics:

- `tf32`: TensorFloat-32 in cuBLAS matmuls and cuDNN convolutions (Ampere and newer). Changes the
  rounding of every conv (10-bit mantissa products); off by default for paper-scale fidelity.
- `channels_last`: NHWC weights and activations (tensor-core friendly convolutions). Same
  mathematics; the float summation order may differ from NCHW kernels (about 1e-6).
- `mixed_precision_res`: the top N resolutions of G and D compute in bfloat16 or float16, the way
  the official StyleGAN2-ADA code uses `num_fp16_res` (4 there): each such block casts its input
  activations to the low dtype, its layers cast their weights to the activations' dtype, and the
  next float32 block (and G's output image) casts back. Parameters, optimiser state, the mapping
  network, the 4x4 block and D's epilogue stay float32. float16 needs activation clamping
  (`Config.conv_clamp`, 256 in the official code) against overflow; bfloat16 does not.
- `compile_mapping`: torch.compile of the mapping network f (CUDA only). f is never differentiated
  twice (path length and R1 take second derivatives through g and D only), so Inductor's
  first-order backward suffices. CUDA graphs are not used: every phase differentiates g or D
  twice or changes batch size, which CUDA graph capture does not support.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import nn

from common.options import Options

logger = logging.getLogger(__name__)

MixedPrecisionDtype = Literal["bfloat16", "float16"]
MIXED_PRECISION_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
LOWEST_MIXED_PRECISION_RES = 8  # the 4x4 block stays float32 (official: fp16 resolutions >= 8)
OFFICIAL_FP16_CONV_CLAMP = 256.0


@dataclass(frozen=True, kw_only=True)
class PerformanceOptions(Options):
    """Speed settings of a training run (options.json `performance`); the defaults change nothing.

    tf32: TF32 matmuls and convolutions on CUDA (changes rounding; off = IEEE float32).
    channels_last: NHWC memory format for G and D weights and block activations.
    mixed_precision_res: compute the N highest resolutions of G and D in `mixed_precision_dtype`
        (0 = all float32; 4 = the official setting); never below 8x8.
    mixed_precision_dtype: bfloat16 (no overflow, no clamp needed) or float16 (needs the config's
        conv_clamp, --conv-clamp 256 officially).
    compile_mapping: torch.compile the mapping network (CUDA only; skipped with a note on CPU).
    """

    option_label: ClassVar[str] = "performance option"

    tf32: bool = False
    channels_last: bool = False
    mixed_precision_res: int = 0
    mixed_precision_dtype: MixedPrecisionDtype = "bfloat16"
    compile_mapping: bool = False

    def validate(self) -> None:
        if self.mixed_precision_res < 0:
            raise ValueError(f"mixed_precision_res must be an int >= 0 (0 = off, 4 = the official number of "
                             f"float16 resolutions), got {self.mixed_precision_res!r}")


@dataclass(frozen=True, kw_only=True)
class AppliedPerformance:
    """What `apply_performance` did: the settings in effect and why any option was skipped."""

    tf32: bool
    channels_last: bool
    mixed_precision_dtype: str | None
    mixed_precision_resolutions: tuple[int, ...]  # block resolutions computed in the low dtype
    compiled_mapping: bool
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def mixed_precision_resolutions(resolutions: tuple[int, ...], count: int) -> tuple[int, ...]:
    """The `count` highest of `resolutions` (ascending powers of two), none below 8x8."""
    if count <= 0 or not resolutions:
        return ()
    lowest = max(resolutions[-1] >> (count - 1), LOWEST_MIXED_PRECISION_RES)
    return tuple(res for res in resolutions if res >= lowest)


def apply_performance(options: PerformanceOptions, G: nn.Module, D: nn.Module,
                      device: torch.device | str) -> AppliedPerformance:
    """Apply `options` to the training networks G and D (in place) and to torch's TF32 flags.

    Call it after G_ema was copied from G (G_ema stays a plain float32 network: snapshots and
    evaluation are unaffected) and before the optimisers are built. TF32 is process-wide: wrap
    the run in `tf32_restored()` to put the previous setting back afterwards.
    """
    if not isinstance(options, PerformanceOptions):
        raise TypeError(f"options must be a PerformanceOptions, got {type(options).__name__}")
    device, config = torch.device(device), G.config
    resolutions = mixed_precision_resolutions(config.resolutions, options.mixed_precision_res)
    if resolutions and options.mixed_precision_dtype == "float16" and config.conv_clamp is None:
        raise ValueError(f"mixed precision in float16 needs activation clamping against overflow: set the "
                         f"config's conv_clamp (the official value is {OFFICIAL_FP16_CONV_CLAMP:g}: "
                         f"--conv-clamp {OFFICIAL_FP16_CONV_CLAMP:g}), or use "
                         f"mixed_precision_dtype='bfloat16'")
    set_tf32(options.tf32)
    if options.channels_last:
        for net in (G, D):
            net.to(memory_format=torch.channels_last)
    if resolutions or options.channels_last:
        low_dtype = MIXED_PRECISION_DTYPES[options.mixed_precision_dtype]
        memory_format = torch.channels_last if options.channels_last else torch.preserve_format
        _install_block_casts(G, D, resolutions, low_dtype, memory_format)
    notes, compiled = [], False
    if options.compile_mapping and device.type != "cuda":
        notes.append(f"compile_mapping skipped on {device.type}: only CUDA runs compile the mapping network")
    elif options.compile_mapping:
        G.mapping.compile()  # in place: parameter names, state_dict and checkpoints are unchanged
        compiled = True
    for note in notes:
        logger.info(note)
    return AppliedPerformance(
        tf32=options.tf32, channels_last=options.channels_last,
        mixed_precision_dtype=options.mixed_precision_dtype if resolutions else None,
        mixed_precision_resolutions=resolutions, compiled_mapping=compiled, notes=tuple(notes))


def _install_block_casts(G: nn.Module, D: nn.Module, low_resolutions: tuple[int, ...],
                         low_dtype: torch.dtype, memory_format: torch.memory_format) -> None:
    """Forward pre-hooks casting each block's input activations to its dtype and memory format.

    Blocks at `low_resolutions` compute in `low_dtype`, all others in float32 (so a float32 block
    after a low-precision one starts from float32 again); G's synthesis output is cast to float32.
    """
    blocks = [*G.synthesis.blocks, *D.blocks, D.epilogue]
    for block in blocks:
        resolution = getattr(block, "resolution", 4)  # D's epilogue works at 4x4
        dtype = low_dtype if resolution in low_resolutions else torch.float32
        block.register_forward_pre_hook(_cast_first_input(dtype, memory_format))
    if low_resolutions:
        G.synthesis.register_forward_hook(_image_to_float32)


def _cast_first_input(dtype: torch.dtype, memory_format: torch.memory_format):
    def hook(module: nn.Module, args: tuple) -> tuple | None:
        if not args or args[0] is None:  # G's 4x4 block starts from its learned constant
            return None
        return (args[0].to(dtype=dtype, memory_format=memory_format), *args[1:])
    return hook


def _image_to_float32(module: nn.Module, args: tuple, output):
    """G.synthesis returns img or (img, trace): the image leaves G in float32."""
    if isinstance(output, tuple):
        return (output[0].float(), *output[1:])
    return output.float()


# TF32 ---------------------------------------------------------------------------------------------

def _has_precision_api() -> bool:
    """torch >= 2.9 sets TF32 through `fp32_precision`; mixing it with `allow_tf32` raises on read."""
    return hasattr(torch.backends.cuda.matmul, "fp32_precision")


def set_tf32(enabled: bool) -> None:
    """TF32 on (True) or IEEE float32 (False) for CUDA matmuls and cuDNN convolutions, process-wide."""
    if _has_precision_api():
        precision = "tf32" if enabled else "ieee"
        torch.backends.cuda.matmul.fp32_precision = precision
        torch.backends.cudnn.conv.fp32_precision = precision
    else:
        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled


def tf32_enabled() -> tuple[bool, bool]:
    """(matmul, convolution): whether each uses TF32 now."""
    if _has_precision_api():
        return (torch.backends.cuda.matmul.fp32_precision == "tf32",
                torch.backends.cudnn.conv.fp32_precision == "tf32")
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


@contextlib.contextmanager
def tf32_restored() -> Iterator[None]:
    """Put the TF32 settings back as they were when the block exits."""
    if _has_precision_api():
        matmul, cudnn_conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
        saved = (matmul.fp32_precision, cudnn_conv.fp32_precision)
        try:
            yield
        finally:
            matmul.fp32_precision, cudnn_conv.fp32_precision = saved
    else:
        saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
