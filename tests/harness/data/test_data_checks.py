"""Decoding odd images: mode conversions, cropping geometry, letterboxing and errors naming the file."""

import io

import numpy as np
import pytest
from PIL import Image

from harness.data.checks import (
    BadImageError,
    SkipLog,
    crop_box,
    decode_and_fit,
    decode_entries,
    decode_image,
    fit_to_square,
)


def _encode(image, format="PNG", **options):
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def test_grayscale_is_replicated_to_rgb():
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    rgb = np.asarray(decode_image(_encode(Image.fromarray(gray, "L")), "g.png"))
    assert rgb.shape == (8, 8, 3)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[:, :, channel], gray)


def test_rgba_is_composited_on_white():
    pixels = np.zeros((4, 4, 4), dtype=np.uint8)
    pixels[..., 0] = 200                 # red channel
    pixels[:2, :, 3] = 255               # top half opaque, bottom half fully transparent
    pixels[2:, :, 3] = 0
    rgb = np.asarray(decode_image(_encode(Image.fromarray(pixels, "RGBA")), "a.png"))
    np.testing.assert_array_equal(rgb[:2].reshape(-1, 3), np.tile([200, 0, 0], (8, 1)))
    np.testing.assert_array_equal(rgb[2:], 255)


def test_16bit_grayscale_is_scaled_to_8bit():
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    image = Image.fromarray(values)
    assert image.mode.startswith("I;16")
    rgb = np.asarray(decode_image(_encode(image), "deep.png"))
    np.testing.assert_array_equal(rgb[0, :, 0], [0, 1, 128, 255])


def test_palette_image_uses_its_palette_and_transparency():
    palette_image = Image.new("P", (2, 1))
    palette_image.putpalette([10, 20, 30, 40, 50, 60] + [0] * 762)
    palette_image.putpixel((0, 0), 0)
    palette_image.putpixel((1, 0), 1)
    rgb = np.asarray(decode_image(_encode(palette_image), "p.png"))
    np.testing.assert_array_equal(rgb[0], [[10, 20, 30], [40, 50, 60]])
    transparent = _encode(palette_image, transparency=1)
    decoded = np.asarray(decode_image(transparent, "pt.png"))
    np.testing.assert_array_equal(decoded[0], [[10, 20, 30], [255] * 3])


def test_cmyk_converts_to_rgb():
    cmyk = Image.new("CMYK", (3, 3), (0, 255, 255, 0))  # pure red in CMYK
    rgb = np.asarray(decode_image(_encode(cmyk, "JPEG", quality=100), "c.jpg"))
    assert rgb.shape == (3, 3, 3) and rgb[1, 1, 0] > 200 and rgb[1, 1, 1] < 60


def test_truncated_file_names_the_file(rgb_png_bytes):
    data = rgb_png_bytes(32, 32)
    with pytest.raises(BadImageError, match=r"cut\.png.*truncated"):
        decode_image(data[: len(data) // 2], "cut.png")


def test_text_named_png_names_the_file():
    with pytest.raises(BadImageError, match=r"'notes\.png' is not an image"):
        decode_image(b"hello, I am text", "notes.png")


def test_too_small_image_names_the_file_and_sizes(rgb_png_bytes):
    with pytest.raises(BadImageError, match=r"'small\.png' is 8x6 pixels, smaller than the 8x8"):
        decode_and_fit(rgb_png_bytes(8, 6), "small.png", 8, None)


@pytest.mark.parametrize("size, aspect, expected", [
    ((10, 6), 1.0, (2, 0, 8, 6)), ((6, 10), 1.0, (0, 2, 6, 8)),
    ((16, 16), 4 / 3, (0, 2, 16, 14)), ((9, 9), 1.0, (0, 0, 9, 9))])
def test_crop_box_is_centred_and_of_the_requested_aspect(size, aspect, expected):
    assert crop_box(*size, aspect) == expected


def test_fit_to_square_centre_crops_without_resampling_at_matching_size():
    pixels = np.arange(10 * 8 * 3, dtype=np.uint8).reshape(8, 10, 3)
    square = fit_to_square(Image.fromarray(pixels), 8)
    np.testing.assert_array_equal(square, pixels[:, 1:9].transpose(2, 0, 1))


def test_content_height_letterboxes_with_black_bars():
    pixels = np.full((6, 8, 3), 200, dtype=np.uint8)
    square = fit_to_square(Image.fromarray(pixels), 8, content_height=6)
    assert square.shape == (3, 8, 8)
    np.testing.assert_array_equal(square[:, 1:7], 200)
    np.testing.assert_array_equal(square[:, 0], 0)
    np.testing.assert_array_equal(square[:, 7], 0)


def test_content_height_crops_wide_content_to_its_aspect():
    pixels = np.zeros((6, 12, 3), dtype=np.uint8)
    pixels[:, 2:10] = 255   # the centre 8 columns are white, the side columns black
    square = fit_to_square(Image.fromarray(pixels), 8, content_height=6)
    np.testing.assert_array_equal(square[:, 1:7], 255)


def test_decode_entries_skips_and_counts_bad_files(rgb_png_bytes):
    entries = [("good.png", rgb_png_bytes(8, 8)), ("bad.png", b"xx"), ("small.png", rgb_png_bytes(4, 4))]
    skips = SkipLog(skip_bad=True)
    images = list(decode_entries(entries, 8, None, skips))
    assert len(images) == 1 and skips.names == ["bad.png", "small.png"]
    with pytest.raises(BadImageError, match=r"bad\.png.*skip_bad=True"):
        list(decode_entries(entries, 8, None, SkipLog(skip_bad=False)))
