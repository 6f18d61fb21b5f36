"""Style blocks: demodulation keeps unit variance (Eq. 2-3); AdaIN sets each map's mean and std."""

import numpy as np
import pytest
import torch

from variants.style_blocks import STYLE_BLOCKS, AdaINLayer, DemodLayer, adaptive_instance_norm


def test_demod_keeps_unit_output_variance():
    # Eq. 2-3: for i.i.d. unit-variance input, each output map has unit std whatever the style.
    layer = DemodLayer(64, 32, w_dim=16, resolution=16)
    x = torch.randn(4, 64, 16, 16)
    w = torch.randn(4, 16) * 3  # strong styles: demodulation must undo their scale
    y = layer.modulated_conv(x, w)
    interior = y[:, :, 1:-1, 1:-1]  # away from the zero padding
    assert torch.allclose(interior.std(dim=[2, 3]), torch.ones(4, 32), atol=0.2)
    assert torch.allclose(interior.std(dim=[1, 2, 3]), torch.ones(4), atol=0.05)
    plain = torch.nn.functional.conv2d(x * layer.affine(w)[:, :, None, None], layer.weight, padding=1)
    assert plain[:, :, 1:-1, 1:-1].std() > 5  # without demodulation the scale would explode


def test_demod_is_eq_1_to_3_written_out():
    layer = DemodLayer(3, 2, w_dim=4, resolution=5).eval()
    x, w = torch.randn(2, 3, 5, 5), torch.randn(2, 4)
    styles = layer.affine(w)
    for n in range(2):
        weight = layer.weight * styles[n][None, :, None, None]  # Eq. 1
        weight = weight / (weight.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()  # Eq. 3
        expected = torch.nn.functional.conv2d(x[n:n + 1], weight, padding=1)
        assert torch.allclose(layer.modulated_conv(x, w)[n:n + 1], expected, atol=1e-5)
    layer.train()  # the non-fused form (scale activations) gives the same answer
    assert torch.allclose(layer.modulated_conv(x, w), layer.eval().modulated_conv(x, w), atol=1e-5)


def test_demod_layer_ignores_style_scale_and_adds_bias_outside():
    layer = DemodLayer(8, 8, w_dim=4, resolution=8)
    x, w = torch.randn(2, 8, 8, 8), torch.randn(2, 4)
    out = layer(x, w, noise_mode="none")
    assert out.shape == (2, 8, 8, 8)
    with torch.no_grad():  # styles times 5: demodulation divides the factor out again
        layer.affine.weight.mul_(5)
        layer.affine.bias.mul_(5)
    assert torch.allclose(layer(x, w, noise_mode="none"), out, atol=1e-4)
    with torch.no_grad():
        layer.bias.fill_(100.0)
    assert (layer(x, w, noise_mode="none") > 0).all()  # bias added before the activation


def test_adaptive_instance_norm_sets_mean_and_std():
    x = torch.randn(3, 4, 8, 8) * 5 + 2
    scale, bias = torch.rand(3, 4) + 0.5, torch.randn(3, 4)
    y = adaptive_instance_norm(x, scale, bias)
    assert torch.allclose(y.mean(dim=[2, 3]), bias, atol=1e-5)
    assert torch.allclose(y.std(dim=[2, 3], unbiased=False), scale, atol=1e-4)



def test_instance_norm_epsilon_is_added_to_the_variance_inside_the_root():
    # official: training/networks_stylegan.py instance_norm, x * rsqrt(mean(x^2) + 1e-8) after centring:
    # a map whose variance equals epsilon comes out with std 1/sqrt(2)
    checkerboard = (torch.arange(4)[:, None] + torch.arange(4)[None, :]) % 2 * 2.0 - 1  # mean 0, std 1
    x = (1e-4 * checkerboard).expand(1, 2, 4, 4)
    y = adaptive_instance_norm(x, torch.ones(1, 2), torch.zeros(1, 2))
    assert torch.allclose(y.std(dim=[2, 3], unbiased=False), torch.full((1, 2), 0.5 ** 0.5), rtol=1e-4)


def test_instance_norm_runs_in_float32_and_returns_the_input_dtype():
    # official: training/networks_stylegan.py instance_norm casts to float32; in float16 the squares of
    # activations of a few hundred (conv_clamp 256) overflow to inf and would flatten the map
    x = torch.randn(2, 3, 8, 8) * 300
    scale, bias = torch.rand(2, 3) + 0.5, torch.randn(2, 3)
    y = adaptive_instance_norm(x.half(), scale, bias)
    assert y.dtype == torch.float16
    assert torch.allclose(y.float(), adaptive_instance_norm(x.half().float(), scale, bias), atol=1e-2)


def test_adain_of_the_initial_constant_is_the_style_bias():
    # official: training/networks_stylegan.py G_synthesis, the 4x4 'const' starts at ones and the noise
    # strength at zero, so the first layer normalises a flat map and outputs exactly the style bias
    layer = AdaINLayer(4, 4, w_dim=8, resolution=4, kernel_size=None, family="stylegan")
    w = torch.randn(3, 8)
    y = layer(torch.ones(3, 4, 4, 4), w)
    _, bias = layer.styles(w)
    assert torch.equal(y, bias[:, :, None, None].expand_as(y))


def test_adain_styles_start_as_unit_variance_functions_of_w():
    # official: training/networks_stylegan.py style_mod, dense(gain=1, use_wscale) plus a zero bias, and
    # x * (style_s + 1) + style_b: at initialisation scale ~ N(1, rms(w)^2) and bias ~ N(0, rms(w)^2)
    torch.manual_seed(0)
    layer = AdaINLayer(256, 256, w_dim=512, resolution=4, kernel_size=None)
    scale, bias = layer.styles(torch.randn(64, 512))
    assert abs(scale.mean() - 1) < 0.05 and abs(scale.std() - 1) < 0.05
    assert abs(bias.mean()) < 0.05 and abs(bias.std() - 1) < 0.05

@pytest.mark.parametrize("kernel_size", [3, None])
def test_adain_layer_output_statistics_follow_the_style(kernel_size):
    layer = AdaINLayer(6, 6, w_dim=8, resolution=8, kernel_size=kernel_size)
    with torch.no_grad():
        layer.noise.strength.fill_(0.5)  # noise is inside the block, before the normalisation
    x, w = torch.randn(2, 6, 8, 8), torch.randn(2, 8)
    y = layer(x, w)
    scale, bias = layer.styles(w)
    assert torch.allclose(y.mean(dim=[2, 3]), bias, atol=1e-5)
    assert torch.allclose(y.std(dim=[2, 3], unbiased=False), scale.abs(), atol=1e-4)


def test_stylegan_adain_layer_adds_noise_and_bias_after_the_he_gain():
    # official: training/networks_stylegan.py G_synthesis layer_epilogue after conv2d(gain=sqrt(2))
    layer = AdaINLayer(4, 6, w_dim=8, resolution=8, family="stylegan")
    assert layer.noise.strength.shape == (6,)
    with torch.no_grad():
        layer.noise.strength.copy_(torch.linspace(-1, 1, 6))
        layer.bias.copy_(torch.linspace(0.5, -0.5, 6))
    x, w = torch.randn(2, 4, 8, 8), torch.randn(2, 8)
    conv = torch.nn.functional.conv2d(x, layer.conv.weight * np.sqrt(2) / 6, padding=1)
    noise = layer.noise.noise_const * layer.noise.strength[:, None, None]
    pre = torch.nn.functional.leaky_relu(conv + noise + layer.bias[:, None, None], 0.2)
    expected = adaptive_instance_norm(pre, *layer.styles(w))
    assert torch.allclose(layer(x, w, noise_mode="const"), expected, atol=1e-4)
    stylegan2_order = adaptive_instance_norm(torch.nn.functional.leaky_relu(
        conv / np.sqrt(2) + noise + layer.bias[:, None, None], 0.2), *layer.styles(w))
    assert not torch.allclose(layer(x, w, noise_mode="const"), stylegan2_order, atol=1e-2)


def test_adain_style_starts_as_identity_scale():
    layer = AdaINLayer(4, 4, w_dim=8, resolution=4)
    with torch.no_grad():
        layer.affine.weight.zero_()
    scale, bias = layer.styles(torch.randn(2, 8))
    assert torch.allclose(scale, torch.ones(2, 4)) and torch.allclose(bias, torch.zeros(2, 4))


def test_block_families():
    assert STYLE_BLOCKS.get("adain") is AdaINLayer and STYLE_BLOCKS.get("demod") is DemodLayer
    adain_input = AdaINLayer.input_layers(4, w_dim=8, conv_clamp=None, impl="auto")
    assert [layer.conv is None for layer in adain_input] == [True, False]  # const -> AdaIN, then conv
    assert len(DemodLayer.input_layers(4, w_dim=8, conv_clamp=None, impl="auto")) == 1  # const -> conv
    assert not AdaINLayer.modulated_torgb and DemodLayer.modulated_torgb
    with pytest.raises(ValueError, match="without a conv needs in_channels == out_channels"):
        AdaINLayer(4, 8, w_dim=8, resolution=4, kernel_size=None)
    with pytest.raises(ValueError, match="demod layer exists only in layer family 'stylegan2'"):
        DemodLayer(4, 4, w_dim=8, resolution=4, family="stylegan")
