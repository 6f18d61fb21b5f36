"""Layers: equalised learning rate, mapping and truncation, noise, constant, minibatch std, RGB layers."""

import numpy as np
import pytest
import torch

from variants.layers import (
    ConstantInput,
    ConvLayer,
    DenseLayer,
    FromRGB,
    MappingNetwork,
    MinibatchStdDev,
    NoiseInput,
    ToRGB,
    normalize_2nd_moment,
    set_impl,
)


def test_dense_layer_equalised_lr_keeps_unit_scale():
    layer = DenseLayer(256, 256)
    y = layer(torch.randn(512, 256))
    assert abs(y.std().item() - 1.0) < 0.1  # weight N(0,1) times 1/sqrt(fan_in)


def test_dense_layer_lr_multiplier_scales_stored_parameters_not_outputs():
    torch.manual_seed(1)
    slow = DenseLayer(64, 64, lr_multiplier=0.01, bias_init=0.5)
    torch.manual_seed(1)
    fast = DenseLayer(64, 64, bias_init=0.5)
    assert torch.allclose(slow.weight * 0.01, fast.weight)
    x = torch.randn(8, 64)
    assert torch.allclose(slow(x), fast(x), atol=1e-5)
    assert torch.allclose(slow.bias * slow.bias_gain, torch.full([64], 0.5))


def test_dense_lrelu_matches_manual_formula():
    layer = DenseLayer(16, 8, activation="lrelu", bias_init=0.1)
    x = torch.randn(4, 16)
    manual = torch.nn.functional.leaky_relu(x @ (layer.weight / 4).t() + 0.1, 0.2) * np.sqrt(2)
    assert torch.allclose(layer(x), manual, atol=1e-6)


def test_stylegan_family_puts_the_he_gain_in_the_weights():
    # official: training/networks_stylegan.py get_weight(gain=sqrt(2)) and a leaky ReLU without gain
    layer = DenseLayer(16, 8, activation="lrelu", bias_init=0.1, family="stylegan")
    x = torch.randn(4, 16)
    manual = torch.nn.functional.leaky_relu(x @ (layer.weight * np.sqrt(2) / 4).t() + 0.1, 0.2)
    assert torch.allclose(layer(x), manual, atol=1e-6)
    linear = DenseLayer(16, 8, family="stylegan")  # gain 1 where no activation follows
    assert torch.allclose(linear(x), x @ (linear.weight / 4).t(), atol=1e-6)
    with pytest.raises(ValueError, match="layer family must be one of"):
        DenseLayer(16, 8, family="progan")


def blur_121(x: torch.Tensor) -> torch.Tensor:
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 16).expand(x.shape[1], 1, 3, 3)
    return torch.nn.functional.conv2d(x, kernel, padding=1, groups=x.shape[1])


def test_stylegan_family_resamples_nearest_and_box_around_a_121_blur():
    x = torch.randn(2, 4, 8, 8)
    up = ConvLayer(4, 6, 3, bias=False, up=2, family="stylegan")  # G: upsample, conv, blur
    weight = up.weight / np.sqrt(36)
    nearest = x.repeat_interleave(2, 2).repeat_interleave(2, 3)
    expected = blur_121(torch.nn.functional.conv2d(nearest, weight, padding=1))
    assert torch.allclose(up(x), expected, atol=1e-5)
    down = ConvLayer(4, 6, 3, bias=False, down=2, family="stylegan")  # D: blur, conv, downsample
    weight = down.weight / np.sqrt(36)
    expected = torch.nn.functional.avg_pool2d(torch.nn.functional.conv2d(blur_121(x), weight, padding=1), 2)
    assert torch.allclose(down(x), expected, atol=1e-5)


@pytest.mark.parametrize("family", ["stylegan2", "stylegan"])
@pytest.mark.parametrize(("up", "down", "size"), [(1, 1, 8), (2, 1, 16), (1, 2, 4)])
def test_conv_layer_resampling_shapes(up, down, size, family):
    layer = ConvLayer(4, 6, 3, activation="lrelu", up=up, down=down, family=family)
    assert layer(torch.randn(2, 4, 8, 8)).shape == (2, 6, size, size)


def test_conv_layer_without_resampling_matches_conv2d():
    layer = ConvLayer(3, 5, 3, bias=False)
    x = torch.randn(2, 3, 6, 6)
    expected = torch.nn.functional.conv2d(x, layer.weight / np.sqrt(27), padding=1)
    assert torch.allclose(layer(x), expected, atol=1e-5)
    assert torch.allclose(layer(x, gain=0.5), expected * 0.5, atol=1e-5)


def test_normalize_2nd_moment():
    z = normalize_2nd_moment(torch.randn(4, 32) * 7)
    assert torch.allclose(z.square().mean(dim=1), torch.ones(4), atol=1e-5)


def make_mapping(num_ws=6):
    return MappingNetwork(z_dim=16, w_dim=8, num_ws=num_ws, num_layers=3, width=12)


def test_mapping_shapes_and_broadcast():
    mapping = make_mapping()
    assert [tuple(layer.weight.shape) for layer in mapping.layers] == [(12, 16), (12, 12), (8, 12)]
    ws = mapping(torch.randn(5, 16))
    assert ws.shape == (5, 6, 8)
    assert torch.equal(ws[:, 0], ws[:, 5])
    with pytest.raises(ValueError, match=r"z must have shape \[N, 16\]"):
        mapping(torch.randn(5, 15))


def test_mapping_w_avg_update_and_truncation():
    mapping = make_mapping()
    z = torch.randn(7, 16)
    w = mapping(z)[:, 0]
    assert torch.equal(mapping.w_avg, torch.zeros(8))
    mapping(z, update_w_avg=True)
    assert torch.allclose(mapping.w_avg, 0.005 * w.mean(dim=0), atol=1e-6)
    psi0 = mapping(z, psi=0.0)
    assert torch.allclose(psi0, mapping.w_avg.expand(7, 6, 8))
    half = mapping(z, psi=0.5, truncation_cutoff=2)
    assert torch.allclose(half[:, :2], mapping.w_avg.lerp(w, 0.5)[:, None], atol=1e-6)
    assert torch.equal(half[:, 2:], w[:, None].expand(7, 4, 8))


def test_noise_input_modes():
    noise = NoiseInput(8)
    x = torch.zeros(3, 2, 8, 8)
    assert noise(x, "none") is None
    assert torch.equal(noise(x, "random"), torch.zeros(3, 1, 8, 8))  # learned strength starts at 0
    with torch.no_grad():
        noise.strength.fill_(2.0)
    assert torch.equal(noise(x, "const"), 2 * noise.noise_const)
    first, second = noise(x, "random"), noise(x, "random")
    assert first.shape == (3, 1, 8, 8) and not torch.equal(first, second)
    assert "noise_const" in noise.state_dict()  # fixed noise is saved with the network
    with pytest.raises(ValueError, match="noise_mode must be one of"):
        noise(x, "fixed")


def test_noise_strength_per_channel():
    # official: training/networks_stylegan.py apply_noise, a weight per feature map
    noise = NoiseInput(8, channels=3)
    assert noise.strength.shape == (3,)
    with torch.no_grad():
        noise.strength.copy_(torch.tensor([0.0, 1.0, -2.0]))
    x = torch.zeros(5, 3, 8, 8)
    const = noise(x, "const")
    assert torch.equal(const, noise.noise_const * torch.tensor([0.0, 1.0, -2.0])[:, None, None])
    random = noise(x, "random")
    assert random.shape == (5, 3, 8, 8) and torch.equal(random[:, 2], -2 * random[:, 1])  # one map, scaled


def test_constant_input():
    assert torch.equal(ConstantInput(3, init="ones")(2), torch.ones(2, 3, 4, 4))
    const = ConstantInput(5)
    assert const(4).shape == (4, 5, 4, 4) and const.weight.std() > 0.1


def test_minibatch_std_matches_direct_computation():
    x = torch.randn(8, 6, 3, 3)
    y = MinibatchStdDev(group_size=4, num_channels=2)(x)
    assert y.shape == (8, 8, 3, 3)
    for n in range(8):
        group = x[n % 2::2]  # sample n = g * 2 + m sits in group m
        std = group.std(dim=0, unbiased=False)
        expected = torch.stack([std[:3].mean(), std[3:].mean()])
        assert torch.allclose(y[n, 6:, 0, 0], expected, atol=1e-4)
        assert torch.allclose(y[n, 6:], y[n, 6:, :1, :1].expand(2, 3, 3))
    assert torch.equal(y[:, :6], x)


def test_minibatch_std_uses_smaller_batch_and_rejects_indivisible():
    assert MinibatchStdDev(4)(torch.randn(3, 2, 4, 4)).shape == (3, 3, 4, 4)
    with pytest.raises(ValueError, match="batch size 6 is not divisible by the group size 4"):
        MinibatchStdDev(4)(torch.randn(6, 2, 4, 4))


def test_torgb_modulated_and_plain():
    x, w = torch.randn(2, 8, 4, 4), torch.randn(2, 16)
    modulated = ToRGB(8, 16, modulated=True)
    plain = ToRGB(8, 16, modulated=False)
    assert modulated(x, w).shape == plain(x).shape == (2, 3, 4, 4)
    assert not torch.allclose(modulated(x, w), modulated(x, w + 1))  # styles act on ToRGB
    assert FromRGB(5)(torch.randn(2, 3, 4, 4)).shape == (2, 5, 4, 4)


def test_set_impl_reaches_every_layer():
    mapping = make_mapping()
    set_impl(mapping, "ref")
    assert {layer.impl for layer in mapping.layers} == {"ref"}
    with pytest.raises(ValueError, match="impl must be one of"):
        set_impl(mapping, "triton")
