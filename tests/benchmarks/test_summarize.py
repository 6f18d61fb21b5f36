"""Markdown summaries of a saved benchmark run."""

from benchmarks.summarize import summarize


def _bench(name, group, mean, **extra_info):
    return {"name": name, "group": group, "stats": {"mean": mean}, "extra_info": extra_info}


def test_summary_tables_hold_ratios_rates_and_bandwidth():
    data = {
        "machine_info": {"machine_kind": "cpu-test-2cpus", "usable_cpus": 2, "accelerator": {"name": "cpu"}},
        "datetime": "2026-11-23T00:00:00", "commit_info": {"id": "abc"},
        "benchmarks": [
            _bench("test_cpu[ref]", "upsample2d 8x64", 0.004, impl="ref"),
            _bench("test_cpu[fused]", "upsample2d 8x64", 0.002, impl="fused"),
            _bench("test_train_iteration_cpu[E-fused]", "train E", 1.0, config="E", device="cpu",
                   resolution=16, batch=8, impl="fused", images_per_s=128.0, energy_j_per_kimg=None,
                   phase_share={"G_main": 0.75, "D_main": 0.25}),
            _bench("test_bandwidth_cpu[x]", "bandwidth", 0.001, op="upsample2d", shape="8x64x32x32",
                   device="cpu", impl="fused", bandwidth_gb_s=12.5, peak_bandwidth_gb_s=None,
                   fraction_of_peak=None),
        ],
    }
    text = summarize(data)
    assert "cpu-test-2cpus" in text and "commit abc" in text
    assert "| upsample2d 8x64 | 4.000 | 2.000 | 2.00 |" in text  # ref / fused = 2
    assert "| E | cpu | 16 | 8 | fused | 128.0 |  | G_main 75% D_main 25% |" in text
    assert "| upsample2d | 8x64x32x32 | cpu | fused | 12.5 |" in text
    assert "Metric networks" not in text  # families without benchmarks get no table
