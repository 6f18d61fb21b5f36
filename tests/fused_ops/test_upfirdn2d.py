"""upfirdn2d and its helpers: known answers, fast path vs reference, gradients, errors."""

import pytest
import torch

from fused_ops import resolve_impl
from fused_ops.upfirdn2d import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d

CASES = [  # (filter taps, up, down, padding)
    ([1, 3, 3, 1], 2, 1, [2, 1, 2, 1]),
    ([1, 3, 3, 1], 1, 2, 1),
    ([1, 2, 1], 1, 1, 1),
    ([1, 3, 3, 1], (2, 1), (1, 2), [1, -1, 2, 0]),
    ([1, 3, 3, 1], 3, 2, [3, -2, 1, 4]),
]


def _filter(taps, separable):
    return setup_filter(taps, separable=separable)


def test_setup_filter_normalises_and_expands():
    f = setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4) and torch.allclose(f.sum(), torch.tensor(1.0))
    assert torch.allclose(f, torch.tensor([1.0, 3, 3, 1]).outer(torch.tensor([1.0, 3, 3, 1])) / 64)
    assert setup_filter([1] * 8).shape == (8,)  # >= 8 taps stay separable (official heuristic)
    assert torch.allclose(setup_filter([1, 1], gain=4).sum(), torch.tensor(4.0))


def test_delta_filter_is_pure_resampling():
    x = torch.randn(2, 3, 5, 4)
    up = upfirdn2d(x, None, up=2, impl="ref")
    assert up.shape == (2, 3, 10, 8)
    assert (
        torch.equal(up[:, :, ::2, ::2], x)
        and up[:, :, 1::2].abs().sum() == 0
        and up[..., 1::2].abs().sum() == 0
    )
    assert torch.equal(upfirdn2d(x, None, down=2, impl="ref"), x[:, :, ::2, ::2])
    assert torch.equal(upfirdn2d(x, None, padding=[0, 0, -1, -2], impl="ref"), x[:, :, 1:-2])


@pytest.mark.parametrize("impl", ["ref", "fused"])
def test_hand_computed_convolution(impl):
    x = torch.tensor([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
    f = torch.tensor([[1.0, 2.0]])  # true convolution: y[n] = x[n] + 2 x[n - 1]
    y = upfirdn2d(x, f, padding=[1, 0, 0, 0], impl=impl)
    assert torch.equal(y.flatten(), torch.tensor([1.0, 4.0, 7.0]))
    y = upfirdn2d(x, f, padding=[1, 0, 0, 0], flip_filter=True, gain=2, impl=impl)  # correlation, doubled
    assert torch.equal(y.flatten(), torch.tensor([4.0, 10.0, 16.0]))


@pytest.mark.parametrize("impl", ["ref", "fused"])
def test_helpers_shapes_and_constant_images(impl):
    f = setup_filter([1, 3, 3, 1])
    x = torch.full([1, 2, 8, 6], 3.0)
    up, down, same = upsample2d(x, f, impl=impl), downsample2d(x, f, impl=impl), filter2d(x, f, impl=impl)
    assert up.shape == (1, 2, 16, 12) and down.shape == (1, 2, 4, 3) and same.shape == x.shape
    for y in (up, down, same):  # a normalised filter keeps the level away from the zero-padded border
        assert torch.allclose(y[:, :, 2:-2, 2:-2], torch.tensor(3.0))
    assert upsample2d(x, f, up=(2, 1), impl=impl).shape == (1, 2, 8, 12)


@pytest.mark.parametrize("separable", [False, True])
@pytest.mark.parametrize("taps, up, down, padding", CASES)
def test_fused_matches_reference(parity, taps, up, down, padding, separable):
    f = _filter(taps, separable)
    x = torch.randn(2, 3, 9, 7)
    parity(
        lambda x: upfirdn2d(x, f, up, down, padding, gain=1.5, impl="ref"),
        lambda x: upfirdn2d(x, f, up, down, padding, gain=1.5, impl="fused"),
        [x],
    )


@pytest.mark.parametrize("flip_filter", [False, True])
def test_fused_matches_reference_asymmetric_filter(parity, flip_filter):
    f = torch.tensor([1.0, 2.0, 0.5]).outer(torch.tensor([0.3, -1.0]))
    x = torch.randn(1, 2, 6, 5)
    parity(
        lambda x: upfirdn2d(x, f, 2, 1, [1, 2, 0, 1], flip_filter, impl="ref"),
        lambda x: upfirdn2d(x, f, 2, 1, [1, 2, 0, 1], flip_filter, impl="fused"),
        [x],
    )


@pytest.mark.parametrize("taps, up, down, padding", CASES[:3])
def test_fused_gradcheck_float64(taps, up, down, padding):
    f = setup_filter(taps).double()
    x = torch.randn(1, 1, 4, 3, dtype=torch.float64, requires_grad=True)
    op = lambda x: upfirdn2d(x, f, up, down, padding, flip_filter=True, gain=2, impl="fused")
    assert torch.autograd.gradcheck(op, (x,), fast_mode=True)
    assert torch.autograd.gradgradcheck(op, (x,), fast_mode=True)


def test_resolve_impl():
    assert resolve_impl("auto") == "fused" and resolve_impl("ref") == "ref"
    with pytest.raises(ValueError, match="impl must be one of"):
        resolve_impl("fast")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(x=torch.randn(3, 4, 4)), ValueError, "rank 4"),
        (dict(x=torch.ones(1, 1, 4, 4, dtype=torch.int64)), TypeError, "floating-point"),
        (dict(f=torch.ones(2, 2, 2)), ValueError, "1-D or 2-D"),
        (dict(f=[1, 3, 3, 1]), TypeError, "setup_filter"),
        (dict(up=0), ValueError, "up must be >= 1"),
        (dict(down=(1, 0)), ValueError, "down must be >= 1"),
        (dict(up=1.5), TypeError, "up must be an int"),
        (dict(padding=-3), ValueError, "empty output"),
        (dict(padding=[1, 2, 3]), TypeError, "padding must be"),
        (dict(impl="cuda"), ValueError, "impl must be one of"),
    ],
)
def test_bad_input_is_rejected(kwargs, error, message):
    args = dict(x=torch.randn(1, 1, 4, 4), f=setup_filter([1, 3, 3, 1])) | kwargs
    with pytest.raises(error, match=message):
        upfirdn2d(**args)


def test_helper_padding_is_checked_after_adjustment():
    x = torch.randn(1, 1, 1, 1)
    assert upsample2d(x, setup_filter([1, 3, 3, 1])).shape == (1, 1, 2, 2)


@pytest.mark.gpu
@pytest.mark.parametrize("taps, up, down, padding", CASES)
def test_fused_matches_reference_cuda(parity, taps, up, down, padding):
    f = setup_filter(taps, device="cuda")
    x = torch.randn(2, 3, 9, 7, device="cuda")
    parity(
        lambda x: upfirdn2d(x, f, up, down, padding, impl="ref"),
        lambda x: upfirdn2d(x, f, up, down, padding, impl="fused"),
        [x],
    )
