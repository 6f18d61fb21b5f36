"""Progressive growing: level of detail and fade-in for the original G and D; the schedule."""

import pytest
import torch

import variants
from variants.growing import Growth, active_ws, growth_at, level_of_detail
from variants.layers import downscale_box, upscale_nearest


def test_fresh_networks_run_at_full_resolution(tiny):
    cfg = tiny("A", resolution=32)
    G, D = variants.build_generator(cfg), variants.build_discriminator(cfg)
    assert G.growth == D.growth == Growth(32, 1.0)
    assert G(torch.randn(2, 32)).shape == (2, 3, 32, 32)


def block_means(x: torch.Tensor, size: int) -> torch.Tensor:
    """x [N, C, H, W] with each size x size block replaced by its mean."""
    return upscale_nearest(downscale_box(x, size), size)


def is_constant_on_blocks(x: torch.Tensor, size: int) -> bool:
    """Whether every size x size block of x [N, C, H, W] holds one value (exactly)."""
    return torch.equal(x, upscale_nearest(x[:, :, ::size, ::size], size))


@pytest.mark.parametrize("name", ["A", "B"])
def test_generator_grows_at_full_resolution_with_nearest_fade(name, tiny):
    G = variants.build_generator(tiny(name, resolution=32)).eval()
    ws = G.mapping(torch.randn(2, 32))
    G.set_growth(8, 1.0)
    img_8, trace_8 = G.synthesis(ws, noise_mode="const", return_trace=True)
    assert img_8.shape == (2, 3, 32, 32) and sorted(trace_8.features) == [4, 8]
    assert trace_8.rgb[8].shape == (2, 3, 8, 8)
    assert is_constant_on_blocks(img_8, 4) and not is_constant_on_blocks(img_8, 8)
    torch.testing.assert_close(img_8, upscale_nearest(trace_8.rgb[8], 4))
    G.set_growth(16, 1.0)
    rgb_16 = G.synthesis(ws, noise_mode="const", return_trace=True)[1].rgb[16]
    G.set_growth(16, 0.25)  # the old level enters upsampled nearest, not through the FIR filter
    img_faded, trace = G.synthesis(ws, noise_mode="const", return_trace=True)
    expected = upscale_nearest(0.75 * upscale_nearest(trace_8.rgb[8], 2) + 0.25 * rgb_16, 2)
    torch.testing.assert_close(img_faded, expected, rtol=0, atol=1e-5)
    assert sorted(trace.rgb) == [8, 16]


@pytest.mark.parametrize("name", ["A", "B"])
def test_discriminator_grows_at_full_resolution_with_box_fade(name, tiny):
    D = variants.build_discriminator(tiny(name, resolution=32))
    img = torch.randn(4, 3, 32, 32)
    D.set_growth(8, 1.0)
    at_8 = D(img)
    assert torch.allclose(D(block_means(img, 4)), at_8, atol=1e-5)  # D reads the 4x4 block means
    D.set_growth(16, 0.0)  # the fading-out level reads the input box-downsampled
    assert torch.allclose(D(img), at_8, atol=1e-5)
    D.set_growth(16, 0.5)
    assert D(img).shape == (4, 1) and not torch.allclose(D(img), at_8)
    with pytest.raises(ValueError, match=r"expects images \[N, 3, 32, 32\]"):
        D(torch.randn(4, 3, 16, 16))


@pytest.mark.parametrize("name", ["A", "B"])
def test_discriminator_gradient_is_constant_on_blocks(name, tiny):
    D = variants.build_discriminator(tiny(name, resolution=32))
    for top, block in ((8, 4), (16, 2)):
        D.set_growth(top, 1.0)
        img = torch.randn(4, 3, 32, 32, requires_grad=True)
        (grad,) = torch.autograd.grad(D(img).sum(), img)
        assert is_constant_on_blocks(grad, block) and not is_constant_on_blocks(grad, 2 * block)


def test_growth_backward_reaches_only_active_layers(tiny):
    cfg = tiny("A", resolution=32)
    G, D = variants.build_generator(cfg), variants.build_discriminator(cfg)
    G.set_growth(16, 0.5)
    D.set_growth(16, 0.5)
    img = G(torch.randn(4, 32))
    assert img.shape == (4, 3, 32, 32)
    D(img).sum().backward()
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


def test_level_of_detail_and_active_ws_follow_the_official_lod():
    assert level_of_detail(Growth(1024, 1.0), 1024) == 0.0
    assert level_of_detail(Growth(8, 1.0), 1024) == 7.0
    assert level_of_detail(Growth(16, 0.25), 1024) == pytest.approx(6.75)
    assert level_of_detail(Growth(16, 0.0), 1024) == 7.0  # fade-in start: still the 8x8 level
    # 18 ws at 1024 (config A and B): 4 at 8x8 (two 4x4 layers + two 8x8 layers), 6 fading to 16x16
    assert [active_ws(18, lod) for lod in (7.0, 6.75, 6.0, 0.0)] == [4, 6, 6, 18]
