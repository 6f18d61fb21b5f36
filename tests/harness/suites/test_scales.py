import pytest

from harness.suites.scales import get_scale, parse_override, resolve_dataset
from harness.suites.tables import CAR, FFHQ


def test_override_makes_a_new_scale_and_rejects_unknown_fields():
    smoke = get_scale("smoke")
    changed = get_scale("smoke", kimg=1.5)
    assert changed.kimg == 1.5 and smoke.kimg != 1.5
    with pytest.raises(ValueError, match="unknown scale field"):
        get_scale("smoke", kimgs=3)
    with pytest.raises(ValueError, match="known scales: smoke, small, paper"):
        get_scale("huge")


def test_parse_override_reads_json_values():
    assert parse_override("kimg=2") == ("kimg", 2)
    assert parse_override("features=random") == ("features", "random")
    with pytest.raises(ValueError, match="key=value"):
        parse_override("kimg")


def test_smoke_prefers_installed_stand_ins():
    smoke = get_scale("smoke")
    assert resolve_dataset(smoke, CAR, lambda source: True).startswith("fashion-mnist")
    assert (
        resolve_dataset(smoke, CAR, lambda source: source.startswith("openmoji")) == "openmoji:travel-places"
    )
    with pytest.raises(ValueError, match="pip"):
        resolve_dataset(smoke, FFHQ, lambda source: False)


def test_paper_scale_needs_user_data_and_uses_paper_lengths():
    paper = get_scale("paper")
    with pytest.raises(ValueError, match='--data "FFHQ=/path'):
        resolve_dataset(paper, FFHQ, lambda source: True)
    given = paper.replace(datasets={FFHQ: "/data/ffhq.zip"})
    assert resolve_dataset(given, FFHQ, lambda source: True) == "/data/ffhq.zip"
    assert paper.run_kimg(FFHQ) == 25000 and paper.run_resolution(CAR) == 512
