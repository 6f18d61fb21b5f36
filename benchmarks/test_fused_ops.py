"""Reference vs fused speed of every fused_ops op, forward + backward, one group per op and shape.

Run: `pytest benchmarks --benchmark-enable` (add `--benchmark-group-by=group`). The CPU set is
batch 32 at 64-512 channels (about 2-3 minutes on 2 cores); the GPU set uses the layer shapes of
the 1024x1024 config F generator (channels min(32768 / resolution, 512), paper Appendix) and is
skipped without CUDA. Each round is one forward and one backward pass (a training step's cost).
"""

from dataclasses import dataclass

import pytest
import torch

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
        return f"{self.batch}x{self.in_channels}x{self.resolution}x{self.resolution}->{self.out_channels}"


def _config_f_channels(resolution: int) -> int:
    return min(32768 // resolution, 512)


CPU_SHAPES = [
    Shape(batch=32, in_channels=128, resolution=16, out_channels=128),
    Shape(batch=32, in_channels=64, resolution=32, out_channels=64),
    Shape(batch=32, in_channels=512, resolution=8, out_channels=512),
]
GPU_SHAPES = [
    Shape(
        batch=32,
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
