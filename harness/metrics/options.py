"""How metrics are evaluated (MetricOptions), which network each metric uses, and which reals it takes."""

from dataclasses import dataclass

from harness.metrics import ppl
from harness.metrics.features import resolve_auto
from harness.metrics.pr import PRECISIONS

METRICS = ("fid", "kid", "pr", "ppl")
# The network each metric's published numbers were computed with.
PUBLISHED_NETWORKS = {"fid": "inception", "kid": "inception", "pr": "vgg16", "ppl": "lpips-vgg16"}
FEATURE_CHOICES = ("auto", "inception", "vgg16", "efficientnet-lite0", "random")
DEFAULT_NUM_SAMPLES = 50_000
# official: stylegan2-ada-pytorch metrics/metric_main.py, pr50k3_full reads at most 200,000 reals.
PR_MAX_REAL = 200_000


@dataclass(frozen=True, kw_only=True)
class MetricOptions:
    """How metrics are evaluated.

    `num_real`: None = the first num_samples reals in the dataset's order, capped at its size (the
    paper's fid50k); an int = the first that many; 'all' = the whole set (fid50k_full).
    `pr_precision`: 'official' (the TF StyleGAN2 float16 arithmetic) or 'exact' (float64).
    `ppl_noise`: 'fresh' (new noise maps per batch, the official protocol), 'frozen' or 'none'.
    `kid_real_cap`: the most real features KID keeps (default kid_subsets * kid_subset_size, the most
    its subsets can touch); above it KID draws from a seeded uniform sample of that many.
    """

    num_samples: int = DEFAULT_NUM_SAMPLES
    num_real: int | str | None = None
    repeats: int = 1
    seed: int = 0
    batch_size: int = 32
    features: str = "auto"
    weights_dir: str | None = None
    feature_input_size: int | None = None
    device: str = "cpu"
    cache_dir: str | None = None
    noise_mode: str = "random"
    ppl_noise: str = "fresh"
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_real_cap: int | None = None
    pr_k: int = 3
    pr_precision: str = "official"
    ppl_epsilon: float = ppl.PPL_EPSILON
    download: bool = True
    progress: bool = False

    def __post_init__(self):
        if self.features not in FEATURE_CHOICES:
            raise ValueError(f"features must be one of {FEATURE_CHOICES}, got {self.features!r}")
        for field in ("num_samples", "repeats", "batch_size", "kid_subsets", "kid_subset_size", "pr_k"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")
        if self.noise_mode not in ("random", "const", "none"):
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {self.noise_mode!r}")
        if self.ppl_noise not in ppl.NOISE_CHOICES:
            raise ValueError(f"ppl_noise must be one of {ppl.NOISE_CHOICES}, got {self.ppl_noise!r}")
        if self.pr_precision not in PRECISIONS:
            raise ValueError(f"pr_precision must be one of {PRECISIONS}, got {self.pr_precision!r}")
        if not (self.num_real is None or self.num_real == "all"
                or (isinstance(self.num_real, int) and self.num_real >= 2)):
            raise ValueError(f"num_real must be an integer >= 2 or 'all', got {self.num_real!r}")

    @property
    def kid_cap(self) -> int:
        return self.kid_real_cap or self.kid_subsets * self.kid_subset_size


def network_for(metric: str, options: MetricOptions) -> str:
    """The network `metric` uses under `options.features`: 'auto' -> published if cached, else the
    offline default; an explicit published name means the published network of that metric for PPL."""
    if options.features == "auto":
        return resolve_auto(PUBLISHED_NETWORKS[metric], options.weights_dir)
    if metric == "ppl" and options.features in ("inception", "vgg16"):
        return "lpips-vgg16"
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
    if metric == "pr":
        count = min(count, PR_MAX_REAL)
    return count, "all" if count == dataset_size else "first"
