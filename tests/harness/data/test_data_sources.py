"""Image folders, ZIPs and LMDBs through open_dataset: decoding, skipping, errors, caching."""

import io
import json
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from harness.data import BadImageError, DatasetError, open_dataset
from harness.data import checks as checks_module
from harness.data.cache import array_content_hash


def _png(pixels):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_folder_is_searched_recursively_in_sorted_order(image_folder, tmp_path):
    dataset = open_dataset(image_folder, 8, cache_dir=tmp_path / "cache")
    assert len(dataset) == 5 and dataset.images.shape == (5, 3, 8, 8) and dataset.images.dtype == np.uint8
    assert dataset.info.name == "images" and dataset.info.licence == "unknown (user-provided)"
    assert dataset.info.num_skipped == 0 and dataset.info.resolution == 8
    first = np.asarray(Image.open(image_folder / "img0.png").resize((8, 8), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(dataset.images[0], first.transpose(2, 0, 1))  # 'img0' sorts first
    assert dataset.info.content_hash == array_content_hash(np.asarray(dataset.images))


def test_bad_file_raises_naming_it_unless_skipped(image_folder, tmp_path):
    (image_folder / "nested" / "broken.png").write_bytes(b"plain text")
    (image_folder / "tiny.png").write_bytes(_png(np.zeros((4, 4, 3), np.uint8)))
    with pytest.raises(BadImageError, match=r"broken\.png"):
        open_dataset(image_folder, 8, cache_dir=tmp_path / "cache")
    dataset = open_dataset(image_folder, 8, cache_dir=tmp_path / "cache", skip_bad=True)
    assert len(dataset) == 5 and dataset.info.num_skipped == 2
    assert [os.path.basename(name) for name in dataset.info.skipped_files] == ["broken.png", "tiny.png"]
    with pytest.raises(DatasetError, match=r"--skip-bad.*broken\.png"):  # the cache remembers the skips
        open_dataset(image_folder, 8, cache_dir=tmp_path / "cache")


def test_second_open_reuses_the_cache_without_decoding(image_folder, tmp_path, monkeypatch):
    first = open_dataset(image_folder, 8, cache_dir=tmp_path / "cache")
    datasets = tmp_path / "cache" / "datasets"
    cache_files = sorted(path for path in datasets.iterdir() if path.suffix != ".lock")
    assert [path.suffix for path in cache_files] == [".json", ".npy"]
    modified = [path.stat().st_mtime_ns for path in cache_files]

    def refuse(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(checks_module, "decode_and_fit", refuse)
    second = open_dataset(image_folder, 8, cache_dir=tmp_path / "cache")
    assert second.info == first.info and isinstance(second.images, np.memmap)
    assert [path.stat().st_mtime_ns for path in cache_files] == modified
    with pytest.raises(AssertionError, match="decoded again"):  # another resolution is a new cache
        open_dataset(image_folder, 4, cache_dir=tmp_path / "cache")


def test_changed_file_invalidates_the_cache(image_folder, tmp_path):
    before = open_dataset(image_folder, 8, cache_dir=tmp_path / "cache").info.content_hash
    (image_folder / "img1.png").write_bytes(_png(np.full((12, 12, 3), 7, np.uint8)))
    after = open_dataset(image_folder, 8, cache_dir=tmp_path / "cache")
    assert after.info.content_hash != before
    np.testing.assert_array_equal(after.images[1], 7)


def test_content_hash_is_the_same_from_another_folder_and_cache(image_folder, tmp_path):
    copy = tmp_path / "copy"
    for path in image_folder.rglob("*"):
        if path.is_file():
            target = copy / path.relative_to(image_folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    hash_a = open_dataset(image_folder, 8, cache_dir=tmp_path / "a").info.content_hash
    hash_b = open_dataset(copy, 8, cache_dir=tmp_path / "b").info.content_hash
    assert hash_a == hash_b


def test_cache_dir_comes_from_the_environment(image_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "from-env"))
    open_dataset(image_folder, 4)
    assert len(list((tmp_path / "from-env" / "datasets").glob("images-4-*.npy"))) == 1


def test_cached_json_holds_the_dataset_info(image_folder, tmp_path):
    dataset = open_dataset(image_folder, 8, cache_dir=tmp_path / "cache")
    (json_path,) = (tmp_path / "cache" / "datasets").glob("*.json")
    assert json.loads(json_path.read_text()) == dataset.info.to_dict()


def test_missing_and_empty_datasets_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"no dataset at '.*nowhere'.*image folder.*\.zip.*LMDB"):
        open_dataset(tmp_path / "nowhere", 8, cache_dir=tmp_path / "cache")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(DatasetError, match=r"'.*empty' has no usable images \(looked for files ending in"):
        open_dataset(tmp_path / "empty", 8, cache_dir=tmp_path / "cache")
    (tmp_path / "plain.txt").write_text("x")
    with pytest.raises(DatasetError, match="not a .zip or an LMDB"):
        open_dataset(tmp_path / "plain.txt", 8, cache_dir=tmp_path / "cache")


def test_bad_resolution_and_content_height_are_rejected(image_folder, tmp_path):
    with pytest.raises(ValueError, match="power of two"):
        open_dataset(image_folder, 12, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="content_height"):
        open_dataset(image_folder, 8, cache_dir=tmp_path, content_height=9)


def test_content_height_pads_folder_images_with_black_bars(tmp_path):
    (tmp_path / "cars").mkdir()
    (tmp_path / "cars" / "car.png").write_bytes(_png(np.full((12, 16, 3), 255, np.uint8)))
    dataset = open_dataset(tmp_path / "cars", 8, cache_dir=tmp_path / "cache", content_height=6)
    assert dataset.info.content_height == 6
    np.testing.assert_array_equal(dataset.images[0, :, 1:7], 255)
    np.testing.assert_array_equal(dataset.images[0, :, [0, 7]], 0)


def test_zip_members_are_decoded_in_name_order(tmp_path):
    pixels = [np.full((8, 8, 3), value, np.uint8) for value in (30, 60, 90)]
    archive_path = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("b/2.png", _png(pixels[2]))
        archive.writestr("a.png", _png(pixels[0]))
        archive.writestr("b/1.png", _png(pixels[1]))
        archive.writestr("dataset.json", "{}")
        archive.writestr("__MACOSX/._a.png", b"resource fork")
        archive.writestr("b/bad.png", b"text")
    with pytest.raises(BadImageError, match=r"faces\.zip:b/bad\.png"):
        open_dataset(archive_path, 8, cache_dir=tmp_path / "cache")
    dataset = open_dataset(archive_path, 8, cache_dir=tmp_path / "cache", skip_bad=True)
    assert dataset.info.name == "faces" and dataset.info.num_skipped == 1
    np.testing.assert_array_equal(dataset.images[:, 0, 0, 0], [30, 60, 90])


def test_lmdb_of_webp_and_jpeg_values(tmp_path):
    lmdb = pytest.importorskip("lmdb")
    encoded = []
    for value, format in ((40, "WEBP"), (200, "JPEG")):
        buffer = io.BytesIO()
        Image.fromarray(np.full((10, 12, 3), value, np.uint8)).save(buffer, format=format, quality=95)
        encoded.append(buffer.getvalue())
    with lmdb.open(str(tmp_path / "church_outdoor_train_lmdb"), map_size=1 << 22) as environment:
        with environment.begin(write=True) as transaction:
            transaction.put(b"b-second", encoded[1])
            transaction.put(b"a-first", encoded[0])
            transaction.put(b"c-bad", b"not an image")
    with pytest.raises(BadImageError, match="c-bad"):
        open_dataset(tmp_path / "church_outdoor_train_lmdb", 8, cache_dir=tmp_path / "cache")
    dataset = open_dataset(tmp_path / "church_outdoor_train_lmdb", 8, cache_dir=tmp_path / "cache",
                           skip_bad=True)
    assert len(dataset) == 2 and dataset.info.num_skipped == 1
    assert abs(int(dataset.images[0].mean()) - 40) <= 3 and abs(int(dataset.images[1].mean()) - 200) <= 3
