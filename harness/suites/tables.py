"""The paper's suites as data: which configuration fills which cell of which table.

A suite is a list of cells (table, row, column) -> (config name, dataset column), with the number
of metric evaluations its table averages. Runs are keyed by (config, dataset column, training
seed), so a run that several tables need (config E on FFHQ appears in Table 1, Table 2 and
Figure 8) is trained once per seed. Dataset columns are the paper's datasets; `DATASET_SETTINGS`
holds what the official training commands set per dataset (length, x-flips, R1 gamma); the scale
preset maps each column to a real source (user data, or a built-in stand-in at CPU scales).
"""

from dataclasses import dataclass, field

FFHQ, CAR, CAT, CHURCH, HORSE = "FFHQ", "LSUN Car", "LSUN Cat", "LSUN Church", "LSUN Horse"
DATASET_COLUMNS = (FFHQ, CAR, CAT, CHURCH, HORSE)


@dataclass(frozen=True, kw_only=True)
class DatasetSettings:
    """What the official commands set for one of the paper's datasets.

    kimg: training length (thousands of real images shown to D); xflip: mirrored copies added to
    the data (`--mirror-augment=true`); config_overrides: config name -> variants.Config fields that
    differ on this dataset; source: the command (or code) each value comes from.
    """

    kimg: int
    xflip: bool = False
    config_overrides: dict[str, dict[str, float]] = field(default_factory=dict)
    source: str


_STYLEGAN2_README = "NVlabs/stylegan2 README.md, 'Training networks' (config F, Tables 1 and 3): "
DATASET_SETTINGS: dict[str, DatasetSettings] = {
    # FFHQ is mirrored for every config: StyleGAN's train.py (config A) sets mirror_augment=True for
    # ffhq and False for the LSUN sets; run_training.py's default total_kimg is 25000. Gamma 100 is
    # config F's alone: StyleGAN (Table 3's config A) keeps its r1_gamma of 10 on every dataset.
    FFHQ: DatasetSettings(kimg=25000, xflip=True, source=_STYLEGAN2_README + "run_training.py "
                          "--config=config-f --dataset=ffhq --mirror-augment=true (total_kimg: its default "
                          "25000); NVlabs/stylegan train.py: ffhq with train.mirror_augment = True"),
    CAR: DatasetSettings(kimg=57000, source=_STYLEGAN2_README + "run_training.py --config=config-f "
                         "--dataset=car --total-kimg=57000"),
    CAT: DatasetSettings(kimg=88000, source=_STYLEGAN2_README + "run_training.py --config=config-f "
                         "--dataset=cat --total-kimg=88000"),
    CHURCH: DatasetSettings(kimg=88000, config_overrides={"F": {"r1_gamma": 100.0}},
                            source=_STYLEGAN2_README + "run_training.py --config=config-f --dataset=church "
                            "--total-kimg 88000 --gamma=100"),
    HORSE: DatasetSettings(kimg=100000, config_overrides={"F": {"r1_gamma": 100.0}},
                           source=_STYLEGAN2_README + "run_training.py --config=config-f --dataset=horse "
                           "--total-kimg 100000 --gamma=100"),
}

# Table 2's row and column labels, as printed in the paper, and the registry names they use.
TABLE2_G = {"G original": "original", "G output skips": "skip", "G residual": "residual"}
TABLE2_D = {"D original": "original", "D input skips": "skip", "D residual": "residual"}


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One measured cell: `row` x `column` of `table`, filled by `config` trained on `dataset`."""

    table: str
    row: str
    column: str
    config: str
    dataset: str  # one of DATASET_COLUMNS


@dataclass(frozen=True, kw_only=True)
class Suite:
    """The cells of one table or figure; `evaluations`: how many metric evaluations (different
    sampling seeds) the paper averaged per reported number, and `evaluations_source` says where."""

    name: str
    description: str
    cells: tuple[Cell, ...]
    evaluations: int
    evaluations_source: str

    def runs(self) -> tuple[tuple[str, str], ...]:
        """Unique (config, dataset column) pairs in first-use order."""
        return tuple(dict.fromkeys((cell.config, cell.dataset) for cell in self.cells))


_PAPER = "../shared/paper/slides-with-tables.txt"


def _table1() -> Suite:
    rows = ("A", "B", "C", "D", "E", "F", "A-large")
    cells = tuple(
        Cell(table="table1", row=row, column=dataset, config=row, dataset=dataset)
        for dataset in (FFHQ, CAR)
        for row in rows
        if not (row == "A-large" and dataset == CAR)  # the paper has no A-large Car run
    )
    return Suite(name="table1", description="Table 1: configurations A-F and A-large", cells=cells,
                 evaluations=10, evaluations_source=f"Table 1 caption ({_PAPER}): 'We computed each "
                 "metric 10 times with different random seeds and report their average'")


def _table2_config(g_arch: str, d_arch: str) -> str:
    # Table 2 varies the architectures of config E; its skip/residual cell is config E itself
    # (the paper's numbers agree: 3.31 / 125 vs 3.31 / 124.5), so that run is shared.
    return "E" if (g_arch, d_arch) == ("skip", "residual") else f"G-{g_arch}/D-{d_arch}"


def _table2() -> Suite:
    cells = tuple(
        Cell(
            table="table2",
            row=g_label,
            column=f"{dataset} / {d_label}",
            config=_table2_config(g_arch, d_arch),
            dataset=dataset,
        )
        for dataset in (FFHQ, CAR)
        for g_label, g_arch in TABLE2_G.items()
        for d_label, d_arch in TABLE2_D.items()
    )
    return Suite(name="table2", description="Table 2: G x D architectures without growing", cells=cells,
                 evaluations=1, evaluations_source=f"Table 2 caption ({_PAPER}) gives no repeat count, "
                 "unlike Table 1's: a single evaluation")


def _table3() -> Suite:
    models = {"StyleGAN": "A", "StyleGAN2": "F"}
    cells = tuple(
        Cell(table="table3", row=model, column=dataset, config=config, dataset=dataset)
        for model, config in models.items()
        for dataset in (CAR, CAT, CHURCH, HORSE)
    )
    return Suite(name="table3", description="Table 3: StyleGAN vs StyleGAN2 on LSUN", cells=cells,
                 evaluations=1, evaluations_source="Table 3 (paper Section 4.2; text in "
                 "../shared/paper/) gives no repeat count, unlike Table 1's: a single evaluation")


def _figure8() -> Suite:
    cells = tuple(
        Cell(table="figure8", row=f"({panel}) config {config}", column=FFHQ, config=config, dataset=FFHQ)
        for panel, config in (("a", "E"), ("b", "F"))
    )
    return Suite(
        name="figure8", description="Figure 8: per-resolution ToRGB shares over training", cells=cells,
        evaluations=1, evaluations_source="Figure 8 plots ToRGB shares during training, no metric: one "
        "evaluation (its runs are Table 1's, which measure more)",
    )


SUITES: dict[str, Suite] = {suite.name: suite for suite in (_table1(), _table2(), _table3(), _figure8())}


def get_suites(name: str) -> tuple[Suite, ...]:
    """`name` is a suite name or 'all'; an unknown name lists the known ones."""
    if name == "all":
        return tuple(SUITES.values())
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; known suites: all, {', '.join(SUITES)}")
    return (SUITES[name],)


def dataset_slug(dataset: str) -> str:
    """'LSUN Car' -> 'lsun-car'."""
    return dataset.lower().replace(" ", "-")


def run_id(config: str, dataset: str, seed: int) -> str:
    """Folder-safe run id: ('G-skip/D-residual', 'LSUN Car', 2) -> 'G-skip_D-residual__lsun-car__seed2'."""
    return f"{config.replace('/', '_')}__{dataset_slug(dataset)}__seed{seed}"
