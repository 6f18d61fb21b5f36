"""Reals a metric takes (the first N in the dataset's order), and how their features are kept and cached."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from harness.distributed import current
from harness.metrics import METRICS, MetricOptions, evaluate_many
from harness.metrics.features import base as features_base
from harness.metrics.options import real_samples
from harness.metrics.real import RealFeatures, kid_selection


class OrderedDataset:
    """Image i holds the number i in its first two pixels (i = 256 * p0 + p1): its order is known."""

    def __init__(self, num_images=300, content_hash="ordered"):
        index = np.arange(num_images)
        self.images = np.zeros((num_images, 3, 4, 4), dtype=np.uint8)
        self.images[:, 0, 0, 0], self.images[:, 0, 0, 1] = index // 256, index % 256
        self.info = SimpleNamespace(content_hash=content_hash)


class IndexNetwork(torch.nn.Module):
    """A feature network whose features are the image's number (and its square), counting its images."""

    name, weights_sha256, input_size, feature_dim = "index", None, None, 2
    preprocessing, comparability, comparability_reason = "none", "not comparable", "test"
    comparable_to_published = False

    def __init__(self):
        super().__init__()
        self.images_seen = 0

    def forward(self, images):
        self.images_seen += len(images)
        index = images[:, 0, 0, 0].double() * 256 + images[:, 0, 0, 1].double()
        return torch.stack([index, index.square()], dim=1).float()

    def provenance(self):
        return {"feature_network": self.name, "weights_sha256": None, "feature_input_size": None,
                "preprocessing": f"v{features_base.PREPROCESSING_VERSION}: {self.preprocessing}"}


def _real(dataset, metrics, network, cache_dir=None, **options):
    from harness.metrics.features.base import compute_features

    options = MetricOptions(features="random", batch_size=16, cache_dir=cache_dir, **options)
    features_of = lambda net, fetch, n: compute_features(net, fetch, num_images=n, batch_size=16,
                                                           device="cpu")
    return RealFeatures(dataset, options, current(), features_of, metrics, lambda metric: network)


def test_fid50k_takes_exactly_the_first_n_reals_in_the_datasets_order():
    network = IndexNetwork()
    real = _real(OrderedDataset(300), ["fid", "pr", "kid"], network, num_samples=100)
    count, rule = real_samples("fid", real.options, real.size)
    assert (count, rule) == (100, "first")
    kept = real.get(network, count, "features-all")["features"]
    assert kept[:, 0].tolist() == list(range(100))  # images 0..99, in order: no shuffle
    statistics = real.get(network, count, "fid-statistics")
    assert statistics["mean"][0] == pytest.approx(49.5) and network.images_seen == 100  # one pass for all


def test_real_count_rules():
    options = lambda **kw: MetricOptions(num_samples=100, **kw)
    assert real_samples("fid", options(), 60) == (60, "all")  # capped at the dataset: the whole set
    assert real_samples("kid", options(num_real="all"), 300) == (300, "all")  # fid50k_full
    assert real_samples("pr", options(num_real=50), 300) == (50, "first")
    with pytest.raises(ValueError, match="num_real=400 but the dataset has 300 images"):
        real_samples("fid", options(num_real=400), 300)
    with pytest.raises(ValueError, match="num_real must be"):
        options(num_real="most")


def test_precision_recall_reads_at_most_200k_reals(monkeypatch):
    monkeypatch.setattr(METRICS.get("pr"), "max_real", 70)
    assert real_samples("pr", MetricOptions(num_real="all"), 300) == (70, "first")
    assert real_samples("fid", MetricOptions(num_real="all"), 300) == (300, "all")


def test_kid_keeps_a_seeded_uniform_sample_above_its_cap():
    assert kid_selection(100, 100) is None
    chosen = kid_selection(1000, 100)
    assert len(chosen) == len(set(chosen)) == 100 and np.all(np.diff(chosen) > 0) and chosen[-1] < 1000
    assert np.array_equal(chosen, kid_selection(1000, 100))
    network = IndexNetwork()
    real = _real(OrderedDataset(300), ["kid"], network, num_samples=300, kid_real_cap=40)
    kept = real.get(network, 300, real.kind_for("kid", 300))["features"]
    assert kept[:, 0].tolist() == kid_selection(300, 40).tolist()


def test_a_cache_entry_is_not_reused_after_a_preprocessing_version_change(tmp_path, monkeypatch):
    dataset, network = OrderedDataset(64), IndexNetwork()
    statistics = lambda count: _real(dataset, ["fid"], network, cache_dir=tmp_path, num_samples=count).get(
        network, count, "fid-statistics")
    for _ in range(2):  # the second evaluation reads the cache
        statistics(64)
    assert network.images_seen == 64
    monkeypatch.setattr(features_base, "PREPROCESSING_VERSION", features_base.PREPROCESSING_VERSION + 1)
    statistics(64)
    assert network.images_seen == 128  # computed again, not served from the old entry
    statistics(32)
    assert network.images_seen == 160  # another real count: another entry
    assert len(list((tmp_path / "stats").glob("*.npz"))) == 3


def test_statistics_of_the_bounded_pass_equal_the_in_memory_ones_and_rows_say_which_reals(tiny_generator):
    from harness.metrics import fid

    network = IndexNetwork()
    real = _real(OrderedDataset(300), ["fid"], network, num_samples=300)
    statistics = real.get(network, 300, "fid-statistics")
    index = np.arange(300, dtype=np.float64)
    expected_mean, expected_cov = fid.feature_statistics(np.stack([index, index**2], axis=1))
    np.testing.assert_allclose(statistics["mean"], expected_mean, rtol=1e-12)
    np.testing.assert_allclose(statistics["cov"], expected_cov, rtol=1e-10)
    rows = evaluate_many(tiny_generator(resolution=4), OrderedDataset(24), ["fid", "pr"],
                         MetricOptions(num_samples=16, features="random", batch_size=8))
    assert [(row["real_samples"], row["real_rule"]) for row in rows] == [(16, "first")] * 2
    rows = evaluate_many(tiny_generator(resolution=4), OrderedDataset(24), ["kid"],
                         MetricOptions(num_samples=16, num_real="all", features="random", batch_size=8))
    assert (rows[0]["real_samples"], rows[0]["real_rule"], rows[0]["kid_real_features"]) == (24, "all", 24)
