import importlib

import pytest

from harness.io import read_jsonl, write_jsonl_atomic
from harness.suites.runner import measure_run, plan_runs
from harness.suites.scales import get_scale
from harness.suites.tables import get_suites


def test_each_run_is_planned_once_under_its_first_suite():
    runs = plan_runs(get_suites("all"), get_scale("smoke"), lambda source: source.startswith("openmoji"))
    keys = [(run.config, run.column) for run in runs]
    assert len(keys) == len(set(keys))
    by_key = {(run.config, run.column): run for run in runs}
    assert by_key[("E", "FFHQ")].folder == "table1/E__ffhq"  # also Figure 8's (a)
    assert by_key[("A", "LSUN Cat")].folder == "table3/A__lsun-cat"
    assert by_key[("F", "LSUN Car")].source == "openmoji:travel-places"
    # 13 Table 1 runs, 16 new Table 2 runs (E shared), 6 new Table 3 runs (Car shared), 0 for Figure 8
    assert len(runs) == 13 + 16 + 6


@pytest.mark.parametrize(("networks", "every_snapshot", "at_best"), [
    # offline: one network for FID, KID and precision/recall, so all three share each snapshot's samples
    ({"fid": "efficientnet-lite0", "kid": "efficientnet-lite0", "pr": "efficientnet-lite0"},
     ("fid", "kid", "pr"), ["ppl"]),
    # published files: precision/recall uses VGG-16, so it is measured at the lowest-FID snapshot only
    ({"fid": "inception", "kid": "inception", "pr": "vgg16"}, ("fid", "kid"), ["pr", "ppl"]),
])
def test_fid_at_every_snapshot_with_its_network_then_the_rest_at_the_lowest_fid_one(
        tmp_path, monkeypatch, networks, every_snapshot, at_best):
    run_dir = tmp_path / "run"
    (run_dir / "snapshots").mkdir(parents=True)
    for kimg in (1, 2, 3):
        (run_dir / "snapshots" / f"{kimg * 1000:06d}.safetensors").touch()
    (run_dir / "figures").mkdir()
    (run_dir / "figures" / "samples.png").touch()  # pictures exist: no network is loaded
    fid_at = {1.0: 30.0, 2.0: 10.0, 3.0: 20.0}
    calls = []

    def compute(run_dir, metrics, snapshot, num_samples, repeats, **common):
        calls.append((tuple(metrics), snapshot, num_samples))
        path = run_dir / "metrics.jsonl"
        rows = [{"metric": name, "value": fid_at[snapshot] if name == "fid" else 0.5,
                 "snapshot_kimg": snapshot} for name in metrics]
        write_jsonl_atomic(path, (read_jsonl(path) if path.exists() else []) + rows)
        return rows

    monkeypatch.setattr("harness.metrics.compute", compute)
    compute_module = importlib.import_module("harness.metrics.compute")  # harness.metrics.compute: a function
    monkeypatch.setattr(compute_module, "network_for", lambda metric, options: networks[metric])
    scale = get_scale("smoke")
    measure_run(run_dir, scale, log=lambda *args: None)
    samples = {"pr": scale.fid_samples, "ppl": scale.ppl_samples}
    assert calls == [(every_snapshot, kimg, scale.fid_samples) for kimg in (1.0, 2.0, 3.0)] + [
        ((name,), 2.0, samples[name]) for name in at_best]
    calls.clear()
    measure_run(run_dir, scale, log=lambda *args: None)  # everything measured: nothing again
    assert calls == []
