"""Atomic writes: content round-trips, appends keep earlier lines, failures leave the old file."""

import json

import pytest
import torch

from harness.io import (
    append_jsonl_atomic,
    read_jsonl,
    save_torch_atomic,
    write_json_atomic,
    write_jsonl_atomic,
    write_text_atomic,
)


def leftovers(folder):
    return [path.name for path in folder.iterdir() if path.name.endswith(".tmp")]


def test_write_json_round_trip_creates_folders(tmp_path):
    path = write_json_atomic(tmp_path / "a" / "b.json", {"x": [1, 2.5, None], "y": "z"})
    assert json.loads(path.read_text()) == {"x": [1, 2.5, None], "y": "z"}
    assert leftovers(path.parent) == []


def test_failed_write_keeps_old_content_and_no_temp_file(tmp_path):
    path = write_text_atomic(tmp_path / "state.pt", "old")
    with pytest.raises(Exception, match="pickle|lambda|Can't"):
        save_torch_atomic(path, {"bad": lambda: None})
    assert path.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_append_jsonl_appends_one_line_each(tmp_path):
    path = tmp_path / "stats.jsonl"
    append_jsonl_atomic(path, {"tick": 0})
    append_jsonl_atomic(path, {"tick": 1, "v": float("nan")})
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0]) == {"tick": 0}
    assert read_jsonl(path)[1]["tick"] == 1
    write_jsonl_atomic(path, [{"a": 1}])
    assert read_jsonl(path) == [{"a": 1}]


def test_append_repairs_missing_final_newline(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}')
    append_jsonl_atomic(path, {"a": 2})
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]


def test_save_torch_atomic_loads_with_weights_only(tmp_path):
    state = {"w": torch.arange(4.0), "step": 3, "nested": {"rng": torch.get_rng_state()}}
    path = save_torch_atomic(tmp_path / "c.pt", state)
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["w"], state["w"]) and loaded["step"] == 3
    assert torch.equal(loaded["nested"]["rng"], state["nested"]["rng"])
