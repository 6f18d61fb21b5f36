"""The paper's suites as data: which configuration fills which cell of which table.

A suite is a list of cells (table, row, column) -> (config name, dataset column). Runs are keyed
by (config, dataset column), so a run that several tables need (config E on FFHQ appears in
Table 1, Table 2 and Figure 8) is trained once. Dataset columns are the paper's datasets; the
scale preset maps each to a real source (user data, or a built-in stand-in at smoke scale).
"""

from dataclasses import dataclass

FFHQ, CAR, CAT, CHURCH, HORSE = "FFHQ", "LSUN Car", "LSUN Cat", "LSUN Church", "LSUN Horse"
DATASET_COLUMNS = (FFHQ, CAR, CAT, CHURCH, HORSE)

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
    name: str
    description: str
    cells: tuple[Cell, ...]

    def runs(self) -> tuple[tuple[str, str], ...]:
        """Unique (config, dataset column) pairs in first-use order."""
        return tuple(dict.fromkeys((cell.config, cell.dataset) for cell in self.cells))


def _table1() -> Suite:
    rows = ("A", "B", "C", "D", "E", "F", "A-large")
    cells = tuple(
        Cell(table="table1", row=row, column=dataset, config=row, dataset=dataset)
        for dataset in (FFHQ, CAR)
        for row in rows
        if not (row == "A-large" and dataset == CAR)  # the paper has no A-large Car run
    )
    return Suite(name="table1", description="Table 1: configurations A-F and A-large", cells=cells)


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
    return Suite(name="table2", description="Table 2: G x D architectures without growing", cells=cells)


def _table3() -> Suite:
    models = {"StyleGAN": "A", "StyleGAN2": "F"}
    cells = tuple(
        Cell(table="table3", row=model, column=dataset, config=config, dataset=dataset)
        for model, config in models.items()
        for dataset in (CAR, CAT, CHURCH, HORSE)
    )
    return Suite(name="table3", description="Table 3: StyleGAN vs StyleGAN2 on LSUN", cells=cells)


def _figure8() -> Suite:
    cells = tuple(
        Cell(table="figure8", row=f"({panel}) config {config}", column=FFHQ, config=config, dataset=FFHQ)
        for panel, config in (("a", "E"), ("b", "F"))
    )
    return Suite(
        name="figure8", description="Figure 8: per-resolution ToRGB shares over training", cells=cells
    )


SUITES: dict[str, Suite] = {suite.name: suite for suite in (_table1(), _table2(), _table3(), _figure8())}


def get_suites(name: str) -> tuple[Suite, ...]:
    """`name` is a suite name or 'all'; an unknown name lists the known ones."""
    if name == "all":
        return tuple(SUITES.values())
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; known suites: all, {', '.join(SUITES)}")
    return (SUITES[name],)


def run_id(config: str, dataset: str) -> str:
    """Folder-safe run id, e.g. ('G-skip/D-residual', 'LSUN Car') -> 'G-skip_D-residual__lsun-car'."""
    return f"{config.replace('/', '_')}__{dataset.lower().replace(' ', '-')}"
