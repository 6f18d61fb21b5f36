"""Discriminators: logits shape, input skips, residual blocks, epilogue, R1's double backward."""

import pytest
import torch

import variants


@pytest.mark.parametrize("name", ["G-skip/D-original", "G-skip/D-skip", "G-skip/D-residual"])
def test_logits_shape_and_finite(name, tiny):
    D = variants.build_discriminator(tiny(name, resolution=32))
    logits = D(torch.randn(4, 3, 32, 32))
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()


def test_rejects_wrong_image_size(tiny):
    D = variants.build_discriminator(tiny("E"))
    with pytest.raises(ValueError, match=r"expects images \[N, 3, 16, 16\], got \[2, 3, 32, 32\]"):
        D(torch.randn(2, 3, 32, 32))


@pytest.mark.parametrize("name", ["A", "B", "G-skip/D-skip", "G-residual/D-residual"])
def test_grayscale_networks_make_and_read_one_channel(name, tiny):
    # official: the networks take the dataset's channel count (img_channels / num_channels)
    config = tiny(name).replace(img_channels=1)
    G, D = variants.build_generator(config), variants.build_discriminator(config)
    images = G(torch.randn(4, G.z_dim))
    assert images.shape == (4, 1, 16, 16) and D(images).shape == (4, 1)
    with pytest.raises(ValueError, match=r"expects images \[N, 1, 16, 16\], got \[4, 3, 16, 16\]"):
        D(images.repeat(1, 3, 1, 1))
    with pytest.raises(ValueError, match="img_channels must be 1 .grayscale. or 3 .RGB., got 2"):
        tiny(name).replace(img_channels=2)


def test_fromrgb_per_architecture(tiny):
    def fromrgb_resolutions(name):
        D = variants.build_discriminator(tiny(name, resolution=32))
        found = [block.resolution for block in D.blocks if block.fromrgb is not None]
        return found + ([4] if D.epilogue.fromrgb is not None else [])

    assert fromrgb_resolutions("G-skip/D-original") == [32]
    assert fromrgb_resolutions("G-skip/D-residual") == [32]
    assert fromrgb_resolutions("G-skip/D-skip") == [32, 16, 8, 4]
    assert fromrgb_resolutions("A") == [32, 16, 8]  # growing: a FromRGB per level


def test_block_channels_and_residual_skips(tiny):
    D = variants.build_discriminator(tiny("E", resolution=128))
    cfg = D.config
    assert [block.resolution for block in D.blocks] == [128, 64, 32, 16, 8]
    for block in D.blocks:
        assert block.conv1.weight.shape[:2] == (cfg.channels_at(block.resolution // 2),
                                                cfg.channels_at(block.resolution))
        assert block.skip is not None
    assert D.epilogue.conv.weight.shape[1] == cfg.channels_at(4) + cfg.mbstd_channels
    assert D.epilogue.fc.weight.shape == (cfg.channels_at(4), cfg.channels_at(4) * 16)


def test_input_skips_see_every_scale(tiny):
    """Changing only the 4x4 average of the image changes the skip D's epilogue input directly."""
    D = variants.build_discriminator(tiny("G-skip/D-skip"))
    img = torch.randn(4, 3, 16, 16)
    for module in D.blocks:  # cut the feed-forward path: only the input skips carry the image
        torch.nn.init.zeros_(module.conv1.weight)
    assert not torch.allclose(D(img), D(img + 1.0))


def test_mbstd_settings_reach_the_epilogue(tiny):
    D = variants.build_discriminator(tiny("E", mbstd_group=2, mbstd_channels=2))
    assert D(torch.randn(6, 3, 16, 16)).shape == (6, 1)
    with pytest.raises(ValueError, match="not divisible by the group size"):
        variants.build_discriminator(tiny("E"))(torch.randn(6, 3, 16, 16))


@pytest.mark.parametrize("name", ["A", "E", "G-skip/D-skip"])
def test_r1_double_backward(name, tiny):
    D = variants.build_discriminator(tiny(name))
    img = torch.randn(4, 3, 16, 16, requires_grad=True)
    (grad,) = torch.autograd.grad(D(img).sum(), img, create_graph=True)
    penalty = grad.square().sum()
    penalty.backward()
    grads = [p.grad for p in D.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_ref_and_fused_impl_agree(tiny):
    D = variants.build_discriminator(tiny("G-skip/D-skip"), impl="ref")
    img = torch.randn(4, 3, 16, 16)
    ref = D(img)
    D.set_impl("fused")
    assert {block.conv1.impl for block in D.blocks} == {"fused"} and D.impl == "fused"
    assert torch.allclose(D(img), ref, atol=1e-5)
