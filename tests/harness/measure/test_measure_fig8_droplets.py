"""Figure 8 shares (std per resolution, normalised) and the droplet statistic."""

import pytest
import torch

import variants
from harness.measure.droplets import droplet_resolutions, droplet_statistic, measure_droplets, top_share
from harness.measure.resolution_usage import fixed_latents, resolution_shares, rgb_std, shares_from_std


def test_rgb_std_over_batches_matches_torch():
    rgb = {4: torch.randn(10, 3, 4, 4), 8: 3 * torch.randn(10, 3, 8, 8)}
    batches = [{res: image[:6] for res, image in rgb.items()}, {res: image[6:] for res, image in rgb.items()}]
    std = rgb_std(batches)
    for res, image in rgb.items():
        assert std[res] == pytest.approx(image.double().std(0, unbiased=False).mean().item(), rel=1e-9)


def test_shares_sum_to_one():
    shares = shares_from_std({4: 1.0, 8: 3.0, 16: 4.0})
    assert shares == {4: 0.125, 8: 0.375, 16: 0.5}
    assert shares_from_std({4: 0.0, 8: 0.0}) == {4: 0.5, 8: 0.5}


def tiny(name):
    return variants.get_config(name, resolution=16, width_multiplier=1 / 32, mapping_layers=1, z_dim=16,
                               w_dim=16, mapping_width=16, impl="ref")


def test_skip_generator_shares_sum_to_one_and_others_give_none():
    z = fixed_latents(16, 24, seed=1)
    assert torch.equal(z, fixed_latents(16, 24, seed=1))
    shares = resolution_shares(variants.build_generator(tiny("E")), z, batch_size=10)
    assert sorted(shares) == [4, 8, 16]
    assert sum(shares.values()) == pytest.approx(1.0)
    assert all(share > 0 for share in shares.values())
    assert resolution_shares(variants.build_generator(tiny("G-original/D-original")), z) is None


def test_droplet_share_spiky_versus_smooth():
    smooth = torch.ones(2, 3, 32, 32) + 0.01 * torch.randn(2, 3, 32, 32)
    spiky = 0.001 * torch.rand(2, 3, 32, 32)
    spiky[:, :, 5, 7] = 100.0
    k = round(0.01 * 32 * 32)  # 10 pixels
    assert top_share(smooth).mean().item() == pytest.approx(k / 1024, rel=0.05)
    assert top_share(spiky).mean().item() > 0.99
    assert top_share(torch.zeros(1, 1, 4, 4)).item() == 0.0
    with pytest.raises(ValueError, match="N, C, H, W"):
        top_share(torch.ones(3, 4, 4))


def test_droplet_resolutions_and_record():
    assert droplet_resolutions([4, 8, 16, 32, 64, 128]) == [64, 128]
    assert droplet_resolutions([4, 8, 16]) == [8, 16]
    spiky = torch.zeros(1, 2, 8, 8)
    spiky[..., 0, 0] = 1.0
    record = droplet_statistic({4: torch.ones(1, 2, 4, 4), 8: spiky, 16: torch.ones(1, 2, 16, 16)})
    assert record["droplet/8"] == pytest.approx(1.0)
    assert record["droplet/16"] == pytest.approx(3 / 256)
    assert record["droplet"] == pytest.approx((1.0 + 3 / 256) / 2)


def test_measure_droplets_runs_on_a_generator():
    record = measure_droplets(variants.build_generator(tiny("A")), fixed_latents(16, 4, seed=0))
    assert set(record) == {"droplet", "droplet/8", "droplet/16"}
    assert 0 < record["droplet"] <= 1


def test_figure8_and_droplets_while_growing():
    G = variants.build_generator(tiny("A"))
    G.set_growth(16, 0.5)  # two ToRGBs blended: no Figure 8 shares; the droplet statistic still applies
    z = fixed_latents(16, 4, seed=0)
    assert resolution_shares(G, z) is None
    assert G(z).shape == (4, 3, 16, 16)
    G.set_growth(8, 1.0)  # only the 4x4 and 8x8 blocks run: the statistic uses those
    record = measure_droplets(G, z)
    assert set(record) == {"droplet", "droplet/4", "droplet/8"} and 0 < record["droplet"] <= 1
