"""bias_act: known answers, fast path vs reference to second order, saved memory, errors."""

import math
import types
import uuid
import warnings

import pytest
import torch

from fused_ops._impl import report_triton_failure, triton_available
from fused_ops.bias_act import ACTIVATIONS, bias_act


def test_reference_known_answers():
    x = torch.tensor([[-1.0, 0.5], [2.0, -3.0]])
    b = torch.tensor([0.5, -1.0])
    y = bias_act(x, b, act="lrelu", impl="ref")  # alpha 0.2, gain sqrt(2) by default
    expected = torch.tensor([[-0.5 * 0.2, -0.5 * 0.2], [2.5, -4.0 * 0.2]]) * math.sqrt(2)
    assert torch.allclose(y, expected)
    assert torch.allclose(
        bias_act(x, b, act="relu", clamp=1.0, impl="ref"), torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    )
    assert torch.equal(bias_act(x, impl="ref"), x)  # linear, gain 1, no bias
    along_last = bias_act(x, b, dim=0, act="tanh", gain=3, impl="ref")
    assert torch.allclose(along_last, 3 * torch.tanh(x + b[:, None]))


SHAPES_AND_DIMS = [([2, 3, 4, 5], 1), ([6, 7], 1), ([3, 2, 5], 2), ([4, 5], 0)]


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("clamp", [None, 0.7])
@pytest.mark.parametrize("shape, dim", SHAPES_AND_DIMS)
def test_fused_matches_reference(parity, act, clamp, shape, dim):
    x, b = torch.randn(shape), torch.randn(shape[dim])
    parity(
        lambda x, b: bias_act(x, b, dim, act, clamp=clamp, impl="ref"),
        lambda x, b: bias_act(x, b, dim, act, clamp=clamp, impl="fused"),
        [x, b],
    )


@pytest.mark.parametrize(
    "act, alpha, gain", [("lrelu", -0.5, None), ("relu", None, -2.0), ("tanh", None, 0.5)]
)
def test_fused_matches_reference_unusual_parameters(parity, act, alpha, gain):
    x, b = torch.randn(3, 4, 2), torch.randn(4)
    parity(
        lambda x, b: bias_act(x, b, act=act, alpha=alpha, gain=gain, impl="ref"),
        lambda x, b: bias_act(x, b, act=act, alpha=alpha, gain=gain, impl="fused"),
        [x, b],
    )


def test_fused_without_bias(parity):
    x = torch.randn(2, 3, 4)
    parity(
        lambda x: bias_act(x, act="swish", impl="ref"), lambda x: bias_act(x, act="swish", impl="fused"), [x]
    )


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_fused_gradcheck_float64(act):
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    x.data[x.data.abs() < 0.05] = 0.3  # keep away from kinks where finite differences are undefined
    op = lambda x, b: bias_act(x, b, act=act, clamp=1.5, impl="fused")
    assert torch.autograd.gradcheck(op, (x, b))
    assert torch.autograd.gradgradcheck(op, (x, b))


def saved_tensor_bytes(fn) -> tuple[int, int]:
    """(all, beyond the output): bytes autograd keeps for backward while running y = fn().

    The second number counts only saved tensors that do not share storage with y: the memory
    kept alive for backward on top of the activation the network keeps anyway.
    """
    saved = []

    def pack(tensor):
        saved.append(tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        y = fn()
    sizes = [t.numel() * t.element_size() for t in saved]
    extra = [
        size for t, size in zip(saved, sizes, strict=True) if t.untyped_storage().data_ptr() != y.data_ptr()
    ]
    return sum(sizes), sum(extra)


@pytest.mark.parametrize("act, clamp", [("lrelu", None), ("lrelu", 256.0), ("relu", None), ("linear", 256.0)])
def test_fused_saves_only_the_output(act, clamp):
    x = torch.randn(4, 8, 16, 16, requires_grad=True)
    b = torch.randn(8, requires_grad=True)
    output_bytes = x.numel() * x.element_size()
    fused_all, fused_extra = saved_tensor_bytes(lambda: bias_act(x, b, act=act, clamp=clamp, impl="fused"))
    _, reference_extra = saved_tensor_bytes(lambda: bias_act(x, b, act=act, clamp=clamp, impl="ref"))
    assert fused_all == output_bytes and fused_extra == 0
    assert reference_extra >= output_bytes * (2 if clamp is not None and act != "linear" else 1)


def test_fused_linear_without_clamp_saves_nothing():
    x, b = torch.randn(4, 8, 3, requires_grad=True), torch.randn(8, requires_grad=True)
    assert saved_tensor_bytes(lambda: bias_act(x, b, act="linear", gain=2.0, impl="fused")) == (0, 0)


def test_triton_is_used_only_for_cuda_tensors_of_its_float32_kernel_dtypes(monkeypatch):
    import fused_ops.bias_act as module

    monkeypatch.setattr(module, "triton_available", lambda device_type: device_type == "cuda")
    assert [module.uses_triton(types.SimpleNamespace(is_cuda=True, dtype=dtype)) for dtype in
            (torch.float16, torch.bfloat16, torch.float32, torch.float64)] == [True, True, True, False]
    assert not module.uses_triton(torch.zeros(2, dtype=torch.float32))  # a CPU tensor


def test_triton_is_not_used_on_cpu_and_failures_warn_once():
    assert triton_available("cpu") is False
    error = RuntimeError(f"compile failed {uuid.uuid4()}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report_triton_failure(error)
        report_triton_failure(error)
    assert len([w for w in caught if "Triton kernel failed" in str(w.message)]) == 1


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(b=torch.randn(4)), ValueError, r"bias must have shape \[3\]"),
        (dict(b=torch.randn(3, 1)), ValueError, "bias must have shape"),
        (dict(x=torch.ones(2, 3, dtype=torch.int32)), TypeError, "floating-point"),
        (dict(b=torch.ones(3, dtype=torch.int64)), TypeError, "b must be a floating-point"),
        (dict(act="gelu"), ValueError, "unknown activation 'gelu'"),
        (dict(dim=2), ValueError, "out of range"),
        (dict(clamp=-1.0), ValueError, "clamp must be >= 0"),
        (dict(gain="2"), TypeError, "gain must be a number"),
        (dict(impl="triton"), ValueError, "impl must be one of"),
    ],
)
def test_bad_input_is_rejected(kwargs, error, message):
    args = dict(x=torch.randn(2, 3), b=torch.randn(3)) | kwargs
    with pytest.raises(error, match=message):
        bias_act(**args)


@pytest.mark.gpu
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_fused_matches_reference_cuda(parity, act):
    x, b = torch.randn(4, 5, 6, 7, device="cuda"), torch.randn(5, device="cuda")
    parity(
        lambda x, b: bias_act(x, b, act=act, clamp=0.9, impl="ref"),
        lambda x, b: bias_act(x, b, act=act, clamp=0.9, impl="fused"),
        [x, b],
    )


@pytest.mark.gpu
def test_fused_gradcheck_cuda_float64():
    x = torch.randn(2, 3, 4, dtype=torch.float64, device="cuda", requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, device="cuda", requires_grad=True)
    op = lambda x, b: bias_act(x, b, act="lrelu", impl="fused")
    assert torch.autograd.gradcheck(op, (x, b)) and torch.autograd.gradgradcheck(op, (x, b))
