"""evaluate() on a generator and compute() on a run directory, with the seeded random network."""

import json
import os

import numpy as np
import pytest
import torch

from harness.metrics import NOT_COMPARABLE, MetricOptions, compute, evaluate, evaluate_many
from harness.metrics.evaluate import quantize
from harness.metrics.options import network_for
from harness.metrics.rows import read_rows, unique_rows

ROW_FIELDS = {"metric", "value", "std", "repeats", "values", "num_samples", "seeds", "snapshot_kimg",
              "feature_network", "weights_sha256", "feature_input_size", "preprocessing", "comparability",
              "comparability_reason", "comparable_to_published", "time", "seconds"}
REAL = {"real_samples", "real_rule", "noise_mode"}
PROTOCOL_FIELDS = {"fid": REAL, "kid": REAL | {"kid_subsets", "kid_subset_size", "kid_real_features"},
                   "pr": REAL | {"pr_k", "pr_precision"}, "ppl": {"ppl_epsilon", "ppl_noise"}}


def _options(**overrides):
    return MetricOptions(**{"num_samples": 16, "features": "random", "batch_size": 8, "cache_dir": None,
                            **overrides})


def test_quantize_maps_minus_one_to_zero_and_one_to_255():
    images = torch.tensor([-1.5, -1.0, 0.0, 0.999, 1.0, 2.0])
    assert quantize(images).tolist() == [0, 0, 128, 255, 255, 255]
    assert quantize(images).dtype == torch.uint8


def test_evaluate_is_deterministic_and_depends_on_the_seed(tiny_generator, fake_dataset, tmp_path):
    G, dataset = tiny_generator(resolution=8), fake_dataset()
    first = evaluate(G, dataset, "fid", _options(cache_dir=str(tmp_path)))
    again = evaluate(G, dataset, "fid", _options(cache_dir=str(tmp_path)))
    other_seed = evaluate(G, dataset, "fid", _options(cache_dir=str(tmp_path), seed=1000))
    assert first["value"] == again["value"] and first["value"] != other_seed["value"]
    assert first["real_samples"] == first["num_real"] == 16 and first["real_rule"] == "first"
    assert first["seeds"] == [0]


def test_repeats_use_disjoint_seeds_and_record_mean_and_std(tiny_generator, fake_dataset):
    rows = evaluate_many(tiny_generator(), fake_dataset(), ["kid", "pr"], _options(repeats=3))
    kid_row, pr_row = rows
    assert kid_row["seeds"] == [0, 16, 32] and len(kid_row["values"]) == 3
    assert kid_row["value"] == pytest.approx(np.mean(kid_row["values"]))
    assert kid_row["std"] == pytest.approx(np.std(kid_row["values"], ddof=1))
    assert pr_row["num_real"] == 16 and kid_row["num_real"] == 16  # the first num_samples reals
    assert 0 <= pr_row["precision"] <= 1 and 0 <= pr_row["recall"] <= 1
    assert pr_row["value"] == pr_row["precision"] and len(pr_row["recall_values"]) == 3


def test_one_repeat_has_no_std(tiny_generator, fake_dataset):
    row = evaluate(tiny_generator(), fake_dataset(), "ppl", _options())
    assert row["std"] is None and row["per_sample_distances"].shape == (1, 16)


def test_compute_appends_rows_with_provenance(fake_run, fake_loaders, tmp_path):
    load_generator, open_dataset, opened = fake_loaders
    options = MetricOptions(num_samples=16, repeats=2, features="random", device="cpu", batch_size=8,
                            cache_dir=str(tmp_path / "cache"))
    kwargs = dict(load_generator=load_generator, open_dataset=open_dataset)
    rows = compute(fake_run, "fid,kid,pr,ppl", options, **kwargs)
    assert opened == [("fake-source", 8)]
    assert [row["metric"] for row in rows] == ["fid", "kid", "pr", "ppl"]
    for row in rows:
        assert ROW_FIELDS | PROTOCOL_FIELDS[row["metric"]] <= set(row)
        assert row["snapshot_kimg"] == 20 and row["repeats"] == 2 and row["seeds"] == [0, 16]
        assert row["comparable_to_published"] is False and row["label"] == NOT_COMPARABLE
        assert row["comparability"] == "not comparable" and "random" in row["comparability_reason"]
        assert row["dataset_hash"] == "fake-0-40-8"
    assert rows[2]["pr_precision"] == "official" and rows[3]["ppl_noise"] == "fresh"  # compute's defaults
    distances = np.load(fake_run / rows[3]["distances_file"])
    assert distances.shape == (2, 16) and np.isfinite(distances).all()
    lines = [json.loads(line) for line in (fake_run / "metrics.jsonl").read_text().splitlines()]
    assert [line["metric"] for line in lines] == ["fid", "kid", "pr", "ppl"]
    cached = sorted((tmp_path / "cache" / "stats").glob("*.npz"))
    assert len(cached) == 2  # the first 16 reals: FID statistics, and features (KID and P/R share them)

    again = compute(fake_run, ["fid"], options, snapshot=0.5, **kwargs)
    assert again[0]["snapshot_kimg"] == 0.5
    assert sorted((tmp_path / "cache" / "stats").glob("*.npz")) == cached  # reused, not recomputed
    assert len((fake_run / "metrics.jsonl").read_text().splitlines()) == 5


def test_compute_errors_name_the_problem(fake_run, fake_loaders, fake_dataset, tmp_path):
    load_generator, open_dataset, _ = fake_loaders
    with pytest.raises(ValueError, match=r"snapshot 30 kimg .* available \(kimg\): \[0.5, 20.0\]"):
        compute(fake_run, ["fid"], MetricOptions(features="random"), snapshot=30,
                load_generator=load_generator, open_dataset=open_dataset)
    with pytest.raises(FileNotFoundError, match="no snapshots"):
        compute(tmp_path, ["fid"], MetricOptions(features="random"))
    with pytest.raises(ValueError, match="unknown metric 'is'"):
        evaluate(None, fake_dataset(), "is", _options())


def test_options_are_validated():
    with pytest.raises(ValueError, match="features must be one of"):
        MetricOptions(features="resnet")
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        MetricOptions(repeats=0)


def test_network_choice_per_metric(tmp_path):
    assert network_for("ppl", MetricOptions(features="inception")) == "lpips-vgg16"
    assert network_for("pr", MetricOptions(features="vgg16")) == "vgg16"
    assert network_for("fid", MetricOptions(features="random")) == "random"
    from harness.metrics.features import efficientnet_package_weights

    if efficientnet_package_weights() is not None:
        assert network_for("fid", MetricOptions(weights_dir=str(tmp_path))) == "efficientnet-lite0"


def test_compute_with_a_real_variants_generator_snapshot(tmp_path, fake_dataset):
    variants = pytest.importorskip("variants")
    G = variants.build_generator(variants.get_config("E", resolution=16, width_multiplier=1 / 32))
    run = tmp_path / "run"
    (run / "snapshots").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"resolution": 16}))
    (run / "options.json").write_text(json.dumps({"data": "fake-source"}))
    variants.save_network(run / "snapshots" / "004000", G)  # 4 kimg
    open_dataset = lambda source, resolution: fake_dataset(resolution=resolution)
    options = MetricOptions(num_samples=8, features="random", device="cpu", batch_size=4,
                            cache_dir=str(tmp_path / "cache"))
    rows = compute(run, ["fid", "ppl"], options, open_dataset=open_dataset)
    assert [row["snapshot_kimg"] for row in rows] == [4.0, 4.0]
    assert all(np.isfinite(row["value"]) and row["value"] >= 0 for row in rows)


def _counting_loaders(fake_loaders):
    load_generator, open_dataset, _ = fake_loaders
    loaded = []
    return (lambda path: loaded.append(path) or load_generator(path)), open_dataset, loaded


def test_a_stored_key_is_skipped_before_any_work_and_recompute_replaces_it(fake_run, fake_loaders, tmp_path):
    load_generator, open_dataset, loaded = _counting_loaders(fake_loaders)
    logged = []
    options = MetricOptions(num_samples=16, features="random", device="cpu", batch_size=8,
                            cache_dir=str(tmp_path))
    kwargs = dict(load_generator=load_generator, open_dataset=open_dataset, log=logged.append)
    first = compute(fake_run, ["fid", "ppl"], options, **kwargs)
    assert len(loaded) == 1
    again = compute(fake_run, ["fid", "ppl"], options, **kwargs)
    assert len(loaded) == 1  # nothing computed: the generator was not even loaded
    assert [row["value"] for row in again] == [row["value"] for row in first]
    assert sum("skipped" in line for line in logged) == 2
    other = compute(fake_run, ["fid"], options.replace(pr_precision="exact", num_real="all"), **kwargs)
    assert len(loaded) == 2 and other[0]["real_rule"] == "all"  # another protocol: another key
    old_distances = first[1]["distances_file"]
    compute(fake_run, ["ppl"], options, **kwargs, recompute=True)
    rows = read_rows(fake_run / "metrics.jsonl")
    assert [row["metric"] for row in rows] == ["fid", "fid", "ppl"] and len(unique_rows(rows)) == 3
    assert rows[-1]["distances_file"] != old_distances and not (fake_run / old_distances).exists()


@pytest.mark.parametrize("fault", ["read-only folder", "lock path taken by a folder"])
def test_an_unwritable_run_fails_at_once_before_the_work(fault, fake_run, fake_loaders, tmp_path):
    load_generator, open_dataset, loaded = _counting_loaders(fake_loaders)
    if fault == "read-only folder":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        fake_run.chmod(0o555)
    else:
        (fake_run / "metrics.jsonl.lock").mkdir()
    try:
        with pytest.raises(PermissionError, match="cannot write metric rows in .*run"):
            compute(fake_run, ["fid"], _options(device="cpu", cache_dir=str(tmp_path)),
                    load_generator=load_generator, open_dataset=open_dataset)
    finally:
        fake_run.chmod(0o755)
    assert loaded == []


def test_an_unwritable_feature_cache_fails_at_once(fake_run, fake_loaders, tmp_path):
    load_generator, open_dataset, loaded = _counting_loaders(fake_loaders)
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    with pytest.raises(PermissionError, match="cannot write the feature cache"):
        compute(fake_run, ["fid"], _options(device="cpu", cache_dir=str(tmp_path / "cache")),
                load_generator=load_generator, open_dataset=open_dataset)
    assert loaded == []


def test_the_options_object_decides_the_protocol(fake_run, fake_loaders, tmp_path):
    load_generator, open_dataset, _ = fake_loaders
    options = MetricOptions(num_samples=8, features="random", batch_size=8, cache_dir=str(tmp_path),
                            pr_precision="exact", num_real="all", device="cpu")
    row = compute(fake_run, ["pr"], options, load_generator=load_generator,
                  open_dataset=open_dataset)[0]
    assert (row["num_samples"], row["pr_precision"], row["real_samples"], row["real_rule"]) == (
        8, "exact", 40, "all")
