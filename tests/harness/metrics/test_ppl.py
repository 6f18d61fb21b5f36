"""PPL: a generator linear in w has an analytic path length; the protocol's filter and downsampling."""

import numpy as np
import pytest
import torch

from harness.metrics import filtered_mean, path_lengths
from harness.metrics.ppl import downsample_to, sample_latents

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
    lengths = path_lengths(G, squared_l2, seeds=seeds, epsilon=epsilon, batch_size=64, noise_mode="none")
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
                 seeds=range(2), noise_mode="none", max_resolution=256)
    assert seen == [256]
