"""Atomic writes: content round-trips, appends keep every line under concurrency, torn lines are
tolerated, no NaN/Infinity reaches a JSON file, failures name the file and leave the old one."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from common import io
from common.io import (
    CorruptFileError,
    WriteError,
    append_jsonl_line,
    read_json_object,
    read_jsonl,
    remove_orphan_temporaries,
    require_writable_folder,
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


def test_json_writers_never_emit_nan_or_infinity(tmp_path):
    record = {"loss": float("nan"), "ok": 1.5, "nested": {"v": [1.0, float("inf")]}}
    text = write_json_atomic(tmp_path / "s.json", record).read_text()
    assert "NaN" not in text and "Infinity" not in text
    loaded = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert loaded["loss"] is None and loaded["nested"]["v"] == [1.0, None] and loaded["ok"] == 1.5
    assert loaded["nonfinite_fields"] == ["loss", "nested.v[1]"]
    append_jsonl_line(tmp_path / "s.jsonl", {"tick": 0, "v": float("-inf")})
    write_jsonl_atomic(tmp_path / "t.jsonl", [{"v": float("nan")}])
    for name in ("s.jsonl", "t.jsonl"):
        line = (tmp_path / name).read_text()
        assert "Infinity" not in line and "NaN" not in line and '"nonfinite_fields": ["v"]' in line


def test_append_jsonl_appends_one_line_each(tmp_path):
    path = tmp_path / "stats.jsonl"
    append_jsonl_line(path, {"tick": 0})
    append_jsonl_line(path, {"tick": 1})
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0]) == {"tick": 0}
    assert read_jsonl(path)[1]["tick"] == 1
    write_jsonl_atomic(path, [{"a": 1}])
    assert read_jsonl(path) == [{"a": 1}]


def test_torn_last_line_is_ignored_by_readers_and_cut_by_the_next_append(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}\n{"a": 2, "b"')  # a writer killed mid-line
    with pytest.warns(UserWarning, match="m.jsonl:2: skipping a torn last line"):
        assert read_jsonl(path) == [{"a": 1}]
    append_jsonl_line(path, {"a": 3})
    assert path.read_text() == '{"a": 1}\n{"a": 3}\n'


def test_complete_last_line_without_newline_is_kept(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}')
    assert read_jsonl(path) == [{"a": 1}]


def test_damaged_middle_line_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"a": 1}\n{"a"\n{"a": 2}\n')
    with pytest.raises(CorruptFileError, match=r"m.jsonl:2: corrupt JSON line .*remove or fix that line"):
        read_jsonl(path)
    path.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(CorruptFileError, match=r"m.jsonl:2: expected a JSON object, found list"):
        read_jsonl(path)


def test_corrupt_json_file_names_the_file(tmp_path):
    bad = tmp_path / "summary.json"
    bad.write_text('{"done": tru')
    with pytest.raises(CorruptFileError, match="summary.json: corrupt JSON"):
        read_json_object(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(CorruptFileError, match="expected a JSON object"):
        read_json_object(bad)


APPENDER = textwrap.dedent("""
    import sys
    from common.io import append_jsonl_line
    for index in range(200):
        append_jsonl_line(sys.argv[1], {"writer": sys.argv[2], "index": index, "pad": "x" * 300})
""")


@pytest.mark.slow
def test_two_processes_appending_keep_all_400_lines(tmp_path):
    path = tmp_path / "stats.jsonl"
    writers = [subprocess.Popen([sys.executable, "-c", APPENDER, str(path), name]) for name in "ab"]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    rows = read_jsonl(path)
    assert len(rows) == 400
    for name in "ab":
        assert [row["index"] for row in rows if row["writer"] == name] == list(range(200))


def test_remove_orphan_temporaries_clears_interrupted_writes_only(tmp_path):
    (tmp_path / "snapshots").mkdir()
    orphans = [tmp_path / ".checkpoint.pt.abc123.tmp", tmp_path / "snapshots" / ".000500.json.x.tmp"]
    for path in orphans:
        path.write_text("partial")
    kept = [tmp_path / "checkpoint.pt", tmp_path / ".lock", tmp_path / "snapshots" / "000500.json"]
    for path in kept:
        path.write_text("whole")
    assert sorted(remove_orphan_temporaries(tmp_path)) == sorted(orphans)
    assert all(path.exists() for path in kept) and not any(path.exists() for path in orphans)


def test_write_failure_names_file_and_disk(tmp_path, monkeypatch):
    def full_disk(obj, file):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 4224 vs 4112")

    monkeypatch.setattr(torch, "save", full_disk)
    expected = r"could not write .*checkpoint.pt: .*unexpected pos.*MiB free on the disk"
    with pytest.raises(WriteError, match=expected):
        save_torch_atomic(tmp_path / "checkpoint.pt", {"w": torch.zeros(2)})
    assert leftovers(tmp_path) == []


def test_enospc_is_called_a_full_disk(tmp_path, monkeypatch):
    import errno

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "fsync", no_space)
    with pytest.raises(WriteError, match="the disk is full"):
        write_text_atomic(tmp_path / "a.txt", "x")
    assert leftovers(tmp_path) == []


def test_save_torch_atomic_loads_with_weights_only(tmp_path):
    state = {"w": torch.arange(4.0), "step": 3, "nested": {"rng": torch.get_rng_state()}}
    path = save_torch_atomic(tmp_path / "c.pt", state)
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["w"], state["w"]) and loaded["step"] == 3
    assert torch.equal(loaded["nested"]["rng"], state["nested"]["rng"])


def test_require_writable_folder_creates_the_folder_and_leaves_no_probe(tmp_path):
    folder = tmp_path / "a" / "b"
    entered = []

    class Hold:
        def __enter__(self):
            entered.append(True)

        def __exit__(self, *exc):
            return False

    assert require_writable_folder(folder, what="x", advice="y", create=True, hold=Hold()) == folder
    assert folder.is_dir() and list(folder.iterdir()) == [] and entered == [True]


@pytest.mark.parametrize("create", [False, True])
def test_require_writable_folder_fails_in_one_line_naming_what_and_advice(tmp_path, create):
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the folder should be: unwritable, even by root
    with pytest.raises(PermissionError) as caught:
        require_writable_folder(blocker / "sub", what="the feature cache", advice="pass --cache-dir",
                                create=create)
    message = str(caught.value)
    assert message.startswith(f"cannot write the feature cache in {blocker / 'sub'} (")
    assert message.endswith("); pass --cache-dir") and "\n" not in message
