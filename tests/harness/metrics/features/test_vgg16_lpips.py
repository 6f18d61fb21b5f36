"""VGG-16 (fc2) and LPIPS v0.1: synthetic files with the published key names and shapes."""

import pytest
import torch

from harness.metrics.features import load_feature_network, load_perceptual_distance
from harness.metrics.features.lpips import LpipsLinearLayers
from harness.metrics.features.weights import WEIGHT_FILES

# torchvision vgg16-397923af.pth: 13 convolutions and 3 linear layers, weight and bias each.
VGG16_CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
VGG16_SHAPES = {
    "features.0.weight": (64, 3, 3, 3), "features.28.bias": (512,), "features.14.weight": (256, 256, 3, 3),
    "classifier.0.weight": (4096, 25088), "classifier.3.weight": (4096, 4096), "classifier.6.bias": (1000,),
}
LPIPS_SHAPES = {f"lin{i}.model.1.weight": (1, c, 1, 1) for i, c in enumerate((64, 128, 256, 512, 512))}


def _vgg16_state(seed=0):
    """Published VGG-16 names/shapes; the big linear layers are stride-0 views (tiny on disk)."""
    generator = torch.Generator().manual_seed(seed)
    channels = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    state = {}
    for index, layer in enumerate(VGG16_CONVS):
        fan_in = channels[index] * 9
        state[f"features.{layer}.weight"] = torch.randn(channels[index + 1], channels[index], 3, 3,
                                                        generator=generator) * (2 / fan_in) ** 0.5
        state[f"features.{layer}.bias"] = torch.zeros(channels[index + 1])
    for layer, (out, inp) in {0: (4096, 25088), 3: (4096, 4096), 6: (1000, 4096)}.items():
        state[f"classifier.{layer}.weight"] = torch.full((1,), 1e-3).expand(out, inp)
        state[f"classifier.{layer}.bias"] = torch.zeros(out)
    return state


@pytest.fixture(scope="module")
def weights_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    torch.save(_vgg16_state(), folder / WEIGHT_FILES["vgg16"].filename)
    lins = {k: torch.rand(shape) for k, shape in LPIPS_SHAPES.items()}
    torch.save(lins, folder / WEIGHT_FILES["lpips-vgg16"].filename)
    return folder


def test_published_key_names_and_shapes():
    state = _vgg16_state()
    assert len(state) == 32
    for key, shape in VGG16_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert {k: tuple(v.shape) for k, v in LpipsLinearLayers().state_dict().items()} == LPIPS_SHAPES


@pytest.mark.slow
def test_vgg16_gives_4096_relu_features(weights_folder):
    # input_size 64 (recorded with the numbers) keeps the forward pass cheap; the protocol's is 224.
    network = load_feature_network("vgg16", cache_dir=weights_folder, download=False, input_size=64)
    assert network.feature_dim == 4096 and network.input_size == 64
    assert not network.comparable_to_published
    features = network(torch.randint(0, 256, (2, 3, 32, 32)).float())
    assert features.shape == (2, 4096) and (features >= 0).all()  # fc2 taken after its ReLU


@pytest.mark.slow
def test_lpips_distance_is_zero_for_identical_images_and_positive_otherwise(weights_folder):
    distance = load_perceptual_distance("lpips-vgg16", cache_dir=weights_folder, download=False)
    assert "+" in distance.weights_sha256 and not distance.comparable_to_published
    images = torch.randint(0, 256, (3, 3, 32, 32)).float()
    same = distance(images, images)
    assert same.shape == (3,) and same.abs().max() < 1e-6
    assert (distance(images, images.roll(1, dims=0)) > 0).all()


def test_lpips_rejects_a_file_with_wrong_keys(weights_folder, tmp_path):
    bad = tmp_path / "vgg.pth"
    torch.save({"lin0.weight": torch.zeros(1, 64, 1, 1)}, bad)
    with pytest.raises(ValueError, match="missing keys"):
        load_perceptual_distance("lpips-vgg16", weights_path=bad, cache_dir=weights_folder, download=False)
