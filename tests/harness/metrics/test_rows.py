"""The keyed metric store: one row per key, torn lines tolerated, concurrent writers serialised."""

import json

import pytest

from harness.metrics.rows import MetricStore, metric_row_key, read_rows, unique_rows


def _row(**overrides):
    row = {"metric": "fid", "snapshot_kimg": 2.5, "repeats": 1, "seeds": [0], "num_samples": 16,
           "feature_network": "random", "weights_sha256": None, "real_rule": "first", "real_samples": 16,
           "value": 1.0}
    return {**row, **overrides}


def test_key_separates_what_changes_the_number_and_ignores_the_rest():
    base = metric_row_key(_row())
    assert metric_row_key(_row(value=2.0, time="later", seconds=3.0)) == base
    for change in (dict(metric="kid"), dict(snapshot_kimg=5.0), dict(repeats=10), dict(seeds=[50]),
                   dict(num_samples=32), dict(weights_sha256="ab"), dict(real_rule="all"),
                   dict(real_samples=40), dict(pr_precision="exact"), dict(feature_input_size=64)):
        assert metric_row_key(_row(**change)) != base, change


def test_a_metrics_own_protocol_fields_are_keyed_without_listing_them():
    toy = _row(metric="toy", toy_scale=1.0, protocol_fields=["toy_scale"])
    assert metric_row_key({**toy, "toy_scale": 2.0}) != metric_row_key(toy)
    assert metric_row_key({**toy, "value": 3.0}) == metric_row_key(toy)
    # a field KEY_FIELDS names already is keyed once, so old and new rows of a metric share keys
    assert metric_row_key(_row(pr_k=3, protocol_fields=["pr_k"])) == metric_row_key(_row(pr_k=3))


def test_old_rows_key_their_real_set_by_num_real():
    old = {k: v for k, v in _row().items() if k not in ("real_rule", "real_samples")}
    assert metric_row_key({**old, "num_real": 40}) != metric_row_key({**old, "num_real": 16})


def test_unique_rows_keeps_the_latest_row_at_the_first_place():
    rows = [_row(value=1.0), _row(metric="kid"), _row(value=3.0), _row(snapshot_kimg=5.0)]
    kept = unique_rows(rows)
    assert [(r["metric"], r["snapshot_kimg"], r["value"]) for r in kept] == [
        ("fid", 2.5, 3.0), ("kid", 2.5, 1.0), ("fid", 5.0, 1.0)]


def test_store_writes_a_key_once_and_replaces_when_asked(tmp_path):
    logged = []
    store = MetricStore(tmp_path, log=logged.append)
    assert store.add(_row(value=1.0)) == (True, []) and store.add(_row(value=2.0)) == (False, [])
    assert "already in" in logged[-1] and "--recompute" in logged[-1]
    assert [r["value"] for r in read_rows(store.path)] == [1.0]
    assert store.add(_row(metric="kid"))[0]
    assert store.add(_row(value=2.0), replace=True) == (True, [_row(value=1.0)])
    assert [(r["metric"], r["value"]) for r in read_rows(store.path)] == [("kid", 1.0), ("fid", 2.0)]
    assert [r["metric"] for r in store.rows()] == ["kid", "fid"] and store.keys() == {
        metric_row_key(_row(metric="kid")), metric_row_key(_row())}


def test_a_torn_last_line_is_ignored_and_cut_by_the_next_write(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps(_row()) + "\n" + '{"metric": "ki')
    assert len(read_rows(path)) == 1
    assert MetricStore(tmp_path, log=print).add(_row(metric="pr"))[0]
    assert [r["metric"] for r in read_rows(path)] == ["fid", "pr"]


def test_non_finite_values_are_written_as_null_and_named(tmp_path):
    MetricStore(tmp_path).add(_row(value=float("nan")))
    text = (tmp_path / "metrics.jsonl").read_text()
    assert "NaN" not in text
    row = read_rows(tmp_path / "metrics.jsonl")[0]
    assert row["value"] is None and "value" in row["nonfinite_fields"]


def test_require_writable_fails_in_one_line_when_the_store_cannot_be_written(tmp_path):
    (tmp_path / "metrics.jsonl.lock").mkdir()  # cannot be opened as a file, even by root
    with pytest.raises(PermissionError, match=r"cannot write metric rows in .*make the run folder writable"):
        MetricStore(tmp_path).require_writable()
