"""Reference vs fused speed of every fused_ops op, and the achieved memory bandwidth of the FIR and bias ops.

`python -m benchmarks.run` (or `pytest benchmarks --benchmark-enable`) times each op and shape in
its own group, `impl='ref'` beside `impl='fused'`. Each round of `test_cpu` / `test_cuda` is one
forward and one backward pass (a training step's cost). The CPU set is batch 32 at 64-512
channels; the GPU set uses the layer shapes of the 1024x1024 config F generator (channels
min(32768 / resolution, 512), paper Appendix) at the paper's batch per GPU (4 = 32 over 8 GPUs)
and is skipped without CUDA.

`test_bandwidth_*` times the forward pass of upfirdn2d (up- and downsampling by 2) and bias_act
(bias + leaky ReLU) and records, in extra_info, the bytes an ideal kernel moves (every input read
once, the output written once), bytes / mean time, and that as a fraction of the card's peak
DRAM bandwidth (benchmarks/machine.py; null for CPUs and unknown cards).
"""

from dataclasses import dataclass

import pytest
import torch

from benchmarks.machine import cuda_device_name, peak_bandwidth_bytes_per_s
from fused_ops.bias_act import bias_act
from fused_ops.conv2d_resample import conv2d_resample
from fused_ops.modconv import modulated_conv2d
from fused_ops.upfirdn2d import downsample2d, setup_filter, upsample2d

IMPLS = ["ref", "fused"]


@dataclass(frozen=True, kw_only=True)
class Shape:
    """One benchmarked layer: input [batch, in_channels, resolution, resolution] -> out_channels."""

    batch: int
    in_channels: int
    resolution: int
    out_channels: int = 0

    def __str__(self):
        size = f"{self.batch}x{self.in_channels}x{self.resolution}x{self.resolution}"
        return f"{size}->{self.out_channels}" if self.out_channels else size


def _config_f_channels(resolution: int) -> int:
    return min(32768 // resolution, 512)


CPU_SHAPES = [
    Shape(batch=32, in_channels=128, resolution=16, out_channels=128),
    Shape(batch=32, in_channels=64, resolution=32, out_channels=64),
    Shape(batch=32, in_channels=512, resolution=8, out_channels=512),
]
GPU_BATCH = 4  # the paper's 32 images over 8 GPUs
GPU_SHAPES = [
    Shape(
        batch=GPU_BATCH,
        in_channels=_config_f_channels(r // 2),
        resolution=r // 2,
        out_channels=_config_f_channels(r),
    )
    for r in (8, 16, 32, 64, 128, 256, 512, 1024)
]


def _operations(shape: Shape, device: str):
    """name -> (function of impl returning the op's output, its differentiable inputs)."""
    f = setup_filter([1, 3, 3, 1], device=device)
    n, c, r, c_out = shape.batch, shape.in_channels, shape.resolution, shape.out_channels

    def tensor(*size):
        return torch.randn(*size, device=device, requires_grad=True)

    x, w, styles, bias = tensor(n, c, r, r), tensor(c_out, c, 3, 3), tensor(n, c), tensor(c)
    x_big = tensor(n, c, 2 * r, 2 * r)
    return {
        "upsample2d": (lambda impl: upsample2d(x, f, impl=impl), [x]),
        "downsample2d": (lambda impl: downsample2d(x_big, f, impl=impl), [x_big]),
        "bias_act_lrelu": (lambda impl: bias_act(x_big, bias, act="lrelu", impl=impl), [x_big, bias]),
        "conv2d_resample_up": (lambda impl: conv2d_resample(x, w, f, up=2, padding=1, impl=impl), [x, w]),
        "conv2d_resample_down": (
            lambda impl: conv2d_resample(x_big, w, f, down=2, padding=1, impl=impl),
            [x_big, w],
        ),
        "modconv_up": (
            lambda impl: modulated_conv2d(
                x, w, styles, up=2, padding=1, resample_filter=f, fused_modconv=False, impl=impl
            ),
            [x, w, styles],
        ),
        "modconv_grouped": (
            lambda impl: modulated_conv2d(x, w, styles, padding=1, fused_modconv=True, impl=impl),
            [x, w, styles],
        ),
    }


OPERATIONS = list(_operations(Shape(batch=1, in_channels=1, resolution=4, out_channels=1), "cpu"))


def _run(benchmark, shape, op_name, impl, device):
    forward, inputs = _operations(shape, device)[op_name]
    benchmark.group = f"{op_name} {shape} {device}"
    benchmark.extra_info.update(op=op_name, shape=str(shape), impl=impl, device=device)

    def step():
        output = forward(impl)
        torch.autograd.backward(output, torch.ones_like(output))
        for tensor in inputs:
            tensor.grad = None
        if device == "cuda":
            torch.cuda.synchronize()

    benchmark.pedantic(step, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("op_name", OPERATIONS)
@pytest.mark.parametrize("shape", CPU_SHAPES, ids=str)
def test_cpu(benchmark, shape, op_name, impl):
    _run(benchmark, shape, op_name, impl, "cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("op_name", OPERATIONS)
@pytest.mark.parametrize("shape", GPU_SHAPES, ids=str)
def test_cuda(benchmark, shape, op_name, impl):
    _run(benchmark, shape, op_name, impl, "cuda")


# Achieved memory bandwidth ------------------------------------------------------------------------

BANDWIDTH_OPS = ["upsample2d", "downsample2d", "bias_act_lrelu"]
CPU_BANDWIDTH_SHAPES = [Shape(batch=8, in_channels=64, resolution=32)]
# Config F's largest layers: 128 -> 256 and 512 -> 1024 (channels of the low resolution).
GPU_BANDWIDTH_SHAPES = [
    Shape(batch=GPU_BATCH, in_channels=_config_f_channels(r // 2), resolution=r // 2) for r in (256, 1024)
]


def _bandwidth_operation(shape: Shape, op_name: str, device: str):
    """(function of impl running the forward pass, bytes an ideal kernel reads and writes)."""
    f = setup_filter([1, 3, 3, 1], device=device)
    n, c, r = shape.batch, shape.in_channels, shape.resolution
    x, x_big = torch.randn(n, c, r, r, device=device), torch.randn(n, c, 2 * r, 2 * r, device=device)
    bias = torch.randn(c, device=device)
    small = x.numel() * x.element_size()  # the big tensor holds 4 * small bytes
    return {
        "upsample2d": (lambda impl: upsample2d(x, f, impl=impl), small + 4 * small),
        "downsample2d": (lambda impl: downsample2d(x_big, f, impl=impl), 4 * small + small),
        "bias_act_lrelu": (
            lambda impl: bias_act(x_big, bias, act="lrelu", impl=impl),
            8 * small + bias.numel() * bias.element_size(),
        ),
    }[op_name]


def _run_bandwidth(benchmark, shape, op_name, impl, device, rounds):
    forward, bytes_moved = _bandwidth_operation(shape, op_name, device)
    benchmark.group = f"bandwidth {op_name} {shape} {device}"
    peak = peak_bandwidth_bytes_per_s(cuda_device_name() if device == "cuda" else None)
    benchmark.extra_info.update(op=op_name, shape=str(shape), impl=impl, device=device,
                                bytes_moved=bytes_moved,
                                peak_bandwidth_gb_s=None if peak is None else round(peak / 1e9))

    def step():
        output = forward(impl)
        if device == "cuda":
            torch.cuda.synchronize()
        return output

    with torch.no_grad():
        benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=2)
    if benchmark.stats is not None:
        achieved = bytes_moved / benchmark.stats.stats.mean
        benchmark.extra_info["bandwidth_gb_s"] = round(achieved / 1e9, 3)
        benchmark.extra_info["fraction_of_peak"] = None if peak is None else round(achieved / peak, 4)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("op_name", BANDWIDTH_OPS)
@pytest.mark.parametrize("shape", CPU_BANDWIDTH_SHAPES, ids=str)
def test_bandwidth_cpu(benchmark, shape, op_name, impl):
    _run_bandwidth(benchmark, shape, op_name, impl, "cpu", rounds=5)


@pytest.mark.gpu
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("op_name", BANDWIDTH_OPS)
@pytest.mark.parametrize("shape", GPU_BANDWIDTH_SHAPES, ids=str)
def test_bandwidth_cuda(benchmark, shape, op_name, impl):
    _run_bandwidth(benchmark, shape, op_name, impl, "cuda", rounds=20)
