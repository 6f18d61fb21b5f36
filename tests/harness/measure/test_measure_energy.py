"""Energy meters: RAPL parsing and wraparound on a fake sysfs tree, NVML absent without a GPU."""

import time

import pytest
import torch

from harness.measure.energy import (
    NotAvailable,
    PowerSampler,
    RaplCounter,
    open_cpu_meter,
    open_gpu_meter,
    rapl_package_zones,
)


def make_zone(root, name, label, energy_uj, max_uj=1_000_000):
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "name").write_text(label + "\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return zone


def test_rapl_sums_packages_skips_subzones_and_psys(tmp_path):
    package0 = make_zone(tmp_path, "intel-rapl:0", "package-0", 100)
    package1 = make_zone(tmp_path, "intel-rapl:1", "package-1", 5_000)
    make_zone(tmp_path, "intel-rapl:0:0", "core", 7)
    make_zone(tmp_path, "intel-rapl:2", "psys", 9)
    assert rapl_package_zones(tmp_path) == [package0, package1]
    meter = open_cpu_meter(tmp_path)
    assert isinstance(meter, RaplCounter) and meter.source == "rapl"
    (package0 / "energy_uj").write_text("600100")
    (package1 / "energy_uj").write_text("5500")
    assert meter.joules() == pytest.approx(0.6005)


def test_rapl_wraparound(tmp_path):
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", 999_000, max_uj=999_999)
    meter = open_cpu_meter(tmp_path)
    (zone / "energy_uj").write_text("500")  # wrapped: 999_999 - 999_000 + 1 + 500 uJ
    assert meter.joules() == pytest.approx(1_500 / 1e6)
    (zone / "energy_uj").write_text("2500")
    assert meter.joules() == pytest.approx(3_500 / 1e6)


def test_rapl_not_available_reasons(tmp_path):
    assert open_cpu_meter(tmp_path / "missing").source.startswith("not available: no powercap")
    assert "no RAPL package zones" in open_cpu_meter(tmp_path).source
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", 1)
    (zone / "energy_uj").unlink()
    (zone / "energy_uj").mkdir()  # unreadable as a file
    meter = open_cpu_meter(tmp_path)
    assert isinstance(meter, NotAvailable) and meter.joules() is None
    assert "could not be read" in meter.source


def test_nvml_not_available_on_cpu():
    meter = open_gpu_meter("cpu")
    assert meter.joules() is None and meter.source.startswith("not available")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_nvml_without_a_driver_reports_why():
    meter = open_gpu_meter("cuda")
    assert meter.joules() is None and meter.source.startswith("not available")


def test_power_sampler_integrates_constant_power():
    sampler = PowerSampler(lambda: 50.0, source="test", interval_s=0.01)
    start = time.perf_counter()
    time.sleep(0.2)
    joules = sampler.joules()
    elapsed = time.perf_counter() - start
    sampler.close()
    assert joules == pytest.approx(50.0 * elapsed, rel=0.1)
