"""ZIP datasets against hostile archives: bombs are refused before reading, names that climb out
are reported, './' names are ordinary."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from harness.data import BadImageError, open_dataset
from harness.data import zip as zip_module
from harness.data.checks import MAX_ENCODED_BYTES


def png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_bomb(archive: zipfile.ZipFile, name: str, size: int) -> None:
    """A member of `size` zero bytes, streamed through deflate: megabytes on disk, not in memory."""
    chunk = bytes(1 << 22)
    with archive.open(name, "w", force_zip64=True) as member:  # the archive deflates at level 1
        for _ in range(size // len(chunk)):
            member.write(chunk)


@pytest.fixture
def no_member_reads(monkeypatch):
    """Fail the test if anything opens the bomb member's data."""
    real_open = zipfile.ZipFile.open

    def guarded(self, name, mode="r", *args, **kwargs):
        filename = name.filename if isinstance(name, zipfile.ZipInfo) else name
        if mode == "r" and "bomb" in filename:
            pytest.fail(f"read {filename} before checking its declared size")
        return real_open(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", guarded)


def test_member_larger_than_any_image_is_refused_before_reading(tmp_path, no_member_reads):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("ok.png", png(10))
        write_bomb(archive, "bomb.png", MAX_ENCODED_BYTES + (16 << 20))
    assert path.stat().st_size < 2 << 20  # the archive is small on disk
    with pytest.raises(BadImageError, match=r"bomb\.zip:'bomb\.png' declares 272 MiB uncompressed.*nothing "
                                            r"was read.*--skip-bad"):
        open_dataset(path, 8, cache_dir=tmp_path / "cache")
    dataset = open_dataset(path, 8, cache_dir=tmp_path / "cache", skip_bad=True)
    assert len(dataset) == 1 and dataset.info.num_skipped == 1


def test_highly_compressed_member_is_refused_as_a_bomb(tmp_path, no_member_reads):
    path = tmp_path / "ratio.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("ok.png", png(10))
        write_bomb(archive, "bomb.bmp", 32 << 20)
    with pytest.raises(BadImageError, match=r"'bomb\.bmp' declares 32 MiB from .* MiB compressed \(ratio "
                                            r"\d+:1, above 100:1\): a likely ZIP bomb"):
        open_dataset(path, 8, cache_dir=tmp_path / "cache")


def test_member_inflating_past_its_declared_size_is_cut_off(tmp_path, monkeypatch):
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.png", png(10))
    with zipfile.ZipFile(path) as archive:
        member = archive.infolist()[0]
        member.file_size = 10  # a header that lies about the size
        with pytest.raises(BadImageError, match="inflates past its declared 10 bytes|cannot be read"):
            zip_module.read_member(archive, member, "a.png")


def test_unsafe_names_are_reported_and_dot_slash_names_accepted(tmp_path):
    path = tmp_path / "names.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("./imgs/0.png", png(20))
        archive.writestr("imgs/1.png", png(40))
        archive.writestr("../x.png", png(60))
        archive.writestr("/abs.png", png(80))
        archive.writestr("imgs/.hidden.png", png(99))
    with pytest.raises(BadImageError, match=r"'\.\./x\.png' has an unsafe name.*--skip-bad"):
        open_dataset(path, 8, cache_dir=tmp_path / "cache")
    dataset = open_dataset(path, 8, cache_dir=tmp_path / "cache", skip_bad=True)
    np.testing.assert_array_equal(dataset.images[:, 0, 0, 0], [20, 40])
    assert dataset.info.num_skipped == 2
    assert sorted(name.split(":")[-1] for name in dataset.info.skipped_files) == ["../x.png", "/abs.png"]


def test_pillow_decompression_bomb_limit_stays_on():
    import harness.data  # noqa: F401 (importing the package must not lift the limit)

    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS <= 2 ** 28
