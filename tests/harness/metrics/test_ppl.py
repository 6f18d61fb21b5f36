"""PPL: a generator linear in w has an analytic path length; the protocol's filter and downsampling."""

import numpy as np
import pytest
import torch

from harness.metrics import filtered_mean, path_lengths
from harness.metrics.ppl import downsample_to, fresh_noise, noise_seed, sample_latents, to_pixel_range

squared_l2 = lambda a, b: (a - b).square().flatten(1).sum(dim=1)


def _analytic_lengths(G, seeds):
    """127.5^2 ||(w1 - w0) A||^2 per sample: the d / epsilon^2 of a linear G under squared L2."""
    z = sample_latents(seeds, G.z_dim, per_seed=2).double()
    w = z @ G.map_matrix.detach().double()
    delta_ws = (w[:, 1] - w[:, 0])[:, None, :].repeat(1, G.num_ws, 1).flatten(1)
    return (127.5**2 * (delta_ws @ G.synth_matrix.detach().double()).square().sum(dim=1)).numpy()


@pytest.mark.parametrize("epsilon, rel", [(1e-2, 1e-4), (1e-4, 2e-2)])
def test_linear_generator_matches_analytic_value(epsilon, rel, tiny_generator):
    G = tiny_generator(squash=False)
    seeds = range(100, 300)
    lengths = path_lengths(G, squared_l2, seeds=seeds, epsilon=epsilon, batch_size=64, noise="none")
    expected = _analytic_lengths(G, seeds)
    np.testing.assert_allclose(lengths, expected, rtol=rel)  # float32, as the protocol computes
    assert filtered_mean(lengths) == pytest.approx(filtered_mean(expected), rel=rel)


def test_per_sample_seeds_make_results_independent_of_batch_size(tiny_generator):
    G = tiny_generator()
    # epsilon = 1e-2 keeps float32 cancellation (which depends on matmul blocking) below the tolerance.
    a = path_lengths(G, squared_l2, seeds=range(10), batch_size=3, epsilon=1e-2)
    b = path_lengths(G, squared_l2, seeds=range(10), batch_size=10, epsilon=1e-2)
    np.testing.assert_allclose(a, b, rtol=1e-4)
    tail = path_lengths(G, squared_l2, seeds=range(4, 10), epsilon=1e-2)
    np.testing.assert_allclose(a[4:], tail, rtol=1e-4)
    assert not np.allclose(a[:5], a[5:])  # different seeds, different latents


def test_filtered_mean_drops_values_outside_1st_99th_percentile():
    values = np.random.default_rng(0).standard_normal(1000) ** 3
    ordered = np.sort(values)
    lower = ordered[int(np.floor(0.01 * 999))]
    upper = ordered[int(np.ceil(0.99 * 999))]
    expected = ordered[(ordered >= lower) & (ordered <= upper)].mean()
    assert filtered_mean(values) == pytest.approx(expected)
    assert filtered_mean(np.r_[np.ones(200), 1e9]) == 1.0  # one huge outlier is dropped


def test_downsample_to_256_by_area():
    images = torch.arange(2 * 3 * 512 * 512, dtype=torch.float32).reshape(2, 3, 512, 512)
    small = downsample_to(images, 256)
    assert small.shape == (2, 3, 256, 256)
    assert small[1, 2, 10, 20] == images[1, 2, 20:22, 40:42].mean()
    assert downsample_to(images[..., :128, :128], 256).shape[-1] == 128  # smaller: untouched
    with pytest.raises(ValueError, match="integer multiple"):
        downsample_to(torch.zeros(1, 3, 300, 300), 256)


def test_larger_images_are_downsampled_before_the_distance(tiny_generator):
    seen = []

    def recording_distance(a, b):
        seen.append(a.shape[-1])
        return squared_l2(a, b)

    path_lengths(tiny_generator(resolution=512, w_dim=2, z_dim=2, num_ws=1), recording_distance,
                 seeds=range(2), noise="none", max_resolution=256)
    assert seen == [256]


def test_fresh_noise_differs_between_batches_is_seeded_and_restores_the_buffers(tiny_generator):
    G = tiny_generator(noise_strength=0.5)
    original = G.noise_const.clone()
    path_lengths(G, squared_l2, seeds=range(8), batch_size=4, epsilon=1e-2, noise="fresh")
    first_batch, second_batch = G.seen_noise  # one synthesis call per batch (both ends of every pair)
    assert not torch.equal(first_batch, second_batch) and not torch.equal(first_batch, original)
    assert torch.equal(G.noise_const, original)  # the generator is unchanged afterwards
    with fresh_noise(G, 0):
        assert torch.equal(G.noise_const, first_batch)  # batch noise is drawn from its first seed
    G.seen_noise.clear()
    path_lengths(G, squared_l2, seeds=range(8), batch_size=4, epsilon=1e-2, noise="frozen")
    assert all(torch.equal(seen, original) for seen in G.seen_noise)


def test_noise_seeds_are_a_stream_apart_from_the_latent_seeds():
    latent = sample_latents(range(5, 6), 64)[0, 0]
    noise = torch.randn(64, generator=torch.Generator().manual_seed(noise_seed(5)))
    assert not torch.allclose(latent, noise)
    assert noise_seed(5) == noise_seed(5) != noise_seed(6)


def test_fresh_noise_changes_the_path_length_of_a_generator_with_noise(tiny_generator):
    lengths = {}
    for strength in (0.0, 0.5):
        G = tiny_generator(noise_strength=strength)
        for noise in ("fresh", "frozen"):
            values = path_lengths(G, squared_l2, seeds=range(64), batch_size=8, epsilon=1e-2, noise=noise)
            lengths[strength, noise] = filtered_mean(values)
    assert lengths[0.0, "fresh"] == lengths[0.0, "frozen"]  # no noise input: nothing to redraw
    assert abs(lengths[0.5, "fresh"] / lengths[0.5, "frozen"] - 1) > 1e-3


def test_pixels_are_mapped_as_x_plus_one_times_255_over_2():
    class Constant(torch.nn.Module):
        z_dim, w_dim, num_ws = 2, 2, 1

        def mapping(self, z, psi=1.0):
            return z[:, None, :]

        def synthesis(self, ws, noise_mode="const"):
            return torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1).repeat(len(ws), 1, 2, 2)

    seen = []
    path_lengths(Constant(), lambda a, b: seen.append(a) or squared_l2(a, b), seeds=range(2), noise="none")
    assert to_pixel_range(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [0.0, 127.5, 255.0]
    assert seen[0][0, :, 0, 0].tolist() == [0.0, 127.5, 255.0]  # not x * 127.5 + 128


def test_unknown_noise_choice_is_named():
    with pytest.raises(ValueError, match="noise must be one of"):
        path_lengths(None, squared_l2, seeds=range(2), noise="random")
