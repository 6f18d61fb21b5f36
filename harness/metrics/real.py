"""The real side of an evaluation: the first N reals in the dataset's order, in one bounded-memory pass.

Per feature network and real count, one pass over the reals produces what the metrics asked for:
FID's statistics as running sums (fid.RunningStatistics, O(D^2) memory whatever N), and the features
KID and precision/recall need (P/R: all N, at most 200k; KID: all N up to its cap, else a seeded
uniform sample of cap rows). Each part is cached on disk under a key that names the real-sample
rule and count and the preprocessing version (cache.py), so no part can be served stale.
"""

from collections.abc import Callable

import numpy as np
import torch

from harness.metrics import cache, fid
from harness.metrics.kid import kid_selection
from harness.metrics.metric import get_metric
from harness.metrics.options import MetricOptions, real_samples

CHUNK_IMAGES = 4096  # reals per step of the pass: memory ~ CHUNK_IMAGES x D floats besides the kept rows


def dataset_images(dataset):
    """uint8 [N, C, H, W] images of an ImageDataset (its `.images`) or of an array."""
    return dataset.images if hasattr(dataset, "images") else dataset


def first_reals(dataset, count: int) -> Callable[[int, int], torch.Tensor]:
    """fetch(start, stop) -> uint8 [B, C, H, W] over the first `count` reals, in the dataset's order."""
    images = dataset_images(dataset)
    return lambda start, stop: torch.from_numpy(np.array(images[start:min(stop, count)]))  # a copy


class RealFeatures:
    """Real statistics and features of one evaluation, computed at most once per (network, count).

    `features_of(net, fetch, num_images)` computes features [num_images, D] (shared out over ranks);
    `metrics` are the evaluation's metrics, so one pass serves all that use the same network.
    """

    def __init__(self, dataset, options: MetricOptions, dist, features_of, metrics, networks):
        self.dataset, self.options, self.dist = dataset, options, dist
        self.features_of, self.metrics, self.networks = features_of, list(metrics), networks
        self.size = len(dataset_images(dataset))
        self.parts: dict[tuple, dict[str, np.ndarray]] = {}
        info = getattr(dataset, "info", None)
        self.content_hash = getattr(info, "content_hash", None)
        self.resolution = dataset_images(dataset).shape[-1]

    def kind_for(self, metric: str, count: int) -> str:
        """What `metric` needs of `count` reals: 'fid-statistics', 'features-all' or KID's sample."""
        return get_metric(metric).real_kind(count, self.options)

    def get_kind_rows(self, kind: str, count: int) -> int:
        """How many real feature rows `kind` holds of the first `count`."""
        selection = self._selection(kind, count)
        return count if selection is None else len(selection)

    def _needs(self, net, count: int) -> set[str]:
        """The kinds the evaluation's metrics that use `net` with `count` reals need."""
        return {self.kind_for(metric, count) for metric in self.metrics
                if not get_metric(metric).perceptual and self.networks(metric).name == net.name
                and real_samples(metric, self.options, self.size)[0] == count}

    def _selection(self, kind: str, count: int) -> np.ndarray | None:
        """Rows of the first `count` a features kind keeps (None: all)."""
        return kid_selection(count, self.options.kid_cap) if kind.startswith("features-sample") else None

    def get(self, net, count: int, kind: str) -> dict[str, np.ndarray]:
        """The arrays of `kind` ('fid-statistics': mean, cov; 'features-*': features) for `count` reals."""
        if (net.name, count, kind) not in self.parts:
            missing = [k for k in sorted(self._needs(net, count) | {kind}) if not self._load(net, count, k)]
            if missing:
                for part_kind, arrays in self._pass(net, count, missing).items():
                    self.parts[(net.name, count, part_kind)] = arrays
                    self._store(net, count, part_kind, arrays)
        return self.parts[(net.name, count, kind)]

    def _key(self, net, count: int, kind: str) -> dict | None:
        if self.content_hash is None:
            return None  # an in-memory array without a content hash: nothing to key a cache entry on
        rule = "all" if count == self.size else "first"
        return cache.cache_key(content_hash=self.content_hash, resolution=self.resolution,
                               network=net.provenance(), real_rule=rule, real_samples=count, kind=kind)

    def _load(self, net, count: int, kind: str) -> bool:
        """Whether `kind` is available (already here, or read from the cache; rank 0's cache decides)."""
        if (net.name, count, kind) in self.parts:
            return True
        key = self._key(net, count, kind)
        stored = cache.load_entry(key, self.options.cache_dir) if key and self.dist.is_main else None
        if self.dist.active:
            stored = self._broadcast(net, count, kind, stored)
        if stored is not None:
            self.parts[(net.name, count, kind)] = stored
        return stored is not None

    def _broadcast(self, net, count: int, kind: str, stored):
        """Rank 0's entry (or None) on every rank."""
        found = self.dist.broadcast_(torch.tensor([float(stored is not None)])).item()
        if not found:
            return None
        dim = net.feature_dim
        if kind == "fid-statistics":
            shapes = {"mean": (dim,), "cov": (dim, dim)}
        else:
            shapes = {"features": (self.get_kind_rows(kind, count), dim)}
        out = {}
        for name, shape in shapes.items():
            dtype = torch.float32 if name == "features" else torch.float64
            buffer = (torch.from_numpy(np.ascontiguousarray(stored[name])).to(dtype) if self.dist.is_main
                      else torch.empty(shape, dtype=dtype))
            out[name] = self.dist.broadcast_(buffer).numpy()
        return out

    def _store(self, net, count: int, kind: str, arrays) -> None:
        key = self._key(net, count, kind)
        if key is not None and self.dist.is_main:
            cache.store_entry(key, arrays, self.options.cache_dir)

    def _pass(self, net, count: int, wanted: list[str]) -> dict[str, dict]:
        """One pass over the first `count` reals computing the `wanted` kinds."""
        fetch = first_reals(self.dataset, count)
        step = max(1, CHUNK_IMAGES // self.options.batch_size) * self.options.batch_size  # whole batches
        statistics = fid.RunningStatistics() if "fid-statistics" in wanted else None
        kept = {kind: [] for kind in wanted if kind != "fid-statistics"}
        for start in range(0, count, step):
            stop = min(start + step, count)
            features = self.features_of(net, lambda a, b, s=start: fetch(s + a, s + b), stop - start)
            if statistics is not None:
                statistics.update(features)
            for kind, rows in kept.items():
                selection = self._selection(kind, count)
                if selection is None:
                    rows.append(features)
                else:
                    inside = selection[(selection >= start) & (selection < stop)]
                    rows.append(features[inside - start])
        out = {kind: {"features": np.concatenate(rows)} for kind, rows in kept.items()}
        if statistics is not None:
            mean, cov = statistics.mean_cov()
            out["fid-statistics"] = {"mean": mean, "cov": cov}
        return out
