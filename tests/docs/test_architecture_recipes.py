"""The three recipes of docs/architecture.md, each followed step by step with a toy: a metric, a
configuration preset and a suite. Every toy is removed again when its test ends (`scratch`)."""

import contextlib
import math

import numpy as np
import pandas as pd
import pytest
import torch

import variants
from common.io import read_json_object
from common.registry import Registry
from harness.cells import summarize_cells
from harness.data import DatasetInfo, ImageDataset
from harness.figures import _curve_points
from harness.metrics import METRICS, Metric, MetricOptions, compute, published_networks, register_metric
from harness.results import select_metrics
from harness.rundir import RunDir
from harness.suites import SUITES, Cell, Suite, get_scale, get_suites, plan_runs
from harness.suites.runner import plan_records
from harness.suites.suite_files import write_suite_files
from harness.suites.tables import CAT, FFHQ

TINY = dict(resolution=8, width_multiplier=1 / 64, fmap_max=2048, batch_size=4, mapping_layers=2, z_dim=16,
            w_dim=16, mapping_width=16, impl="ref")


def random_dataset(count: int, resolution: int, seed: int = 0) -> ImageDataset:
    images = np.random.default_rng(seed).integers(0, 256, (count, 3, resolution, resolution), dtype=np.uint8)
    info = DatasetInfo(name="random", source="random", resolution=resolution, num_images=count,
                       num_skipped=0, content_hash=f"random-{seed}-{count}-{resolution}", licence="none",
                       attribution="none")
    return ImageDataset(images, info)


@contextlib.contextmanager
def scratch(*registries: Registry):
    """Within the block, toys may register in `registries`; afterwards each holds exactly its entries
    and its freeze of before (production registries keep refusing late entries once frozen)."""
    with pytest.MonkeyPatch.context() as patch:
        for registry in registries:
            patch.setattr(registry, "_entries", dict(registry._entries))
            patch.setattr(registry, "_frozen", False)
        yield


def test_scratch_puts_entries_and_freeze_back():
    registry = Registry("widget")
    registry.register("kept")(lambda: "kept")
    registry.freeze()
    with scratch(registry):
        registry.register("toy")(lambda: "toy")
        assert registry.names() == ("kept", "toy")
    assert registry.names() == ("kept",) and registry.frozen
    with pytest.raises(RuntimeError, match="registry is frozen"):
        registry.register("toy")(lambda: "toy")


# Recipe 1: add a metric ---------------------------------------------------------------------------

def mean_feature_gap(real_features: np.ndarray, fake_features: np.ndarray) -> float:
    """Step 1, the pure function: |mean(real) - mean(fake)| of features [N, D] and [M, D]."""
    return float(np.linalg.norm(real_features.mean(axis=0) - fake_features.mean(axis=0)))


def register_toy_metric():
    """Step 2: a Metric subclass registered with its properties. (Step 3, importing its module in
    harness/metrics/evaluate.py, is what calling this does here.)"""
    @register_metric("toy-gap", higher_is_better=False, features="inception")
    class MeanFeatureGap(Metric):
        parts = ("real_rows",)

        def score(self, real, fake, options, repeat):
            return {"value": mean_feature_gap(real["features"], fake), "real_rows": len(real["features"])}

    return MeanFeatureGap


def tiny_run(path, G) -> RunDir:
    """A run directory with what `compute` reads: config.json, options.json, one G_ema snapshot."""
    run = RunDir(path)
    run.write_json(RunDir.CONFIG, G.config.to_dict())
    run.write_json(RunDir.OPTIONS, {"data": "random"})
    variants.save_network(run.snapshot_at(1.0), G)
    return run


def test_recipe_add_a_metric(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    with scratch(METRICS):
        register_toy_metric()
        check_toy_metric(tmp_path)
    assert "toy-gap" not in METRICS and {"fid", "kid", "pr", "ppl"} <= set(METRICS)


def check_toy_metric(tmp_path):
    assert METRICS.get("toy-gap").higher_is_better is False
    assert published_networks()["toy-gap"] == "inception"

    # Step 4: compute it on a run; the row lands in the run's keyed store with its provenance.
    G = variants.build_generator(variants.get_config("E", **TINY)).eval()
    run, dataset = tiny_run(tmp_path / "run", G), random_dataset(24, 8)
    options = MetricOptions(num_samples=16, repeats=2, features="random", batch_size=8,
                            cache_dir=str(tmp_path / "cache"))
    (row,) = compute(run.path, ["toy-gap"], options, open_dataset=lambda source, resolution: dataset)
    assert row["metric"] == "toy-gap" and row["snapshot_kimg"] == 1.0 and row["seeds"] == [0, 16]
    assert row["feature_network"].startswith("random") and row["comparability"] == "not comparable"
    assert row["real_samples"] == 16 and row["real_rows"] == 16 and row["real_rows_values"] == [16, 16]
    assert row["value"] == pytest.approx(np.mean(row["values"])) and row["std"] is not None
    assert [stored["metric"] for stored in run.metric_rows()] == ["toy-gap"]

    # Its score saw the features of the first 16 reals and of the samples of seeds 0..15 (repeat 0).
    from harness.metrics.evaluate import generated_images
    from harness.metrics.features import compute_features, load_feature_network
    from harness.metrics.real import first_reals

    net = load_feature_network("random")
    loaded = variants.load_network(run.snapshot_at(1.0)).eval()
    real = compute_features(net, first_reals(dataset, 16), num_images=16, batch_size=8, device="cpu")
    fake = compute_features(net, generated_images(loaded, range(16), device="cpu", noise_mode="random"),
                            num_images=16, batch_size=8, device="cpu")
    assert row["values"][0] == pytest.approx(mean_feature_gap(real, fake), rel=1e-5)

    # The store's key covers the new metric too: the same request again is skipped, not recomputed.
    said = []
    (again,) = compute(run.path, "toy-gap", options, open_dataset=lambda source, resolution: dataset,
                       log=said.append)
    assert again["value"] == row["value"] and "already in" in said[0]
    assert len(run.raw_metric_rows()) == 1

    # No edit elsewhere: its quantity is a results column, a per-seed cell estimate and a curve point.
    selected = select_metrics(run.metric_rows())
    assert selected["toy-gap"] == row["value"] and selected["toy-gap_std"] == row["std"]
    assert selected["toy-gap_comparability"] == "not comparable" and selected["toy-gap_snapshot_kimg"] == 1.0
    seeds = pd.DataFrame([{**selected, "suite": "toy", "table": "toy", "row": "E", "column": FFHQ,
                           "subcolumn": None, "seed": seed, "toy-gap": row["value"] + seed}
                          for seed in (0, 1)])
    (cell,) = summarize_cells(seeds).to_dict("records")
    assert cell["toy-gap"] == pytest.approx(row["value"] + 0.5) and cell["toy-gap_n"] == 2
    assert cell["toy-gap_values"] == (row["value"], row["value"] + 1)
    points = _curve_points(pd.DataFrame([{**stored, "run": "toy"} for stored in run.metric_rows()]))
    assert points[["metric", "snapshot_kimg", "value"]].values.tolist() == [["toy-gap", 1.0, row["value"]]]


# Recipe 2: add a configuration preset -------------------------------------------------------------

def test_recipe_add_a_configuration(tmp_path, monkeypatch):
    # Step 1: one entry in the presets table, overriding Config's defaults (config E) only.
    monkeypatch.setitem(variants.PRESETS, "E-no-pl", dict(r1_gamma=100.0, pl_weight=0.0))
    assert "E-no-pl" in variants.list_configs()

    # Step 2: get_config resolves it; the registries build its networks from g_arch and d_arch.
    cfg = variants.get_config("E-no-pl", **TINY)
    assert (cfg.name, cfg.pl_weight, cfg.r1_gamma, cfg.g_arch) == ("E-no-pl", 0.0, 100.0, "skip")
    assert variants.Config.from_json(cfg.to_json()) == cfg
    G, D = variants.build_generator(cfg), variants.build_discriminator(cfg)
    assert type(G) is variants.GENERATORS.get("skip") and type(D) is variants.DISCRIMINATORS.get("residual")
    images = G(torch.randn(2, G.z_dim))
    assert images.shape == (2, 3, 8, 8) and D(images).shape == (2, 1)
    with pytest.raises(ValueError, match="unknown config 'E-no-p'.*did you mean 'E-no-pl'"):
        variants.get_config("E-no-p")

    # Step 3: the train command takes it by name (flags and --set on top), and it trains.
    import argparse

    from harness.measure.throughput import PhaseTimer
    from harness.train import cli as train_cli
    from harness.train.loop import Trainer

    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    args = parser.parse_args(["--config", "E-no-pl", "--data", "random", "--out", str(tmp_path / "run"),
                              "--kimg", "0.004", *(f"--set={key}={value}" for key, value in TINY.items()
                                                   if key != "impl"), "--impl", "ref"])
    options = train_cli.options_from_args(args)
    assert options.config == cfg
    trainer = Trainer(options, random_dataset(8, 8), torch.device("cpu"))
    before = [p.detach().clone() for p in trainer.G.parameters()]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a network this small steps fastest on one thread, busy cores or not
    try:
        size, losses = trainer.step(PhaseTimer(torch.device("cpu")))
    finally:
        torch.set_num_threads(threads)
    assert size == 4 and math.isfinite(float(losses["loss/G"])) and math.isfinite(float(losses["loss/D"]))
    assert "loss/pl" not in losses  # pl_weight 0: no path length regularisation
    assert any(not torch.equal(b, p) for b, p in zip(before, trainer.G.parameters(), strict=True))


# Recipe 3: add a suite -----------------------------------------------------------------------------

def toy_suite() -> Suite:
    """Step 1: the suite as data; its cells name presets and paper dataset columns."""
    cells = (Cell(table="toy", row="baseline", column=FFHQ, config="E", dataset=FFHQ),
             Cell(table="toy", row="no lazy R1", column=CAT, config="B", dataset=CAT))
    return Suite(name="toy", description="Toy: E on FFHQ against B on LSUN Cat", cells=cells,
                 evaluations=3, evaluations_source="this test")


def test_recipe_add_a_suite(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="names unknown \\['toy'\\]"):
        get_scale("smoke", suites=("toy",))
    # Step 2: into the SUITES table (as the tuple that builds it in harness/suites/tables.py).
    suite = toy_suite()
    monkeypatch.setitem(SUITES, suite.name, suite)
    assert get_suites("toy") == (suite,) and suite in get_suites("all")

    # Step 3: scales cover it (every scale covers every suite unless it lists suites, rows, columns).
    assert not get_scale("smoke").covers("toy", "no lazy R1", CAT)  # smoke lists columns: FFHQ, Church
    scale = get_scale("smoke", seeds=2, max_evaluations=None, columns=())
    assert scale.covers("toy", "no lazy R1", CAT)
    only_b = get_scale("smoke", suites=("toy",), rows={"toy": ("no lazy R1",)}, columns=())
    assert not only_b.covers("toy", "baseline", FFHQ) and only_b.covers("toy", "no lazy R1", CAT)

    # Step 4: planned: one run per (config, dataset, seed); a run Table 1 needs too is trained once,
    # under the first suite, and gets the larger evaluation count of the two.
    runs = plan_runs(get_suites("all"), scale, lambda source: True)
    mine = {(run.config, run.column, run.seed): run for run in runs if (run.config, run.column) in
            {("E", FFHQ), ("B", CAT)}}
    assert sorted(mine) == [("B", CAT, 0), ("B", CAT, 1), ("E", FFHQ, 0), ("E", FFHQ, 1)]
    assert mine[("B", CAT, 0)].folder == "toy/B__lsun-cat__seed0" and mine[("B", CAT, 0)].evaluations == 3
    assert mine[("E", FFHQ, 1)].folder == "table1/E__ffhq__seed1" and mine[("E", FFHQ, 1)].evaluations == 10
    planned = plan_runs((suite,), scale, lambda source: True)
    records = plan_records(planned, scale, tmp_path)
    assert {record["config"] for record in records} == {"E", "B"}
    assert all(record["options"]["config"]["resolution"] == 16 for record in records)

    # Its suite.json is what the results store and the report read.
    write_suite_files((suite,), planned, scale, tmp_path)
    written = read_json_object(tmp_path / "toy" / "suite.json")
    assert [(cell["row"], cell["seed"]) for cell in written["cells"]] == [
        ("baseline", 0), ("baseline", 1), ("no lazy R1", 0), ("no lazy R1", 1)]

    # Step 5: its layout, a paper number and a comparison in published.json put it in the report.
    import dataclasses

    import pandas as pd

    from harness.published import Comparison, PublishedValue, load_published
    from harness.report_tables import build_tables

    published = load_published()
    layout = {"title": "Toy table", "rows": [["baseline", "config E"], ["no lazy R1", "config B"]],
              "columns": [FFHQ, CAT], "subcolumns": None, "metrics": ["fid"]}
    paper = PublishedValue(table="toy", row="baseline", column=FFHQ, subcolumn=None, metric="fid", value=4.4,
                           source="a toy", verified=False, note="")
    versus = Comparison(table="toy", row="no lazy R1", subcolumn=None, baseline_row="baseline",
                        baseline_subcolumn=None)
    published = dataclasses.replace(published, tables={**published.tables, "toy": layout},
                                    values=(*published.values, paper),
                                    comparisons=(*published.comparisons, versus))
    (table,) = [view for view in build_tables(published, pd.DataFrame()) if view.id == "toy"]
    assert [row.label for row in table.rows] == ["baseline  config E", "no lazy R1  config B"]
    assert table.rows[0].cells[0].paper == "4.40" and table.rows[1].cells[1].compared_with == "baseline"
