"""Progressive growing: level of detail and fade-in for the original G and D; the schedule."""

import pytest
import torch

import variants
from fused_ops.upfirdn2d import downsample2d, setup_filter, upsample2d
from variants.growing import Growth, growth_at


def test_fresh_networks_run_at_full_resolution(tiny):
    cfg = tiny("A", resolution=32)
    G, D = variants.build_generator(cfg), variants.build_discriminator(cfg)
    assert G.growth == D.growth == Growth(32, 1.0)
    assert G(torch.randn(2, 32)).shape == (2, 3, 32, 32)


def test_generator_fade_in_blends_the_two_top_levels(tiny):
    G = variants.build_generator(tiny("B", resolution=32)).eval()
    ws = G.mapping(torch.randn(2, 32))
    G.set_growth(8, 1.0)
    img_8, trace_8 = G.synthesis(ws, noise_mode="const", return_trace=True)
    assert img_8.shape == (2, 3, 8, 8) and sorted(trace_8.features) == [4, 8]
    G.set_growth(16, 1.0)
    img_16 = G.synthesis(ws, noise_mode="const")
    G.set_growth(16, 0.0)
    img_faded_0, trace = G.synthesis(ws, noise_mode="const", return_trace=True)
    assert img_16.shape == img_faded_0.shape == (2, 3, 16, 16)
    f = setup_filter([1, 3, 3, 1])
    assert torch.allclose(img_faded_0, upsample2d(img_8, f), atol=1e-5)  # alpha 0: old level upsampled
    G.set_growth(16, 0.25)
    img_quarter = G.synthesis(ws, noise_mode="const")
    assert torch.allclose(img_quarter, 0.75 * upsample2d(img_8, f) + 0.25 * img_16, atol=1e-5)
    assert sorted(trace.rgb) == [8, 16]


def test_discriminator_fade_in_blends_the_two_input_paths(tiny):
    D = variants.build_discriminator(tiny("A", resolution=32))
    img_16 = torch.randn(4, 3, 16, 16)
    D.set_growth(16, 1.0)
    full = D(img_16)
    D.set_growth(8, 1.0)
    low = D(downsample2d(img_16, setup_filter([1, 3, 3, 1])))
    D.set_growth(16, 0.0)
    assert torch.allclose(D(img_16), low, atol=1e-5)
    D.set_growth(16, 0.5)
    assert D(img_16).shape == (4, 1) and not torch.allclose(D(img_16), full)
    with pytest.raises(ValueError, match=r"expects images \[N, 3, 16, 16\]"):
        D(torch.randn(4, 3, 32, 32))


def test_growth_backward_reaches_only_active_layers(tiny):
    cfg = tiny("A", resolution=32)
    G, D = variants.build_generator(cfg), variants.build_discriminator(cfg)
    G.set_growth(16, 0.5)
    D.set_growth(16, 0.5)
    D(G(torch.randn(4, 32))).sum().backward()
    assert G.synthesis.blocks[-1].torgb.conv.weight.grad is None  # 32x32 not active yet
    assert G.synthesis.blocks[2].torgb.conv.weight.grad is not None
    assert G.synthesis.blocks[1].torgb.conv.weight.grad is not None  # the fading 8x8 level


@pytest.mark.parametrize("name", ["E", "G-skip/D-original", "G-residual/D-residual"])
def test_set_growth_on_networks_that_cannot_grow(name, tiny):
    cfg = tiny(name)
    G = variants.build_generator(cfg)
    G.set_growth(16, 1.0)  # the full resolution is always fine
    with pytest.raises(ValueError, match="cannot grow: progressive growing needs the 'original' arch"):
        G.set_growth(8, 0.5)
    with pytest.raises(ValueError, match="cannot grow"):
        variants.build_discriminator(cfg).set_growth(8)


def test_set_growth_validates_its_arguments(tiny):
    G = variants.build_generator(tiny("A", resolution=32))
    with pytest.raises(ValueError, match=r"growth resolution 4 is not one of \(8, 16, 32\)"):
        G.set_growth(4)
    with pytest.raises(ValueError, match=r"fade-in alpha must lie in \[0, 1\]"):
        G.set_growth(16, 1.5)


def test_growth_at_follows_the_stylegan_schedule():
    cfg = variants.get_config("A", resolution=64, growing_phase_kimg=100.0)
    expected = {0: (8, 1.0), 99: (8, 1.0), 100: (16, 0.0), 150: (16, 0.5), 250: (16, 1.0),
                300: (32, 0.0), 375: (32, 0.75), 500: (64, 0.0), 600: (64, 1.0), 10_000: (64, 1.0)}
    for kimg, (resolution, alpha) in expected.items():
        assert growth_at(cfg, kimg) == Growth(resolution, pytest.approx(alpha)), kimg
    assert growth_at(variants.get_config("E"), 0) == Growth(1024, 1.0)
