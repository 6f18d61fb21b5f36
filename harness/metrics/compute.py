"""Evaluate a generator against real images (`evaluate`), and a run directory's snapshot (`compute`).

Protocol (SPEC section 4): generated images come from G_ema with truncation psi = 1; sample i of repeat
r uses the latent drawn from seed `seed + r * num_samples + i` (so every variant sees the same latents);
images are quantised to uint8 as x * 127.5 + 128, clamped; real features are cached on disk. Each
metric is computed `repeats` times with disjoint seeds and recorded as mean and standard deviation.
Numbers from any network but the published files are labelled "not comparable to published values".

Under torchrun (or in any initialised process group) batch b of generated or real images is computed
on rank b % world_size and the rows are gathered in order, so every rank ends with exactly the
features one process computes (the batches, and their noise seeds, are the same); only rank 0
writes files.
"""

import datetime
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from harness.io import read_jsonl, write_bytes_atomic, write_jsonl_atomic
from harness.metrics import fid, kid, ppl, pr
from harness.metrics.cache import cache_key, cached_features
from harness.metrics.features import (
    load_feature_network,
    load_perceptual_distance,
    resolve_auto,
)
from harness.metrics.features.base import compute_features

METRICS = ("fid", "kid", "pr", "ppl")
# The network each metric's published numbers were computed with.
PUBLISHED_NETWORKS = {"fid": "inception", "kid": "inception", "pr": "vgg16", "ppl": "lpips-vgg16"}
FEATURE_CHOICES = ("auto", "inception", "vgg16", "efficientnet-lite0", "random")
DEFAULT_NUM_SAMPLES = 50_000
NOT_COMPARABLE = "not comparable to published values"
SEED_SCHEME = "sample i of repeat r uses seed seeds[r] + i (per-sample torch.Generator)"


@dataclass(frozen=True, kw_only=True)
class MetricOptions:
    """How metrics are evaluated. `num_real` None: the whole set for FID/KID, num_samples for P/R."""

    num_samples: int = DEFAULT_NUM_SAMPLES
    num_real: int | None = None
    repeats: int = 1
    seed: int = 0
    batch_size: int = 32
    features: str = "auto"
    weights_dir: str | None = None
    feature_input_size: int | None = None
    device: str = "cpu"
    cache_dir: str | None = None
    noise_mode: str = "random"
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3
    ppl_epsilon: float = ppl.PPL_EPSILON
    download: bool = True
    progress: bool = False

    def __post_init__(self):
        if self.features not in FEATURE_CHOICES:
            raise ValueError(f"features must be one of {FEATURE_CHOICES}, got {self.features!r}")
        for field in ("num_samples", "repeats", "batch_size"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")
        if self.noise_mode not in ("random", "const", "none"):
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {self.noise_mode!r}")


def network_for(metric: str, options: MetricOptions) -> str:
    """The network `metric` uses under `options.features`: 'auto' -> published if cached, else the
    offline default; an explicit published name means the published network of that metric for PPL."""
    if options.features == "auto":
        return resolve_auto(PUBLISHED_NETWORKS[metric], options.weights_dir)
    if metric == "ppl" and options.features in ("inception", "vgg16"):
        return "lpips-vgg16"
    return options.features


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Generator output [N, 3, H, W] in about [-1, 1] -> uint8 0..255 as x * 127.5 + 128, clamped."""
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def generated_images(G, seeds: range, *, device, noise_mode: str):
    """A `fetch(start, stop) -> uint8 [B, 3, H, W]` over the images of `seeds`. Noise inputs (when
    noise_mode='random') draw from the global RNG seeded with the batch's first seed, then restored."""
    device = torch.device(device)

    @torch.no_grad()
    def fetch(start: int, stop: int) -> torch.Tensor:
        z = ppl.sample_latents(seeds[start:stop], G.z_dim)[:, 0].to(device)
        cuda_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seeds[start])
            images = G.synthesis(G.mapping(z, psi=1.0), noise_mode=noise_mode)
        return quantize(images.float())

    return fetch


def _real_images(dataset, num_real: int):
    """(fetch over the first `num_real` of a fixed shuffle (seed 0), content hash or None, resolution)."""
    images = dataset.images if hasattr(dataset, "images") else dataset
    info = getattr(dataset, "info", None)
    total = len(images)
    if num_real > total:
        raise ValueError(f"asked for {num_real} real images but the dataset has {total}")
    order = np.arange(total) if num_real == total else np.sort(
        np.random.default_rng(0).choice(total, num_real, replace=False))
    fetch = lambda start, stop: torch.as_tensor(np.asarray(images[order[start:stop]]))
    return fetch, getattr(info, "content_hash", None), images.shape[-1]


class _Evaluator:
    """One evaluation session: loads each network once and reuses features across metrics."""

    def __init__(self, G, dataset, options: MetricOptions):
        from harness.train.distributed import current

        self.G, self.dataset, self.options = G, dataset, options
        self.dist = current(options.device)
        self.networks: dict[tuple[str, bool], torch.nn.Module] = {}
        self.real: dict[tuple, np.ndarray] = {}
        self.real_statistics: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # FID's mu, sigma per real set
        self.fake: dict[tuple, np.ndarray] = {}

    def seeds(self, repeat: int) -> range:
        first = self.options.seed + repeat * self.options.num_samples
        return range(first, first + self.options.num_samples)

    def network(self, name: str, perceptual: bool):
        o = self.options
        key = (name, perceptual)
        if key not in self.networks:
            if perceptual:
                net = load_perceptual_distance(name, cache_dir=o.weights_dir, device=o.device,
                                               download=o.download)
            else:
                net = load_feature_network(name, cache_dir=o.weights_dir, device=o.device,
                                           input_size=o.feature_input_size, download=o.download)
            self.networks[key] = net
        return self.networks[key]

    def real_features(self, net, num_real: int) -> np.ndarray:
        key = (net.name, num_real)
        if key not in self.real:
            fetch, content_hash, resolution = _real_images(self.dataset, num_real)
            compute = lambda: self._features(net, fetch, num_real)
            if content_hash is None:
                self.real[key] = compute()
            else:
                cache = cache_key(content_hash=content_hash, resolution=resolution, network=net.provenance(),
                                  num_images=num_real)
                self.real[key] = self._cached(cache, compute, (num_real, net.feature_dim))
        return self.real[key]

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

    def _cached(self, key: dict, compute, shape: tuple[int, int]) -> np.ndarray:
        """cached_features; with several ranks rank 0's cache decides: on a miss every rank computes its
        share, on a hit rank 0 broadcasts the features (caches on other nodes may differ)."""
        dist = self.dist
        if not dist.active:
            return cached_features(key, compute, self.options.cache_dir)[0]
        if dist.is_main:
            def announce_and_compute():
                dist.broadcast_(torch.ones(1))
                return compute()

            features, was_cached = cached_features(key, announce_and_compute, self.options.cache_dir)
            if was_cached:
                dist.broadcast_(torch.zeros(1))
                dist.broadcast_(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)))
            return features
        if dist.broadcast_(torch.zeros(1)).item():
            return compute()
        return dist.broadcast_(torch.empty(shape, dtype=torch.float32)).numpy()

    def fake_features(self, net, repeat: int) -> np.ndarray:
        key = (net.name, repeat)
        if key not in self.fake:
            o = self.options
            fetch = generated_images(self.G, self.seeds(repeat), device=o.device, noise_mode=o.noise_mode)
            self.fake[key] = self._features(net, fetch, o.num_samples)
        return self.fake[key]

    def one_repeat(self, metric: str, net, repeat: int) -> dict:
        """{'value': float, ...} of one repeat of `metric`."""
        o = self.options
        if metric == "ppl":
            seeds = self.seeds(repeat)
            batch_lengths = lambda start, stop: ppl.path_lengths(
                self.G, net, seeds=seeds[start:stop], epsilon=o.ppl_epsilon, batch_size=o.batch_size,
                device=o.device)
            distances = self.dist.gather_batches(batch_lengths, len(seeds), o.batch_size, dtype=np.float64)
            return {"value": ppl.filtered_mean(distances), "distances": distances}
        total = len(self.dataset.images if hasattr(self.dataset, "images") else self.dataset)
        num_real = o.num_real or (min(total, o.num_samples) if metric == "pr" else total)
        real, fake = self.real_features(net, num_real), self.fake_features(net, repeat)
        if metric == "fid":
            key = (net.name, num_real)
            if key not in self.real_statistics:  # once per evaluation, not once per repeat
                self.real_statistics[key] = fid.feature_statistics(real)
            value = fid.frechet_distance(*self.real_statistics[key], *fid.feature_statistics(fake))
            return {"value": value, "num_real": num_real}
        if metric == "kid":
            value = kid.kernel_inception_distance(real, fake, num_subsets=o.kid_subsets,
                                                  max_subset_size=o.kid_subset_size, seed=o.seed + repeat)
            return {"value": value, "num_real": num_real}
        precision, recall = pr.precision_recall(real, fake, k=o.pr_k, device=o.device)
        return {"value": precision, "precision": precision, "recall": recall, "num_real": num_real}

    def evaluate(self, metric: str) -> dict:
        started = time.perf_counter()
        net = self.network(network_for(metric, self.options), perceptual=metric == "ppl")
        runs = [self.one_repeat(metric, net, repeat) for repeat in range(self.options.repeats)]
        row = {"metric": metric, **_summary([run["value"] for run in runs])}
        if metric == "pr":
            for part in ("precision", "recall"):
                stats = _summary([run[part] for run in runs])
                row.update({part: stats["value"], f"{part}_std": stats["std"],
                            f"{part}_values": stats["values"]})
        row.update({
            "repeats": self.options.repeats, "num_samples": self.options.num_samples,
            "num_real": runs[0].get("num_real"), "seeds": [self.seeds(r).start for r in range(len(runs))],
            "seed_scheme": SEED_SCHEME, **net.provenance(),
            "label": None if net.comparable_to_published else NOT_COMPARABLE,
            "device": str(self.options.device), "time": datetime.datetime.now(datetime.UTC).isoformat(),
            "seconds": time.perf_counter() - started,
        })
        if metric == "ppl":
            row["per_sample_distances"] = np.stack([run["distances"] for run in runs])
        return row


def _summary(values: list[float]) -> dict:
    """Mean, sample standard deviation (None for one value) and the values."""
    values = [float(v) for v in values]
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return {"value": float(np.mean(values)), "std": std, "values": values}


def evaluate_many(G, dataset, metrics, options: MetricOptions | None = None) -> list[dict]:
    """Rows for `metrics` of generator G against `dataset` (an ImageDataset, or uint8 [N, 3, H, W]).

    The PPL row carries `per_sample_distances` [repeats, num_samples] (a numpy array) for Figure 5.
    """
    unknown = [metric for metric in metrics if metric not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    options = options or MetricOptions()
    G = G.eval().requires_grad_(False).to(options.device)
    evaluator = _Evaluator(G, dataset, options)
    return [evaluator.evaluate(metric) for metric in metrics]


def evaluate(G, dataset, metric: str, options: MetricOptions | None = None) -> dict:
    """One metric's row for generator G against `dataset` (see evaluate_many)."""
    return evaluate_many(G, dataset, [metric], options)[0]



def find_snapshot(run_dir: Path, kimg: float | None = None) -> tuple[float, Path]:
    """(kimg, path without extension) of the latest snapshot in `<run>/snapshots`, or of `kimg`.

    Snapshots are named by images shown (kimg * 1000, six digits, as harness.train writes them), so
    0.5 kimg is `000500`.
    """
    shown = sorted(int(p.stem) for p in (run_dir / "snapshots").glob("*.safetensors") if p.stem.isdigit())
    if not shown:
        raise FileNotFoundError(f"no snapshots in {run_dir / 'snapshots'} (train the run first)")
    images = shown[-1] if kimg is None else round(kimg * 1000)
    if images not in shown:
        raise ValueError(f"snapshot {kimg} kimg not in {run_dir / 'snapshots'}; available (kimg): "
                         f"{[n / 1000 for n in shown]}")
    return images / 1000, run_dir / "snapshots" / f"{images:06d}"


def _load_generator(path: Path):
    import variants

    return variants.load_network(path)


def _open_run_dataset(run_dir: Path, open_dataset=None):
    """The run's real images: `data` from options.json at `resolution` from config.json."""
    if open_dataset is None:
        from harness.data import open_dataset
    options = json.loads((run_dir / "options.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    return open_dataset(options["data"], config["resolution"])


def _save_distances(run_dir: Path, row: dict, kimg: float) -> str:
    """Write a PPL row's per-sample distances [repeats, N] as .npy in the run dir; returns the file name."""
    stamp = row["time"].replace(":", "").replace("-", "").split(".")[0]
    name = f"ppl_distances_{round(kimg * 1000):06d}_{stamp}.npy"
    buffer = io.BytesIO()
    np.save(buffer, row.pop("per_sample_distances").astype(np.float32), allow_pickle=False)
    write_bytes_atomic(run_dir / name, buffer.getvalue())
    return name


def compute(
    run_dir, metrics=("fid",), *, snapshot: float | None = None, num_samples: int | None = None,
    repeats: int = 1, features: str = "auto", device: str | None = None, weights_dir: str | None = None,
    feature_input_size: int | None = None, num_real: int | None = None, seed: int = 0, batch_size: int = 32,
    cache_dir: str | None = None, progress: bool = False, kid_subsets: int = 100, load_generator=None,
    open_dataset=None,
) -> list[dict]:
    """Evaluate `metrics` ('fid', 'kid', 'pr', 'ppl'; a list or 'fid,kid') on the run's G_ema snapshot
    (latest, or `snapshot` kimg) and append one row per metric to `<run>/metrics.jsonl` atomically.

    The other arguments are MetricOptions fields; `load_generator(path)` and `open_dataset(source,
    resolution)` replace variants.load_network and harness.data.open_dataset (tests). Under torchrun
    every rank computes its share and returns the rows; rank 0 writes them.
    """
    from harness.train.distributed import process_group

    run_dir = Path(run_dir)
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    kimg, snapshot_path = find_snapshot(run_dir, snapshot)
    requested = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    with process_group(requested) as dist:
        options = MetricOptions(
            num_samples=num_samples or DEFAULT_NUM_SAMPLES, repeats=repeats, features=features,
            device=str(dist.device), weights_dir=weights_dir, feature_input_size=feature_input_size,
            num_real=num_real, seed=seed, batch_size=batch_size, cache_dir=cache_dir,
            progress=progress and dist.is_main, kid_subsets=kid_subsets,
        )
        dataset = _open_run_dataset(run_dir, open_dataset)
        G = (load_generator or _load_generator)(snapshot_path)
        rows = evaluate_many(G, dataset, metrics, options)
        if dist.is_main:
            _append_rows(run_dir, rows, kimg, dataset)
        dist.barrier("writing the metrics")  # no rank reads metrics.jsonl before rank 0 has written it
    return rows


def _append_rows(run_dir: Path, rows: list[dict], kimg: float, dataset) -> None:
    """Add the snapshot, dataset hash and distances file to `rows` and append them to metrics.jsonl."""
    for row in rows:
        row["snapshot_kimg"] = kimg
        row["dataset_hash"] = getattr(getattr(dataset, "info", None), "content_hash", None)
        if "per_sample_distances" in row:
            row["distances_file"] = _save_distances(run_dir, row, kimg)
    metrics_path = run_dir / "metrics.jsonl"
    existing = read_jsonl(metrics_path) if metrics_path.exists() else []
    write_jsonl_atomic(metrics_path, existing + rows)
