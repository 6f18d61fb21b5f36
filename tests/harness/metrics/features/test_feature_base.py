"""Shared pieces of the feature networks: TF1 resize, LPIPS-style distance, strict loading, batching."""

import numpy as np
import pytest
import torch
from torch import nn

from harness.metrics.features.base import (
    compute_features,
    load_matching_state_dict,
    lpips_style_distance,
    tf1_resize,
    unit_normalize,
)
from harness.metrics.features.random_net import RandomFeatures


def _tf1_resize_by_definition(image: np.ndarray, size: int) -> np.ndarray:
    """TF1 resize_bilinear(align_corners=False, half_pixel_centers=False), pixel by pixel."""
    height, width = image.shape
    out = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            y, x = i * height / size, j * width / size
            y0, x0 = int(np.floor(y)), int(np.floor(x))
            y1, x1 = min(y0 + 1, height - 1), min(x0 + 1, width - 1)
            fy, fx = y - y0, x - x0
            top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
            bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
            out[i, j] = top * (1 - fy) + bottom * fy
    return out


def test_tf1_resize_known_values():
    # Source index = dest * in / out with no half-pixel offset: the last output repeats the edge.
    row = torch.tensor([0.0, 10.0]).view(1, 1, 1, 2).expand(1, 1, 2, 2)
    assert tf1_resize(row, 4)[0, 0, 0].tolist() == [0.0, 5.0, 10.0, 10.0]


@pytest.mark.parametrize("in_size, out_size", [(5, 8), (8, 3), (7, 7), (16, 299)])
def test_tf1_resize_matches_definition(in_size, out_size):
    image = np.random.default_rng(in_size).uniform(0, 255, (in_size, in_size))
    resized = tf1_resize(torch.tensor(image, dtype=torch.float32)[None, None], out_size)[0, 0].numpy()
    np.testing.assert_allclose(resized, _tf1_resize_by_definition(image, out_size), rtol=1e-5, atol=1e-3)


def test_lpips_style_distance_matches_hand_computation():
    rng = torch.Generator().manual_seed(0)
    f0 = [torch.randn(2, 4, 3, 3, generator=rng), torch.randn(2, 6, 2, 2, generator=rng)]
    f1 = [torch.randn(2, 4, 3, 3, generator=rng), torch.randn(2, 6, 2, 2, generator=rng)]
    weights = [torch.rand(1, 4, 1, 1, generator=rng), torch.rand(1, 6, 1, 1, generator=rng)]
    expected = torch.zeros(2)
    for a, b, w in zip(f0, f1, weights, strict=True):
        a_hat = a / a.norm(dim=1, keepdim=True)
        b_hat = b / b.norm(dim=1, keepdim=True)
        expected += ((a_hat - b_hat) ** 2 * w).sum(dim=1).mean(dim=(1, 2))
    torch.testing.assert_close(lpips_style_distance(f0, f1, weights), expected)
    unweighted = lpips_style_distance(f0, f1)
    assert unweighted.shape == (2,) and (unweighted > 0).all()
    assert lpips_style_distance(f0, f0).abs().max() < 1e-6


def test_unit_normalize_gives_unit_channel_vectors():
    x = torch.randn(2, 5, 3, 3)
    torch.testing.assert_close(unit_normalize(x).norm(dim=1), torch.ones(2, 3, 3))


def test_load_matching_state_dict_names_the_problem():
    module = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    state = {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}
    load_matching_state_dict(module, dict(state), "file.pth")  # old files lack num_batches_tracked
    renamed = dict(state)
    renamed["0.weights"] = renamed.pop("0.weight")
    expected = r"file.pth .*missing keys \['0.weight'\].*unexpected keys \['0.weights'\]"
    with pytest.raises(ValueError, match=expected):
        load_matching_state_dict(module, renamed, "file.pth")
    wrong = dict(state, **{"0.bias": torch.zeros(5)})
    with pytest.raises(ValueError, match=r"wrong shapes \['0.bias: \[5\] != \[4\]'\]"):
        load_matching_state_dict(module, wrong, "file.pth")


def test_compute_features_batches_without_gradients():
    network = RandomFeatures().eval()
    images = np.random.default_rng(0).integers(0, 256, (10, 3, 32, 32), dtype=np.uint8)
    batched = compute_features(network, images, batch_size=3)
    whole = compute_features(network, images, batch_size=10)
    assert batched.shape == (10, network.feature_dim) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, whole, rtol=1e-5, atol=1e-6)
    via_callable = compute_features(network, lambda a, b: torch.from_numpy(images[a:b]), num_images=10)
    np.testing.assert_allclose(via_callable, whole, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\] \(or \[N, 1, H, W\] grayscale\), got \[2, 2, 8"):
        network(torch.zeros(2, 2, 8, 8))


def test_grayscale_images_are_seen_as_their_gray_rgb_copies():
    """A 1-channel batch gives the features of the same pixels repeated to RGB (the official metrics
    tile grayscale to three channels), for every network through check_images."""
    network = RandomFeatures().eval()
    gray = np.random.default_rng(1).integers(0, 256, (4, 1, 16, 16), dtype=np.uint8)
    from_gray = compute_features(network, gray, batch_size=4)
    from_rgb = compute_features(network, np.repeat(gray, 3, axis=1), batch_size=4)
    np.testing.assert_array_equal(from_gray, from_rgb)
