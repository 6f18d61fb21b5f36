"""How metrics are evaluated (MetricOptions), which network each metric uses, and which reals it takes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from common.options import Options, check_choice
from harness.metrics import ppl
from harness.metrics.features import FEATURE_NETWORKS, resolve_auto
from harness.metrics.metric import METRICS
from harness.metrics.pr import Precision
from variants.layers import NoiseMode

DEFAULT_NUM_SAMPLES = 50_000


def feature_choices() -> tuple[str, ...]:
    """What `features` may name: 'auto' or a registered feature network."""
    return ("auto", *FEATURE_NETWORKS.names())


@dataclass(frozen=True, kw_only=True)
class MetricOptions(Options):
    """How metrics are evaluated (each line is also the help of the `metrics` flag of that name).

    num_samples: generated samples per evaluation (50000 at paper scale).
    num_real: reals: the first N in the dataset's order (default: num_samples, capped at the
        dataset, the paper's fid50k), or 'all' (fid50k_full).
    repeats: evaluations with different seeds (mean, std).
    seed: first seed (sample i of repeat r: seed + r*N + i).
    batch_size: images per batch of the generator and the feature network.
    features: feature network; auto = published file if cached, else efficientnet-lite0.
    weights_dir: folder of published weight files (default $HARNESS_WEIGHTS_DIR or
        ~/.cache/stylegan2-ablations/weights).
    feature_input_size: resize images to this side for the feature network (recorded with the
        numbers).
    device: cpu, cuda, cuda:1, or auto (cuda if available).
    cache_dir: real-feature cache root (default $HARNESS_CACHE_DIR).
    noise_mode: the generator's noise inputs for the samples of FID, KID and precision/recall.
    ppl_noise: PPL noise inputs: fresh per batch (official), frozen, or none.
    kid_subsets: KID's random subsets (StyleGAN2-ADA's protocol: 100).
    kid_subset_size: KID's largest subset (1000).
    kid_real_cap: the most real features KID keeps (default kid_subsets * kid_subset_size, the most
        its subsets can touch); above it KID draws from a seeded uniform sample of that many.
    pr_k: precision/recall's neighbour k (3).
    pr_precision: precision/recall arithmetic: official (the paper's float16) or exact (float64).
    ppl_epsilon: PPL's step along the path in W.
    download: fetch published weight files that are not cached.
    progress: show progress bars.
    """

    num_samples: int = DEFAULT_NUM_SAMPLES
    num_real: int | Literal["all"] | None = None
    repeats: int = 1
    seed: int = 0
    batch_size: int = 32
    features: str = "auto"
    weights_dir: Path | str | None = None
    feature_input_size: int | None = None
    device: str = "cpu"
    cache_dir: Path | str | None = None
    noise_mode: NoiseMode = "random"
    ppl_noise: ppl.PplNoise = "fresh"
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_real_cap: int | None = None
    pr_k: int = 3
    pr_precision: Precision = "official"
    ppl_epsilon: float = ppl.PPL_EPSILON
    download: bool = True
    progress: bool = False

    def validate(self) -> None:
        check_choice("features", self.features, feature_choices())
        for field in ("num_samples", "repeats", "batch_size", "kid_subsets", "kid_subset_size", "pr_k"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")
        if isinstance(self.num_real, int) and self.num_real < 2:
            raise ValueError(f"num_real must be an integer >= 2 or 'all', got {self.num_real!r}")

    @property
    def kid_cap(self) -> int:
        return self.kid_real_cap or self.kid_subsets * self.kid_subset_size

    def on_device(self) -> MetricOptions:
        """These options with device 'auto' resolved: cuda when available, else cpu."""
        if self.device != "auto":
            return self
        import torch

        return self.replace(device="cuda" if torch.cuda.is_available() else "cpu")


def published_networks() -> dict[str, str]:
    """metric -> the network its published numbers were computed with."""
    return {name: METRICS.get(name).features for name in METRICS}


def network_for(metric: str, options: MetricOptions) -> str:
    """The network `metric` uses under `options.features`: 'auto' -> published if cached, else the
    offline default; a perceptual metric (PPL) given a published feature network takes its own
    published network (LPIPS)."""
    spec = METRICS.get(metric)
    if options.features == "auto":
        return resolve_auto(spec.features, options.weights_dir)
    published = {METRICS.get(name).features for name in METRICS if not METRICS.get(name).perceptual}
    if spec.perceptual and options.features in published:
        return spec.features
    return options.features


def real_samples(metric: str, options: MetricOptions, dataset_size: int) -> tuple[int, str]:
    """(how many reals `metric` takes, 'first' or 'all'): always the first ones in the dataset's order,
    never a shuffle (official: TF StyleGAN2 metrics/metric_base.py sets shuffle_mb=0 and FID/PR read
    the first num_images; stylegan2-ada-pytorch metrics/metric_utils.py reads items 0..max_items-1)."""
    if options.num_real == "all":
        count = dataset_size
    elif options.num_real is None:
        count = min(options.num_samples, dataset_size)
    elif options.num_real > dataset_size:
        raise ValueError(f"num_real={options.num_real} but the dataset has {dataset_size} images; "
                         f"use --num-real {dataset_size} or --num-real all")
    else:
        count = options.num_real
    max_real = METRICS.get(metric).max_real
    if max_real is not None:
        count = min(count, max_real)
    return count, "all" if count == dataset_size else "first"
