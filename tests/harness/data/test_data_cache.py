"""The dataset cache key sees new pixels behind an unchanged size and mtime; --rebuild-cache; an
unwritable cache folder is an error before anything is decoded; one builder per cache at a time,
and a killed build's temporary files are removed by the next."""

import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from harness.data import DatasetError, open_dataset
from harness.data import checks as checks_module
from tests.harness.data.conftest import encode


def same_size_and_mtime_rewrite(path, data: bytes) -> None:
    """Replace a file's bytes in place, keeping its size and restoring its mtime (as `touch -r` would)."""
    stat = path.stat()
    assert len(data) == stat.st_size
    with open(path, "r+b") as file:
        file.write(data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_size == stat.st_size


def bmp_of_value(value: int) -> bytes:
    """An uncompressed image: the same size whatever the pixels."""
    from PIL import Image

    return encode(Image.fromarray(np.full((12, 12, 3), value, np.uint8)), "BMP")


def test_new_pixels_with_same_size_and_mtime_are_not_served_stale(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.bmp").write_bytes(bmp_of_value(10))
    assert open_dataset(folder, 8, cache_dir=tmp_path / "cache").images[0, 0, 0, 0] == 10
    same_size_and_mtime_rewrite(folder / "a.bmp", bmp_of_value(200))
    assert open_dataset(folder, 8, cache_dir=tmp_path / "cache").images[0, 0, 0, 0] == 200


def test_zip_rewritten_with_same_size_and_mtime_is_decoded_again(tmp_path):
    def archive_bytes(value):
        path = tmp_path / f"build{value}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("a.bmp", bmp_of_value(value))
        return path.read_bytes()

    path = tmp_path / "faces.zip"
    path.write_bytes(archive_bytes(10))
    assert open_dataset(path, 8, cache_dir=tmp_path / "cache").images[0, 0, 0, 0] == 10
    same_size_and_mtime_rewrite(path, archive_bytes(200))
    assert open_dataset(path, 8, cache_dir=tmp_path / "cache").images[0, 0, 0, 0] == 200


def test_rebuild_cache_decodes_again(image_folder, tmp_path, monkeypatch):
    open_dataset(image_folder, 8, cache_dir=tmp_path / "cache")
    decoded = []
    real = checks_module.decode_and_fit
    monkeypatch.setattr(checks_module, "decode_and_fit", lambda *args: decoded.append(1) or real(*args))
    open_dataset(image_folder, 8, cache_dir=tmp_path / "cache")
    assert decoded == []
    again = open_dataset(image_folder, 8, cache_dir=tmp_path / "cache", rebuild_cache=True)
    assert len(decoded) == len(again) == 5


def test_unwritable_cache_folder_fails_before_decoding(image_folder, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(checks_module, "decode_and_fit", lambda *args: pytest.fail("decoded first"))
    with pytest.raises(DatasetError, match=r"folder .*a-file/cache/datasets is not writable .*--cache-dir"):
        open_dataset(image_folder, 8, cache_dir=blocker / "cache")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_cache_folder_fails_before_decoding(image_folder, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    try:
        with pytest.raises(DatasetError, match=r"cache folder .* is not writable"):
            open_dataset(image_folder, 8, cache_dir=cache)
    finally:
        cache.chmod(0o755)


def test_next_build_removes_what_a_killed_build_left(image_folder, tmp_path):
    first = open_dataset(image_folder, 8, cache_dir=tmp_path / "cache")
    cache = tmp_path / "cache" / "datasets"
    npy = next(cache.glob("*.npy"))
    orphans = [cache / f".{npy.name}.k2j3h4.tmp", cache / f".{npy.stem}.json.q8w7.tmp"]  # common.io's names
    for orphan in orphans:
        orphan.write_bytes(b"half a cache")
    again = open_dataset(image_folder, 8, cache_dir=tmp_path / "cache", rebuild_cache=True)
    assert not any(orphan.exists() for orphan in orphans)
    assert again.info == first.info and not list(cache.glob("*.tmp"))


HOLD_BUILD_LOCK = """
import fcntl, sys, time
with open(sys.argv[1], "a+b") as lock:
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_build_waits_for_another_builder_of_the_same_cache(image_folder, tmp_path):
    cache = tmp_path / "cache"
    open_dataset(image_folder, 8, cache_dir=cache)
    lock = next((cache / "datasets").glob("*.lock"))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_BUILD_LOCK, str(lock), "1.5"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    started = time.perf_counter()
    open_dataset(image_folder, 8, cache_dir=cache, rebuild_cache=True)
    assert time.perf_counter() - started > 0.5  # it waited for the other builder
    holder.wait()
