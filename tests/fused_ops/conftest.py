"""Parity checks shared by the fused_ops tests: fast path vs reference, up to second order."""

import pytest
import torch

RELATIVE_TOLERANCE = 1e-5


def assert_close_relative(actual, expected, rtol=RELATIVE_TOLERANCE, what=""):
    """max |actual - expected| <= rtol * max |expected| (relative to the tensor's scale)."""
    assert actual.shape == expected.shape, f"{what}: shape {list(actual.shape)} != {list(expected.shape)}"
    scale = expected.abs().max().clamp_min(1e-30)
    error = (actual - expected).abs().max()
    assert error <= rtol * scale, f"{what}: max error {error:.3g} > {rtol} * {scale:.3g}"


def _grads(outputs, inputs, weights):
    """Gradients of sum(outputs * weights) w.r.t. inputs, zeros where unused, keeping the graph."""
    grads = torch.autograd.grad((outputs * weights).sum(), inputs, create_graph=True, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs, strict=True)]


def check_parity(reference, fast, inputs, rtol=RELATIVE_TOLERANCE):
    """Forward, gradient and second-order gradient of `fast` equal `reference` (float32, relative)."""
    inputs = [x.detach().requires_grad_(True) for x in inputs]
    expected, actual = reference(*inputs), fast(*inputs)
    assert_close_relative(actual, expected, rtol, "forward")
    output_weights = torch.randn_like(expected)
    grads_expected = _grads(expected, inputs, output_weights)
    grads_actual = _grads(actual, inputs, output_weights)
    for index, (g_actual, g_expected) in enumerate(zip(grads_actual, grads_expected, strict=True)):
        assert_close_relative(g_actual, g_expected, rtol, f"gradient of input {index}")
    grad_weights = [torch.randn_like(g) for g in grads_expected]
    second_expected = _second(grads_expected, inputs, grad_weights)
    second_actual = _second(grads_actual, inputs, grad_weights)
    for index, (s_actual, s_expected) in enumerate(zip(second_actual, second_expected, strict=True)):
        assert_close_relative(s_actual, s_expected, rtol, f"second-order gradient of input {index}")


def _second(grads, inputs, weights):
    total = sum((g * w).sum() for g, w in zip(grads, weights, strict=True))
    if not total.requires_grad:  # piecewise-linear ops: the second derivative is identically zero
        return [torch.zeros_like(x) for x in inputs]
    second = torch.autograd.grad(total, inputs, allow_unused=True)
    return [torch.zeros_like(x) if s is None else s for s, x in zip(second, inputs, strict=True)]


@pytest.fixture
def parity():
    return check_parity


@pytest.fixture
def close_relative():
    return assert_close_relative
