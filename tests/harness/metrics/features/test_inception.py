"""Inception-v3 (FID graph): loads a synthetic file with the published key names and shapes."""

import pytest
import torch

from harness.metrics.features import load_feature_network
from harness.metrics.features.inception import InceptionV3FID
from harness.metrics.features.weights import file_sha256

# Spot checks of pt_inception-2015-12-05-6726825d.pth (torchvision Inception-v3 names, 1008 classes).
PUBLISHED_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.running_mean": (32,),
    "Conv2d_2b_3x3.conv.weight": (64, 32, 3, 3),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch1x1.conv.weight": (64, 192, 1, 1),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
    "Mixed_7b.branch3x3_2a.conv.weight": (384, 384, 1, 3),
    "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.bn.running_var": (192,),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}


@pytest.fixture(scope="module")
def synthetic_inception_file(tmp_path_factory):
    """A state dict with the published names and shapes, random values, no num_batches_tracked."""
    state = {k: torch.randn(v.shape) * 0.05 for k, v in InceptionV3FID().state_dict().items()
             if not k.endswith("num_batches_tracked")}
    for key in state:
        if key.endswith("running_var"):
            state[key] = state[key].abs() + 1.0
    path = tmp_path_factory.mktemp("weights") / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(state, path)
    return path, state


def test_published_key_names_and_shapes(synthetic_inception_file):
    _, state = synthetic_inception_file
    for key, shape in PUBLISHED_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert len(state) == 94 * 5 + 2  # 94 conv+BN layers (weight, bn weight/bias/mean/var) and fc


@pytest.mark.slow
def test_loads_and_gives_2048_features_for_any_input_size(synthetic_inception_file):
    path, _ = synthetic_inception_file
    network = load_feature_network("inception", weights_path=path)
    assert network.feature_dim == 2048 and network.input_size == 299
    assert network.weights_sha256 == file_sha256(path)
    assert not network.comparable_to_published  # the synthetic file is not the published one
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    features = network(images)
    assert features.shape == (2, 2048) and torch.isfinite(features).all()
    torch.testing.assert_close(network(images.float()), features)
    with pytest.raises(ValueError, match="resizes to 299 itself"):
        load_feature_network("inception", weights_path=path, input_size=128)
