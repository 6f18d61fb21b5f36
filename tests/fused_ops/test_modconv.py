"""modulated_conv2d: demodulation statistics, both execution forms, per-sample oracle, kernel
orientation, parity."""

import pytest
import torch

from fused_ops.conv2d_resample import conv2d_resample
from fused_ops.modconv import modulated_conv2d
from fused_ops.upfirdn2d import setup_filter

RESAMPLING = [(1, 1), (2, 1), (1, 2)]


def per_sample_oracle(x, weight, styles, up, down, padding, f, demodulate):
    """Eq. 1 and 3 written out one sample at a time, each a plain conv2d_resample (ref) in the official
    orientation (up-sampling convolutions flip the kernel)."""
    outputs = []
    for sample, style in zip(x, styles, strict=True):
        w = weight * style[None, :, None, None]
        if demodulate:
            w = w / torch.sqrt(w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8)
        outputs.append(
            conv2d_resample(sample[None], w, f, up, down, padding, flip_weight=(up == 1), impl="ref"))
    return torch.cat(outputs)


@pytest.mark.parametrize("fused_modconv", [True, False])
@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("up, down", RESAMPLING)
def test_both_forms_match_the_per_sample_oracle(up, down, demodulate, fused_modconv):
    f = setup_filter([1, 3, 3, 1])
    x, weight, styles = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.randn(3, 4) + 1
    expected = per_sample_oracle(x, weight, styles, up, down, 1, f, demodulate)
    actual = modulated_conv2d(
        x,
        weight,
        styles,
        up=up,
        down=down,
        padding=1,
        resample_filter=f,
        demodulate=demodulate,
        fused_modconv=fused_modconv,
    )
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


def _impulse_response(up, impl, fused_modconv, flip_weight=None):
    """The output patch of a single unit pixel through an asymmetric 3x3 kernel 1..9 (no demodulation)."""
    x = torch.zeros(2, 1, 5, 5)
    x[:, 0, 2, 2] = 1
    weight, styles = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3), torch.ones(2, 1)
    f = setup_filter([1]) if up > 1 else None  # one-tap filter: zero insertion only, gain up^2
    y = modulated_conv2d(x, weight, styles, up=up, padding=1, resample_filter=f, demodulate=False,
                         fused_modconv=fused_modconv, flip_weight=flip_weight, impl=impl)[1, 0]
    rows, cols = y.nonzero(as_tuple=True)
    return y[rows.min():rows.max() + 1, cols.min():cols.max() + 1] / up**2, weight[0, 0]


@pytest.mark.parametrize("impl", ["ref", "fused"])
@pytest.mark.parametrize("fused_modconv", [True, False])
def test_kernel_orientation_is_the_official_one(impl, fused_modconv):
    # Official modulated_conv2d callers pass flip_weight = (up == 1): the up-sampling layer is a true
    # convolution (an impulse reproduces the kernel), the others cross-correlate (the kernel flipped).
    patch, weight = _impulse_response(2, impl, fused_modconv)
    torch.testing.assert_close(patch, weight)
    patch, weight = _impulse_response(1, impl, fused_modconv)
    torch.testing.assert_close(patch, weight.flip([0, 1]))
    patch, weight = _impulse_response(2, impl, fused_modconv, flip_weight=True)  # explicit override
    torch.testing.assert_close(patch, weight.flip([0, 1]))


def test_demodulated_output_has_unit_variance():
    # Unit-variance i.i.d. input and weights: demodulation makes each output unit-variance (Eq. 2-3).
    x = torch.randn(16, 64, 8, 8)
    weight, styles = torch.randn(32, 64, 3, 3), torch.rand(16, 64) * 3 + 0.1
    y = modulated_conv2d(x, weight, styles, padding=0)
    assert abs(y.var().item() - 1) < 0.05
    undemodulated = modulated_conv2d(x, weight, styles, padding=0, demodulate=False)
    assert undemodulated.var().item() > 10


@pytest.mark.parametrize("noise_shape", [[3, 1, 6, 6], [3, 5, 6, 6], [1, 1, 6, 6]])
def test_noise_is_added_to_the_output(noise_shape):
    x, weight, styles = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.randn(3, 4)
    noise = torch.randn(noise_shape)
    for fused_modconv in (True, False):
        clean = modulated_conv2d(x, weight, styles, padding=1, fused_modconv=fused_modconv)
        noisy = modulated_conv2d(x, weight, styles, noise=noise, padding=1, fused_modconv=fused_modconv)
        torch.testing.assert_close(noisy, clean + noise)


@pytest.mark.parametrize("fused_modconv", [True, False])
@pytest.mark.parametrize("up, down", RESAMPLING)
def test_fused_matches_reference(parity, up, down, fused_modconv):
    f = setup_filter([1, 3, 3, 1])
    x, weight, styles = torch.randn(2, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.randn(2, 4)
    kwargs = dict(up=up, down=down, padding=1, resample_filter=f, fused_modconv=fused_modconv)
    parity(
        lambda x, w, s: modulated_conv2d(x, w, s, impl="ref", **kwargs),
        lambda x, w, s: modulated_conv2d(x, w, s, impl="fused", **kwargs),
        [x, weight, styles],
    )


@pytest.mark.parametrize("fused_modconv", [True, False])
def test_fused_gradcheck_float64(fused_modconv):
    f = setup_filter([1, 3, 3, 1]).double()
    x = torch.randn(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    styles = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    op = lambda x, w, s: modulated_conv2d(
        x, w, s, up=2, padding=1, resample_filter=f, fused_modconv=fused_modconv
    )
    assert torch.autograd.gradcheck(op, (x, weight, styles), fast_mode=True)
    assert torch.autograd.gradgradcheck(op, (x, weight, styles), fast_mode=True)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(styles=torch.randn(2, 3)), ValueError, "disagree"),
        (dict(styles=torch.randn(2)), ValueError, "styles must have rank 2"),
        (dict(x=torch.randn(4, 6, 6)), ValueError, "x must have rank 4"),
        (dict(weight=torch.ones(5, 4, 3, 3, dtype=torch.int64)), TypeError, "floating-point"),
        (dict(up=2), ValueError, "needs a resampling filter"),
    ],
)
def test_bad_input_is_rejected(kwargs, error, message):
    args = dict(
        x=torch.randn(2, 4, 6, 6), weight=torch.randn(5, 4, 3, 3), styles=torch.randn(2, 4), padding=1
    )
    with pytest.raises(error, match=message):
        modulated_conv2d(**(args | kwargs))


@pytest.mark.gpu
@pytest.mark.parametrize("fused_modconv", [True, False])
def test_fused_matches_reference_cuda(parity, fused_modconv):
    f = setup_filter([1, 3, 3, 1], device="cuda")
    x, weight = torch.randn(2, 4, 6, 6, device="cuda"), torch.randn(5, 4, 3, 3, device="cuda")
    styles = torch.randn(2, 4, device="cuda")
    kwargs = dict(up=2, padding=1, resample_filter=f, fused_modconv=fused_modconv)
    parity(
        lambda x, w, s: modulated_conv2d(x, w, s, impl="ref", **kwargs),
        lambda x, w, s: modulated_conv2d(x, w, s, impl="fused", **kwargs),
        [x, weight, styles],
    )
