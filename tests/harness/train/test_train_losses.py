"""Losses against hand computations: logistic losses, R1 on a quadratic D, path length on a linear G."""

import math

import pytest
import torch
import torch.nn.functional as F

import variants
from harness.train import losses
from variants.layers import downscale_box, upscale_nearest


def test_logistic_losses_match_the_formulas():
    fake = torch.tensor([[0.5], [-2.0]])
    real = torch.tensor([[1.0], [3.0]])
    expected_g = (math.log1p(math.exp(-0.5)) + math.log1p(math.exp(2.0))) / 2
    assert losses.generator_loss(fake).item() == pytest.approx(expected_g)
    expected_d = (math.log1p(math.exp(0.5)) + math.log1p(math.exp(-2.0))) / 2 + (
        math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-3.0))) / 2
    assert losses.discriminator_loss(real, fake).item() == pytest.approx(expected_d)


def test_r1_on_a_quadratic_discriminator():
    # D(x) = 0.5 * sum(a * x^2): grad_x D = a * x, so ||grad||^2 = sum(a^2 x^2); d/da = 2 * a * sum(x^2).
    a = torch.tensor(1.5, requires_grad=True)
    x = torch.randn(3, 2, 4, 4).requires_grad_(True)
    logits = (0.5 * a * x.square()).sum(dim=(1, 2, 3)).unsqueeze(1)
    penalty = losses.r1_penalty(logits, x)
    expected = (a.detach() ** 2 * x.detach().square()).sum(dim=(1, 2, 3))
    torch.testing.assert_close(penalty, expected)
    (grad_a,) = torch.autograd.grad(penalty.sum(), a)
    torch.testing.assert_close(grad_a, 2 * a.detach() * x.detach().square().sum())


def test_path_length_on_a_linear_generator_and_its_ema():
    n, num_ws, w_dim, shape = 4, 3, 5, (2, 3, 3)
    a = torch.randn(num_ws * w_dim, math.prod(shape), dtype=torch.float64)
    ws = torch.randn(n, num_ws, w_dim, dtype=torch.float64, requires_grad=True)
    images = (ws.flatten(1) @ a).reshape(n, *shape)
    noise = torch.randn(n, *shape, dtype=torch.float64) / 3.0  # 1/sqrt(H*W)
    lengths = losses.path_lengths(images, ws, noise)
    jacobian_t_y = (noise.flatten(1) @ a.T).reshape(n, num_ws, w_dim)  # J^T y
    expected = jacobian_t_y.square().sum(2).mean(1).sqrt()
    torch.testing.assert_close(lengths, expected)

    pl_mean = torch.tensor(0.7, dtype=torch.float64)
    penalty, new_mean = losses.path_length_penalty(lengths, pl_mean, decay=0.01)
    expected_mean = 0.7 + 0.01 * (expected.mean() - 0.7)
    torch.testing.assert_close(new_mean, expected_mean)
    torch.testing.assert_close(penalty, (expected - expected_mean).square())
    assert pl_mean.item() == 0.7  # the input is not modified


def test_path_length_noise_is_scaled_by_image_area():
    generator = torch.Generator().manual_seed(1)
    noise = losses.path_length_noise((64, 3, 16, 16), generator, "cpu")
    assert noise.std().item() == pytest.approx(1 / 16, rel=0.05)
    again = losses.path_length_noise((64, 3, 16, 16), torch.Generator().manual_seed(1), "cpu")
    assert torch.equal(noise, again)


class LayerMapping(torch.nn.Module):
    """Stand-in mapping: w = z for every layer."""

    num_ws = 6

    def forward(self, z, update_w_avg=False):
        return z[:, None, :].repeat(1, self.num_ws, 1)


def test_style_mixing_crossover():
    mapping, z, z_mix = LayerMapping(), torch.zeros(2, 4), torch.ones(2, 4)
    mixed = losses.sample_ws(mapping, z, z_mix, torch.tensor([0.5, 0.5]), num_ws=6, mixing_prob=0.9)
    assert mixed[:, :3].eq(0).all() and mixed[:, 3:].eq(1).all()  # crossover 1 + int(0.5 * 5) = 3
    unmixed = losses.sample_ws(mapping, z, z_mix, torch.tensor([0.95, 0.5]), num_ws=6, mixing_prob=0.9)
    assert unmixed.eq(0).all()
    last = losses.sample_ws(mapping, z, z_mix, torch.tensor([0.0, 0.9999]), num_ws=6, mixing_prob=0.9)
    assert last[:, :5].eq(0).all() and last[:, 5:].eq(1).all()


def test_style_mixing_crossover_stays_within_the_active_layers():
    mapping, z, z_mix = LayerMapping(), torch.zeros(2, 4), torch.ones(2, 4)
    mapping.num_ws = 18  # 1024x1024 while growing at 8x8: 4 active ws (lod 7)
    crossovers = set()
    for u in torch.linspace(0, 0.9999, 101):
        ws = losses.sample_ws(mapping, z, z_mix, torch.tensor([0.0, float(u)]), num_ws=18, mixing_prob=0.9,
                              active_ws=4)
        crossovers.add(int(ws[0, :, 0].eq(0).sum()))
    assert crossovers == {1, 2, 3}  # drawn from [1, active_ws): mixing always reaches an active layer
    with pytest.raises(ValueError, match=r"active_ws must lie in \[1, num_ws=18\], got 19"):
        losses.sample_ws(mapping, z, z_mix, torch.tensor([0.0, 0.5]), num_ws=18, mixing_prob=0.9,
                         active_ws=19)


def test_r1_while_growing_is_taken_on_full_resolution_pixels():
    # official: the reals reach D at R x R (training_loop.py process_reals) and D box-downsamples inside,
    # so R1 on the R x R input is R1 on the r x r block means divided by (R / r)^2.
    cfg = variants.get_config("B", resolution=32, width_multiplier=1 / 32, z_dim=32, w_dim=32,
                              mapping_width=32, mapping_layers=2)
    D = variants.build_discriminator(cfg)
    for top in (8, 16):
        D.set_growth(top, 1.0)
        factor = 32 // top
        reals = torch.randn(4, 3, 32, 32, requires_grad=True)
        full = losses.r1_penalty(D(reals), reals)
        low = downscale_box(reals.detach(), factor).requires_grad_(True)
        at_low = losses.r1_penalty(D(upscale_nearest(low, factor)), low)  # D sees exactly `low`
        torch.testing.assert_close(full, at_low / factor ** 2, rtol=1e-5, atol=0)


def test_softplus_form_is_stable_for_large_logits():
    logits = torch.tensor([[80.0], [-80.0]])
    assert torch.isfinite(losses.discriminator_loss(logits, logits))
    expected = F.softplus(torch.tensor(80.0)).item()
    assert losses.generator_loss(torch.tensor([[-80.0]])).item() == pytest.approx(expected)
