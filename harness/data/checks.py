"""Decoding odd images into RGB, fitting them to the training square, and clear errors.

Every file-based source (folder, ZIP, LMDB) funnels its encoded bytes through `decode_and_fit`,
so the conversions are the same everywhere:

- grayscale (L, 1, I;16, I, F) is replicated to RGB; 16-bit and 32-bit integer images are scaled
  to 8 bits by x / 257 (65535 -> 255); float images are read as already in [0, 255];
- palette (P) images are expanded through their palette, keeping any transparency;
- anything with alpha (RGBA, LA, PA, transparent P) is composited on WHITE, the same background
  the built-in emoji datasets are rendered on;
- CMYK, YCbCr and other colour spaces go through Pillow's conversion to RGB;
- EXIF orientation is applied, so phone photos stand upright.

A file that cannot be decoded, or is smaller than the output needs, raises `BadImageError`
naming the file; with `skip_bad=True` the caller records it in a `SkipLog` instead.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

RGB_CHANNELS = 3  # what decode_and_fit returns: every file-based source is read as RGB
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".ppm", ".pgm")
ALPHA_BACKGROUND = (255, 255, 255)  # RGBA and transparent images are composited on white
SKIPPED_NAMES_KEPT = 5  # how many skipped file names travel into DatasetInfo
# No encoded image is read past this many bytes (a 1024x1024 PNG is a few MiB; a bigger file is a
# mistake or an attack). Pillow's own decompression-bomb limit (Image.MAX_IMAGE_PIXELS) stays on.
MAX_ENCODED_BYTES = 256 << 20
SKIP_ADVICE = "pass --skip-bad (skip_bad=True in Python) to skip bad images and count them"


class DatasetError(ValueError):
    """A dataset cannot be opened: missing, empty, unreadable, or asked for in a wrong way."""


class BadImageError(DatasetError):
    """One image of a dataset cannot be used; the message names the file and the cause."""


class SkipLog:
    """Collects the names of bad images while a cache is built (skip_bad=True), or raises."""

    def __init__(self, skip_bad: bool):
        self.skip_bad = skip_bad
        self.names: list[str] = []

    def handle(self, error: BadImageError, name: str) -> None:
        """Record `name` as skipped, or re-raise `error` when skipping is off."""
        if not self.skip_bad:
            raise BadImageError(f"{error} ({SKIP_ADVICE})") from error
        self.names.append(name)


def has_image_extension(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow image -> 8-bit RGB (see the module docstring for each mode's rule)."""
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16/32-bit integers: 65535 -> 255, so a 16-bit PNG keeps its full tonal range.
        values = np.asarray(image, dtype=np.float64)
        gray = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(gray[:, :, None], 3, axis=2), mode="RGB")
    if mode == "F":
        gray = np.clip(np.rint(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(gray[:, :, None], 3, axis=2), mode="RGB")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    elif mode in ("L", "1") and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, ALPHA_BACKGROUND)
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def crop_box(width: int, height: int, aspect: float) -> tuple[int, int, int, int]:
    """The largest centred box of the given aspect (width / height) inside a width x height image."""
    if width / height > aspect:
        crop_width, crop_height = max(1, round(height * aspect)), height
    else:
        crop_width, crop_height = width, max(1, round(width / aspect))
    left, top = (width - crop_width) // 2, (height - crop_height) // 2
    return left, top, left + crop_width, top + crop_height


def fit_to_square(image: Image.Image, resolution: int, content_height: int | None = None,
                  *, allow_upscale: bool = False, name: str = "image") -> np.ndarray:
    """Centre-crop and resize an RGB image; returns uint8 [3, resolution, resolution].

    With `content_height` (e.g. 384 at resolution 512, as StyleGAN2 trained LSUN Car), the image
    is centre-cropped to resolution:content_height, resized to that, and padded with black bars
    above and below. Downsampling uses Lanczos, as StyleGAN's dataset tool does.
    """
    target_height = resolution if content_height is None else content_height
    left, top, right, bottom = crop_box(image.width, image.height, resolution / target_height)
    if not allow_upscale and (right - left < resolution or bottom - top < target_height):
        raise BadImageError(
            f"{name!r} is {image.width}x{image.height} pixels, smaller than the {resolution}x{target_height} "
            f"content needed at resolution {resolution}; choose a smaller resolution or remove the file")
    image = image.crop((left, top, right, bottom))
    if image.size != (resolution, target_height):
        image = image.resize((resolution, target_height), Image.Resampling.LANCZOS)
    content = np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)
    if target_height == resolution:
        return np.ascontiguousarray(content)
    square = np.zeros((3, resolution, resolution), dtype=np.uint8)  # black bars, as for LSUN Car
    offset = (resolution - target_height) // 2
    square[:, offset:offset + target_height] = content
    return square


def decode_image(data: bytes, name: str) -> Image.Image:
    """Encoded bytes -> fully loaded RGB image; BadImageError names `name` on any decoding failure."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()  # truncated files fail here, not lazily later
            return to_rgb(opened)
    except UnidentifiedImageError as error:
        raise BadImageError(f"{name!r} is not an image Pillow can read ({len(data)} bytes)") from error
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise BadImageError(f"{name!r} cannot be decoded (truncated or corrupt?): {error}") from error


def decode_and_fit(data: bytes, name: str, resolution: int, content_height: int | None) -> np.ndarray:
    """Encoded bytes -> uint8 [3, resolution, resolution]; BadImageError names `name`."""
    return fit_to_square(decode_image(data, name), resolution, content_height, name=name)


def read_capped(path: Path) -> bytes | BadImageError:
    """A file's bytes, or a BadImageError (for decode_entries) when it exceeds MAX_ENCODED_BYTES."""
    size = path.stat().st_size
    if size > MAX_ENCODED_BYTES:
        return BadImageError(f"{str(path)!r} is {size / 2**20:.0f} MiB, more than the "
                             f"{MAX_ENCODED_BYTES / 2**20:.0f} MiB any image may take")
    return path.read_bytes()


def decode_entries(entries: Iterable[tuple[str, bytes | BadImageError]], resolution: int,
                   content_height: int | None, skips: SkipLog) -> Iterator[np.ndarray]:
    """Decode (name, bytes) pairs in order, yielding uint8 [3, H, W]; bad ones go to `skips`
    (a source passes a BadImageError instead of bytes for an entry it refused to read)."""
    for name, data in entries:
        try:
            if isinstance(data, BadImageError):
                raise data
            yield decode_and_fit(data, name, resolution, content_height)
        except BadImageError as error:
            skips.handle(error, name)
