"""Machine kinds and peak bandwidths that name the benchmark baselines."""

import pytest

from benchmarks.machine import _slug, machine_kind, peak_bandwidth_bytes_per_s


@pytest.mark.parametrize(("device_name", "terabytes"), [
    ("NVIDIA H100 80GB HBM3", 3.35),
    ("NVIDIA H100 PCIe", 2.0),
    ("NVIDIA H200", 4.8),
    ("NVIDIA A100-SXM4-80GB", 2.0),
    ("NVIDIA A100-SXM4-40GB", 1.555),
    ("Tesla V100-SXM2-16GB", 0.9),
])
def test_peak_bandwidth_matches_the_card(device_name, terabytes):
    assert peak_bandwidth_bytes_per_s(device_name) == pytest.approx(terabytes * 1e12)


@pytest.mark.parametrize("device_name", [None, "", "Some Future GPU"])
def test_unknown_cards_have_no_peak(device_name):
    assert peak_bandwidth_bytes_per_s(device_name) is None


def test_slug_keeps_the_model_and_drops_clock_and_trademarks():
    assert _slug("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz") == "intel-xeon-platinum-8375c"
    assert _slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"


def test_machine_kind_on_this_cpu_machine_names_model_and_cpus():
    kind = machine_kind()
    assert kind.startswith(("cpu-", "cuda-"))
    if kind.startswith("cpu-"):
        assert kind.endswith("cpus") and kind.split("-")[-1][:-4].isdigit()
