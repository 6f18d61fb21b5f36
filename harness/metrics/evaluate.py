"""Evaluate a generator against real images: one row per metric that records how it was computed.

Protocol (SPEC section 4): generated images come from G_ema with truncation psi = 1; sample i of repeat
r uses the latent drawn from seed `seed + r * num_samples + i` (so every variant sees the same latents);
images are quantised to uint8 as x * 127.5 + 128, clamped (official: stylegan2-ada-pytorch
metrics/metric_utils.py, run_generator); reals are the first N in the dataset's order (real.py). Each
metric is computed `repeats` times with disjoint seeds and recorded as mean and standard deviation.

Under torchrun (or in any initialised process group) batch b of generated or real images is computed
on rank b % world_size and the rows are gathered in order, so every rank ends with exactly the
features one process computes (the batches, and their noise seeds, are the same).
"""

import datetime
import time

import numpy as np
import torch

from harness.metrics import fid, kid, ppl, pr  # noqa: F401 (each registers its metric)
from harness.metrics.features import load_feature_network, load_perceptual_distance
from harness.metrics.features.base import compute_features
from harness.metrics.metric import check_metrics, get_metric, summary
from harness.metrics.options import MetricOptions, network_for, real_samples
from harness.metrics.real import RealFeatures, dataset_images

NOT_COMPARABLE = "not comparable to published values"
APPROXIMATELY_COMPARABLE = "approximately comparable to published values"
SEED_SCHEME = "sample i of repeat r uses seed seeds[r] + i (per-sample torch.Generator)"


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Generator output [N, C, H, W] in about [-1, 1] -> uint8 0..255 as x * 127.5 + 128, clamped."""
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def generated_images(G, seeds: range, *, device, noise_mode: str):
    """A `fetch(start, stop) -> uint8 [B, C, H, W]` over the images of `seeds`. Noise inputs (when
    noise_mode='random') draw from the global RNG seeded from the batch's first seed (a stream apart
    from the latents'), then restored."""
    device = torch.device(device)

    @torch.no_grad()
    def fetch(start: int, stop: int) -> torch.Tensor:
        z = ppl.sample_latents(seeds[start:stop], G.z_dim)[:, 0].to(device)
        cuda_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(ppl.noise_seed(seeds[start]))
            images = G.synthesis(G.mapping(z, psi=1.0), noise_mode=noise_mode)
        return quantize(images.float())

    return fetch


def comparability_label(level: str) -> str | None:
    """The row's `label`: None when comparable, else what the report shows beside the number."""
    labels = {"comparable": None, "approximately comparable": APPROXIMATELY_COMPARABLE}
    return labels.get(level, NOT_COMPARABLE)


class Evaluator:
    """One evaluation session: loads each network once, shares real and generated features across
    metrics. `G` may be set after construction (rows can be planned before the generator is loaded)."""

    def __init__(self, G, dataset, options: MetricOptions, metrics):
        from harness.distributed import current

        self.G, self.dataset, self.options = G, dataset, options
        self.dist = current(options.device)
        self.networks: dict[tuple[str, bool], torch.nn.Module] = {}
        self.fake: dict[tuple, np.ndarray] = {}
        self.dataset_size = len(dataset_images(dataset))
        self.real = RealFeatures(dataset, options, self.dist, self._features, metrics, self.metric_network)

    def seeds(self, repeat: int) -> range:
        first = self.options.seed + repeat * self.options.num_samples
        return range(first, first + self.options.num_samples)

    def metric_network(self, metric: str):
        """The (loaded once) feature network, or perceptual distance for PPL, of `metric`."""
        o, name, perceptual = self.options, network_for(metric, self.options), get_metric(metric).perceptual
        if (name, perceptual) not in self.networks:
            if perceptual:
                net = load_perceptual_distance(name, cache_dir=o.weights_dir, device=o.device,
                                               download=o.download)
            else:
                net = load_feature_network(name, cache_dir=o.weights_dir, device=o.device,
                                           input_size=o.feature_input_size, download=o.download)
            self.networks[(name, perceptual)] = net
        return self.networks[(name, perceptual)]

    def _features(self, net, fetch, num_images: int) -> np.ndarray:
        """Features [num_images, D] of `fetch(start, stop)`; batches shared out over ranks when several."""
        o = self.options
        if not self.dist.active:
            return compute_features(net, fetch, num_images=num_images, batch_size=o.batch_size,
                                    device=o.device, progress=o.progress)
        batch_features = lambda start, stop: compute_features(
            net, lambda a, b: fetch(start + a, start + b), num_images=stop - start, batch_size=o.batch_size,
            device=o.device)
        return self.dist.gather_batches(batch_features, num_images, o.batch_size,
                                        row_shape=(net.feature_dim,))

    def fake_features(self, net, repeat: int) -> np.ndarray:
        key = (net.name, repeat)
        if key not in self.fake:
            o = self.options
            fetch = generated_images(self.G, self.seeds(repeat), device=o.device, noise_mode=o.noise_mode)
            self.fake[key] = self._features(net, fetch, o.num_samples)
        return self.fake[key]

    def planned(self, metric: str) -> dict:
        """The fields of `metric`'s row known before computing it: everything its key is made of."""
        o, net, spec = self.options, self.metric_network(metric), get_metric(metric)
        row = {"metric": metric, "reports": list(spec.reports or (metric,)), "repeats": o.repeats,
               "num_samples": o.num_samples,
               "seeds": [self.seeds(r).start for r in range(o.repeats)], "seed_scheme": SEED_SCHEME,
               **net.provenance(), "label": comparability_label(net.comparability)}
        count = None
        if not spec.perceptual:
            count, rule = real_samples(metric, o, self.dataset_size)
            row.update(real_samples=count, real_rule=rule, num_real=count, noise_mode=o.noise_mode)
        protocol = spec.protocol(o, count)
        return {**row, **protocol, "protocol_fields": sorted(protocol)}  # rows.metric_row_key keys them

    def evaluate(self, metric: str) -> dict:
        started = time.perf_counter()
        row, spec = self.planned(metric), get_metric(metric)
        net = self.metric_network(metric)
        count = row.get("real_samples")
        runs = [spec.repeat(self, net, repeat, count) for repeat in range(self.options.repeats)]
        row.update(summary([run["value"] for run in runs]))
        spec.finish(row, runs)
        row.update(device=str(self.options.device), time=datetime.datetime.now(datetime.UTC).isoformat(),
                   seconds=time.perf_counter() - started)
        return row


def evaluate_many(G, dataset, metrics, options: MetricOptions | None = None) -> list[dict]:
    """Rows for `metrics` of generator G against `dataset` (an ImageDataset, or uint8 [N, C, H, W]).

    The PPL row carries `per_sample_distances` [repeats, num_samples] (a numpy array) for Figure 5.
    """
    metrics = check_metrics(metrics)
    options = (options or MetricOptions()).on_device()
    G = G.eval().requires_grad_(False).to(options.device)
    evaluator = Evaluator(G, dataset, options, metrics)
    return [evaluator.evaluate(metric) for metric in metrics]


def evaluate(G, dataset, metric: str, options: MetricOptions | None = None) -> dict:
    """One metric's row for generator G against `dataset` (see evaluate_many)."""
    return evaluate_many(G, dataset, [metric], options)[0]
