"""conv2d_resample: fused (strided / transposed conv) equals the un-fused sequence; errors."""

import pytest
import torch
import torch.nn.functional as F

from fused_ops.conv2d_resample import conv2d_resample
from fused_ops.upfirdn2d import downsample2d, setup_filter, upsample2d

CASES = [  # (kernel size, up, down, padding, groups)
    (3, 1, 1, 1, 1),
    (3, 2, 1, 1, 1),
    (3, 1, 2, 1, 1),
    (1, 2, 1, 0, 1),
    (1, 1, 2, 0, 1),
    (3, 2, 1, 1, 2),
    (3, 1, 2, 1, 2),
    (3, 2, 2, [1, 0, 2, 1], 1),
    (2, 1, 1, [1, 0, 0, 1], 1),
]


@pytest.mark.parametrize("flip_weight", [True, False])
@pytest.mark.parametrize("kernel, up, down, padding, groups", CASES)
def test_fused_matches_unfused_sequence(parity, kernel, up, down, padding, groups, flip_weight):
    f = setup_filter([1, 3, 3, 1])
    x, w = torch.randn(2, 4, 6, 5), torch.randn(6, 4 // groups, kernel, kernel)
    parity(
        lambda x, w: conv2d_resample(x, w, f, up, down, padding, groups, flip_weight, impl="ref"),
        lambda x, w: conv2d_resample(x, w, f, up, down, padding, groups, flip_weight, impl="fused"),
        [x, w],
    )


@pytest.mark.parametrize("impl", ["ref", "fused"])
def test_without_resampling_is_conv2d(impl):
    x, w = torch.randn(2, 3, 7, 7), torch.randn(5, 3, 3, 3)
    assert torch.allclose(conv2d_resample(x, w, padding=1, impl=impl), F.conv2d(x, w, padding=1), atol=1e-5)
    flipped = conv2d_resample(x, w, padding=1, flip_weight=False, impl=impl)  # a true convolution
    assert torch.allclose(flipped, F.conv2d(x, w.flip([2, 3]), padding=1), atol=1e-5)


@pytest.mark.parametrize("impl", ["ref", "fused"])
def test_resampling_matches_separate_ops_in_the_interior(impl):
    # Away from the border, conv + FIR resampling commute with their separate versions.
    f = setup_filter([1, 3, 3, 1])
    x, w = torch.randn(2, 3, 12, 12), torch.randn(4, 3, 3, 3)
    up = conv2d_resample(x, w, f, up=2, padding=1, impl=impl)
    assert up.shape == (2, 4, 24, 24)
    assert torch.allclose(
        up[..., 3:-3, 3:-3], F.conv2d(upsample2d(x, f), w, padding=1)[..., 3:-3, 3:-3], atol=1e-5
    )
    down = conv2d_resample(x, w, f, down=2, padding=1, impl=impl)
    assert down.shape == (2, 4, 6, 6)
    assert torch.allclose(
        down[..., 1:-1, 1:-1], downsample2d(F.conv2d(x, w, padding=1), f)[..., 1:-1, 1:-1], atol=1e-5
    )


@pytest.mark.parametrize("kernel, up, down, padding, groups", [CASES[1], CASES[2], CASES[3], CASES[4]])
def test_fused_gradcheck_float64(kernel, up, down, padding, groups):
    f = setup_filter([1, 3, 3, 1]).double()
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 2, kernel, kernel, dtype=torch.float64, requires_grad=True)
    op = lambda x, w: conv2d_resample(x, w, f, up, down, padding, groups, impl="fused")
    assert torch.autograd.gradcheck(op, (x, w), fast_mode=True)
    assert torch.autograd.gradgradcheck(op, (x, w), fast_mode=True)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(x=torch.randn(4, 6, 6)), ValueError, "x must have rank 4"),
        (dict(w=torch.randn(3, 3, 3)), ValueError, "w must have rank 4"),
        (dict(x=torch.ones(1, 4, 6, 6, dtype=torch.int64)), TypeError, "floating-point"),
        (dict(w=torch.randn(3, 5, 3, 3)), ValueError, "channels"),
        (dict(up=0), ValueError, "up must be >= 1"),
        (dict(down=2, f=None), ValueError, "needs a resampling filter"),
        (dict(f=torch.ones(2, 2, 2)), ValueError, "1-D or 2-D"),
        (dict(padding=-6), ValueError, "empty output"),
        (dict(groups=3), ValueError, "channels"),
    ],
)
def test_bad_input_is_rejected(kwargs, error, message):
    args = (
        dict(x=torch.randn(1, 4, 6, 6), w=torch.randn(3, 4, 3, 3), f=setup_filter([1, 3, 3, 1]), up=2)
        | kwargs
    )
    with pytest.raises(error, match=message):
        conv2d_resample(**args)


@pytest.mark.gpu
@pytest.mark.parametrize("kernel, up, down, padding, groups", CASES)
def test_fused_matches_unfused_sequence_cuda(parity, kernel, up, down, padding, groups):
    f = setup_filter([1, 3, 3, 1], device="cuda")
    x, w = torch.randn(2, 4, 6, 5, device="cuda"), torch.randn(6, 4 // groups, kernel, kernel, device="cuda")
    parity(
        lambda x, w: conv2d_resample(x, w, f, up, down, padding, groups, impl="ref"),
        lambda x, w: conv2d_resample(x, w, f, up, down, padding, groups, impl="fused"),
        [x, w],
    )
