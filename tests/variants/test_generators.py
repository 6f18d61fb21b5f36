"""Generators: API shapes, style mixing, truncation, noise modes, traces, determinism."""

import pytest
import torch

import variants
from fused_ops.upfirdn2d import setup_filter, upsample2d


def test_generator_api_attributes(tiny):
    cfg = tiny("E", resolution=32)
    G = variants.build_generator(cfg)
    assert (G.z_dim, G.w_dim, G.resolution, G.config) == (32, 32, 32, cfg)
    assert G.num_ws == 8  # 2 * log2(32) - 2, as in StyleGAN2
    assert isinstance(G.mapping, torch.nn.Module) and isinstance(G.synthesis, torch.nn.Module)
    ws = G.mapping(torch.randn(3, 32))
    assert ws.shape == (3, G.num_ws, G.w_dim)
    assert G.synthesis(ws).shape == G(torch.randn(3, 32)).shape == (3, 3, 32, 32)


@pytest.mark.parametrize("name", ["A", "E", "G-residual/D-residual"])
def test_num_ws_is_the_same_for_both_style_blocks(name, tiny):
    assert variants.build_generator(tiny(name, resolution=64)).num_ws == 10


def test_synthesis_rejects_wrong_ws_and_noise_mode(tiny):
    G = variants.build_generator(tiny("E"))
    with pytest.raises(ValueError, match=r"ws must have shape \[N, 6, 32\]"):
        G.synthesis(torch.randn(2, 5, 32))
    with pytest.raises(ValueError, match="noise_mode must be one of"):
        G.synthesis(torch.randn(2, 6, 32), noise_mode="fixed")


def test_mix_styles():
    ws_a, ws_b = torch.zeros(2, 6, 4), torch.ones(2, 6, 4)
    mixed = variants.mix_styles(ws_a, ws_b, 4)
    assert mixed[:, :4].eq(0).all() and mixed[:, 4:].eq(1).all()
    assert torch.equal(variants.mix_styles(ws_a, ws_b, 0), ws_b)
    assert torch.equal(variants.mix_styles(ws_a, ws_b, 6), ws_a)
    with pytest.raises(ValueError, match="crossover must lie in"):
        variants.mix_styles(ws_a, ws_b, 7)
    with pytest.raises(ValueError, match="must both be"):
        variants.mix_styles(ws_a, ws_b[:1], 2)


@pytest.mark.parametrize("name", ["A", "E"])
def test_style_mixing_changes_only_the_layers_after_the_crossover(name, tiny):
    """Coarse layers from A, fine from B: the 4x4 features must equal A's, the output differ from both."""
    G = variants.build_generator(tiny(name)).eval()
    ws_a, ws_b = G.mapping(torch.randn(2, 32)), G.mapping(torch.randn(2, 32))
    crossover = 2 if name == "A" else 1  # the 4x4 block's styled layers
    _, trace_a = G.synthesis(ws_a, noise_mode="const", return_trace=True)
    img_b = G.synthesis(ws_b, noise_mode="const")
    img_mix, trace_mix = G.synthesis(variants.mix_styles(ws_a, ws_b, crossover), noise_mode="const",
                                     return_trace=True)
    assert torch.allclose(trace_mix.features[4], trace_a.features[4])
    assert not torch.allclose(trace_mix.features[8], trace_a.features[8])
    assert not torch.allclose(img_mix, img_b)


def test_truncation_psi_zero_gives_the_average_image(tiny):
    G = variants.build_generator(tiny("E")).eval()
    G.mapping(torch.randn(64, 32), update_w_avg=True)
    imgs = G(torch.randn(4, 32), psi=0.0, noise_mode="const")
    assert torch.allclose(imgs, imgs[:1].expand_as(imgs), atol=1e-6)
    average = G.synthesis(G.mapping.w_avg.expand(1, G.num_ws, -1), noise_mode="const")
    assert torch.allclose(imgs[:1], average, atol=1e-6)
    z = torch.randn(4, 32)
    cut = G(z, psi=0.0, truncation_cutoff=2, noise_mode="const")
    assert not torch.allclose(cut, cut[:1].expand_as(cut), atol=1e-4)  # fine layers keep their w
    assert torch.allclose(G(z, psi=1.0, noise_mode="const"), G.synthesis(G.mapping(z), noise_mode="const"))


def test_noise_modes(tiny):
    G = variants.build_generator(tiny("E")).eval()
    for module in G.modules():
        if isinstance(module, variants.layers.NoiseInput):
            torch.nn.init.constant_(module.strength, 0.3)
    ws = G.mapping(torch.randn(2, 32))
    assert torch.equal(G.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="const"))
    assert not torch.allclose(G.synthesis(ws, noise_mode="random"), G.synthesis(ws, noise_mode="random"))
    assert not torch.allclose(G.synthesis(ws, noise_mode="none"), G.synthesis(ws, noise_mode="const"))


def test_same_seed_same_network_and_images(tiny):
    def sample(seed):
        torch.manual_seed(seed)
        G = variants.build_generator(tiny("E"))
        torch.manual_seed(seed + 1)
        return G.state_dict(), G(torch.randn(2, 32))

    (state_1, img_1), (state_2, img_2), (_, img_3) = sample(5), sample(5), sample(6)
    assert all(torch.equal(state_1[key], state_2[key]) for key in state_1)
    assert torch.equal(img_1, img_2) and not torch.allclose(img_1, img_3)


def test_skip_trace_rgb_sums_to_the_image(tiny):
    G = variants.build_generator(tiny("E", resolution=32))
    img, trace = G.synthesis(G.mapping(torch.randn(2, 32)), noise_mode="const", return_trace=True)
    assert sorted(trace.rgb) == sorted(trace.features) == [4, 8, 16, 32]
    rebuilt, f = None, setup_filter([1, 3, 3, 1])
    for res in (4, 8, 16, 32):
        assert trace.rgb[res].shape == (2, 3, res, res)
        assert trace.features[res].shape == (2, G.config.channels_at(res), res, res)
        rebuilt = trace.rgb[res] if rebuilt is None else upsample2d(rebuilt, f) + trace.rgb[res]
    assert torch.allclose(rebuilt, img, atol=1e-5)


@pytest.mark.parametrize("name", ["A", "G-original/D-original", "G-residual/D-skip"])
def test_original_and_residual_trace_one_rgb_at_the_output(name, tiny):
    G = variants.build_generator(tiny(name))
    img, trace = G.synthesis(G.mapping(torch.randn(2, 32)), return_trace=True)
    assert list(trace.rgb) == [16] and torch.equal(trace.rgb[16], img)
    assert sorted(trace.features) == [4, 8, 16]


def test_torgb_layers_per_architecture(tiny):
    def torgb_resolutions(name):
        G = variants.build_generator(tiny(name, resolution=32))
        return [block.resolution for block in G.synthesis.blocks if block.torgb is not None]

    assert torgb_resolutions("E") == [4, 8, 16, 32]
    assert torgb_resolutions("G-original/D-original") == [32]
    assert torgb_resolutions("G-residual/D-original") == [32]
    assert torgb_resolutions("A") == [8, 16, 32]  # growing: a ToRGB per level from the start resolution


def test_demod_constant_input_has_no_bias_noise_or_normalisation(tiny):
    G = variants.build_generator(tiny("E"))
    first = G.synthesis.blocks[0]
    assert [type(layer).__name__ for layer in first.layers] == ["DemodLayer"]
    assert first.layers[0].weight.shape[-1] == 3  # the constant goes straight into a 3x3 conv
    adain_first = variants.build_generator(tiny("A")).synthesis.blocks[0]
    assert [layer.conv is None for layer in adain_first.layers] == [True, False]
    assert torch.equal(adain_first.const.weight, torch.ones_like(adain_first.const.weight))


def test_residual_generator_has_skip_convs(tiny):
    G = variants.build_generator(tiny("G-residual/D-residual"))
    assert [block.skip is not None for block in G.synthesis.blocks] == [False, True, True]


def test_crop_to_content():
    img = torch.arange(8.0).reshape(1, 1, 8, 1).expand(2, 3, 8, 8)
    cropped = variants.crop_to_content(img, 6)
    assert cropped.shape == (2, 3, 6, 8) and cropped[0, 0, :, 0].tolist() == [1, 2, 3, 4, 5, 6]
    assert variants.crop_to_content(img, None) is img
    with pytest.raises(ValueError, match="exceeds the image height"):
        variants.crop_to_content(img, 10)


def test_double_backward_for_path_length_regularisation(tiny):
    G = variants.build_generator(tiny("E"))
    ws = G.mapping(torch.randn(2, 32)).detach().requires_grad_(True)
    img = G.synthesis(ws)
    (grad,) = torch.autograd.grad((img * torch.randn_like(img)).sum(), ws, create_graph=True)
    grad.square().sum().backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in G.parameters())
    assert G.synthesis.blocks[-1].layers[-1].weight.grad is not None


def test_ref_and_fused_impl_agree(tiny):
    G = variants.build_generator(tiny("E", impl="ref"))
    ws = G.mapping(torch.randn(2, 32))
    ref = G.synthesis(ws, noise_mode="const")
    G.set_impl("fused")
    assert G.impl == "fused" and G.synthesis.blocks[1].layers[0].impl == "fused"
    assert torch.allclose(G.synthesis(ws, noise_mode="const"), ref, atol=1e-5)
    assert variants.build_generator(tiny("E"), impl="ref").synthesis.impl == "ref"
