"""One contract over every registered configuration: build, forward, backward, determinism, state dict.

Every preset (Table 1 and the nine Table 2 combinations) at 16x16 and 32x32 with a few channels.
"""

import pytest
import torch

import variants


@pytest.fixture(params=variants.list_configs())
def config_name(request):
    return request.param


@pytest.mark.parametrize("resolution", [16, 32])
def test_forward_backward_finite(config_name, resolution, tiny):
    cfg = tiny(config_name, resolution=resolution)
    G, D = variants.build_generator(cfg), variants.build_discriminator(cfg)
    img = G(torch.randn(4, cfg.z_dim))
    assert img.shape == (4, 3, resolution, resolution) and torch.isfinite(img).all()
    assert img.abs().max() < 20  # about [-1, 1] at initialisation
    logits = D(img)
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()
    torch.nn.functional.softplus(-logits).mean().backward()  # non-saturating G loss
    for net in (G, D):
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
    assert G.synthesis.blocks[-1].layers[-1].affine.weight.grad.abs().sum() > 0


def test_deterministic_and_state_dict_round_trip(config_name, tiny):
    cfg = tiny(config_name)
    torch.manual_seed(3)
    G = variants.build_generator(cfg).eval()
    torch.manual_seed(3)
    twin = variants.build_generator(cfg).eval()
    z = torch.randn(2, cfg.z_dim)
    assert torch.equal(G(z, noise_mode="const"), twin(z, noise_mode="const"))
    fresh = variants.build_generator(cfg).eval()
    fresh.load_state_dict(G.state_dict())
    assert torch.equal(fresh(z, noise_mode="const"), G(z, noise_mode="const"))


def test_config_and_architectures_agree(config_name, tiny):
    cfg = tiny(config_name)
    G, D = variants.build_generator(cfg), variants.build_discriminator(cfg)
    assert (G.registered_name, D.registered_name) == (cfg.g_arch, cfg.d_arch)
    assert G.config == D.config == cfg
    style_layers = {type(layer).__name__ for block in G.synthesis.blocks for layer in block.layers}
    assert style_layers == {"adain": {"AdaINLayer"}, "demod": {"DemodLayer"}}[cfg.style_block]
