import json
import math

import pytest

from common.options import parse_assignment
from harness.suites.runner import covered_cells
from harness.suites.scales import SCALES, Scale, get_scale, resolve_dataset
from harness.suites.tables import CAR, CHURCH, FFHQ, SUITES


def test_override_makes_a_new_scale_and_rejects_unknown_fields():
    smoke = get_scale("smoke")
    changed = get_scale("smoke", kimg=1.5)
    assert changed.kimg == 1.5 and smoke.kimg != 1.5
    with pytest.raises(ValueError, match="unknown scale field"):
        get_scale("smoke", kimgs=3)
    with pytest.raises(ValueError, match="known scales: smoke, cpu, small, paper"):
        get_scale("huge")


def test_set_reads_values_typed_by_the_scale_fields():
    assert parse_assignment("kimg=2", Scale) == ("kimg", 2)
    assert parse_assignment("features=random", Scale) == ("features", "random")
    assert parse_assignment('suites=["table1"]', Scale) == ("suites", ("table1",))
    assert parse_assignment("ema_rampup=null", Scale) == ("ema_rampup", None)
    with pytest.raises(ValueError, match="key=value"):
        parse_assignment("kimg", Scale)


def test_cpu_scales_prefer_installed_stand_ins():
    smoke = get_scale("smoke")
    assert resolve_dataset(smoke, CAR, lambda source: True).startswith("fashion-mnist")
    assert (
        resolve_dataset(smoke, CAR, lambda source: source.startswith("openmoji")) == "openmoji:travel-places"
    )
    assert resolve_dataset(get_scale("cpu"), CAR, lambda source: True) == "fashion-mnist:t-shirt"
    with pytest.raises(ValueError, match="pip"):
        resolve_dataset(smoke, FFHQ, lambda source: False)


def test_paper_scale_needs_user_data_and_uses_paper_lengths():
    paper = get_scale("paper")
    with pytest.raises(ValueError, match='--data "FFHQ=/path'):
        resolve_dataset(paper, FFHQ, lambda source: True)
    given = paper.replace(datasets={FFHQ: "/data/ffhq.zip"})
    assert resolve_dataset(given, FFHQ, lambda source: True) == "/data/ffhq.zip"
    assert paper.run_kimg(FFHQ) == 25000 and paper.run_kimg(CAR) == 57000 and paper.run_resolution(CAR) == 512


def test_r1_gamma_factor_is_the_squared_resolution_ratio_without_growing():
    assert get_scale("paper").r1_gamma_factor(CAR, False) == 1.0  # the paper's resolution: the official gamma
    assert get_scale("cpu").r1_gamma_factor(CAR, False) == (16 / 512) ** 2
    assert get_scale("smoke").r1_gamma_factor(FFHQ, False) == (16 / 1024) ** 2
    assert get_scale("paper", resolution=256).r1_gamma_factor(CAR, False) == 0.25
    assert get_scale("cpu", r1_gamma_by_resolution=False).r1_gamma_factor(CAR, False) == 1.0
    assert get_scale("cpu").r1_gamma_factor(CAR, True) == 1.0  # growing configs keep theirs


def test_same_discriminator_at_a_quarter_width_has_sixteen_times_the_r1_norm():
    """The reason for the factor: D_hi(y) = D_lo(mean-pool_k(y)) is one function seen at two widths,
    and its squared input-gradient norm at the low width is k^2 times the high one's."""
    import torch

    torch.manual_seed(0)
    d_lo = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.LeakyReLU(0.2),
                               torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 1))
    k = 4
    y = torch.randn(5, 1, 4 * k, 4 * k, requires_grad=True)
    x = torch.nn.functional.avg_pool2d(y, k).detach().requires_grad_(True)
    (grad_hi,) = torch.autograd.grad(d_lo(torch.nn.functional.avg_pool2d(y, k)).sum(), y)
    (grad_lo,) = torch.autograd.grad(d_lo(x).sum(), x)
    norm_hi, norm_lo = grad_hi.square().sum(dim=(1, 2, 3)), grad_lo.square().sum(dim=(1, 2, 3))
    assert torch.allclose(norm_lo, norm_hi * k**2, rtol=1e-5)


def test_every_scale_states_its_purpose_seeds_and_ema_rampup():
    assert list(SCALES) == ["smoke", "cpu", "small", "paper"]
    assert all(len(scale.purpose) > 80 for scale in SCALES.values())
    seeds = {name: scale.seeds for name, scale in SCALES.items()}
    assert seeds == {"smoke": 1, "cpu": 8, "small": 3, "paper": 1}
    assert {name: scale.ema_rampup for name, scale in SCALES.items()} == {
        "smoke": 0.05, "cpu": 0.05, "small": 0.05, "paper": None}
    assert get_scale("paper", seeds=5).seeds == 5  # any number of seeds
    assert SCALES["paper"].max_evaluations is None  # the paper's counts are not capped


def test_evaluations_are_the_tables_count_capped_by_the_scale():
    assert get_scale("paper").evaluations(SUITES["table1"]) == 10
    assert get_scale("paper").evaluations(SUITES["table2"]) == 1
    assert get_scale("smoke").evaluations(SUITES["table1"]) == 1
    assert get_scale("cpu").evaluations(SUITES["table1"]) == 2
    assert get_scale("smoke", max_evaluations=20).evaluations(SUITES["table1"]) == 10


# Table 2's original and output-skip G rows on the FFHQ column: the cells the cpu and smoke scales cover.
TABLE2_ORIGINAL_AND_SKIP_G_ON_FFHQ = {(g, f"{FFHQ} / {d}") for g in ("G original", "G output skips")
                                      for d in ("D original", "D input skips", "D residual")}


def covered_cell_names(scale) -> set[tuple[str, str, str]]:
    """(suite, row, column) of every cell `scale` covers (harness.suites.runner.covered_cells)."""
    return {(suite.name, cell.row, cell.column) for suite, cell in covered_cells(scale)}


def test_cpu_scale_covers_the_findings_it_must_decide():
    covered = covered_cell_names(get_scale("cpu"))
    table1 = {row for suite, row, _ in covered if suite == "table1"}
    assert table1 == {"A", "B", "C", "D"}  # droplets and precision/recall (A->B), lazy R1 (B->C), path length
    table2 = {(row, column) for suite, row, column in covered if suite == "table2"}
    assert table2 == TABLE2_ORIGINAL_AND_SKIP_G_ON_FFHQ  # output skips, every D
    assert not any(suite == "table3" for suite, _, _ in covered)


def test_smoke_scale_covers_every_suite_on_the_ffhq_column_and_table3_on_church():
    covered = covered_cell_names(get_scale("smoke"))
    assert {suite for suite, _, _ in covered} == set(SUITES)

    def cells(name):
        return {(row, column) for suite, row, column in covered if suite == name}

    table1 = SUITES["table1"].cells
    assert cells("table1") == {(cell.row, cell.column) for cell in table1 if cell.column == FFHQ}
    assert cells("table2") == TABLE2_ORIGINAL_AND_SKIP_G_ON_FFHQ
    assert cells("table3") == {("StyleGAN", CHURCH), ("StyleGAN2", CHURCH)}
    assert cells("figure8") == {(cell.row, cell.column) for cell in SUITES["figure8"].cells}
    assert get_scale("smoke", columns=(), rows={}).covers("table2", "G residual", CAR)


def test_json_round_trip_keeps_a_scale():
    cpu = get_scale("cpu")
    assert Scale(**json.loads(json.dumps(cpu.to_dict()))) == cpu  # lists from JSON become tuples again


@pytest.mark.parametrize(("overrides", "message"), [
    (dict(kimg=-1), r"kimg=-1 is not valid: it must be a finite number >= 0 .*--set kimg="),
    (dict(kimg=math.nan), r"kimg=nan is not valid"),
    (dict(snapshot_kimg=math.inf), r"snapshot_kimg=inf is not valid: it must be a finite number > 0"),
    (dict(kimg="abc"), r"kimg='abc' is not valid"),
    (dict(batch_size=1.5), r"batch_size=1.5 is not valid: it must be an integer >= 1"),
    (dict(batch_size=True), r"batch_size=True is not valid"),
    (dict(seeds=0), r"seeds=0 is not valid: it must be an integer >= 1"),
    (dict(max_evaluations=0), r"max_evaluations=0 is not valid"),
    (dict(ema_rampup=0), r"ema_rampup=0 is not valid: it must be a finite number > 0"),
    (dict(early_snapshot=0), r"early_snapshot=0 is not valid: it must be a finite number > 0"),
    (dict(early_snapshot=1.5), r"early_snapshot=1.5 must be below 1 .*--set early_snapshot=0.1"),
    (dict(growing_fraction=0), r"growing_fraction=0 is not valid: it must be a finite number > 0"),
    (dict(growing_fraction=1.5), r"growing_fraction=1.5 must be at most 1 .*--set growing_fraction=0.5"),
    (dict(repeats=0), r"'repeats' is now max_evaluations.*--set max_evaluations=N"),
    (dict(nonsense=1), r"unknown scale field\(s\) \['nonsense'\]; known: "),
    (dict(resolution=12), r"resolution=12 must be 0 \(paper resolutions\) or a power of two"),
    (dict(speed_steps=8), r"speed_steps=8 must be a multiple of 16"),
    (dict(suites=["table9"]), r"suites names unknown \['table9'\]; known: table1, table2, table3, figure8"),
    (dict(rows={"table1": ["Z"]}), r"rows\['table1'\] names unknown \['Z'\]; known: A, B, C"),
    (dict(columns="FFHQ"), r"scale field columns must be a JSON list, each a string, got 'FFHQ'"),
    (dict(datasets={"ImageNet": "/x"}), r"datasets names unknown \['ImageNet'\]"),
])
def test_bad_scale_values_name_the_field_in_one_line(overrides, message):
    with pytest.raises(ValueError, match=message) as error:
        get_scale("smoke", **overrides)
    assert "\n" not in str(error.value)
