"""A ZIP archive of images; members are read in sorted name order."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.checks import IMAGE_EXTENSIONS, DatasetError, SkipLog, decode_entries, has_image_extension
from harness.data.folder import USER_DATA_LICENCE


def list_image_members(archive: zipfile.ZipFile) -> list[str]:
    """Image members by extension, leaving out folders, hidden files and macOS resource forks."""
    names = []
    for member in archive.infolist():
        parts = member.filename.split("/")
        if member.is_dir() or any(part.startswith(".") or part == "__MACOSX" for part in parts):
            continue
        if has_image_extension(member.filename):
            names.append(member.filename)
    return sorted(names)


class ZipSource:
    """Images inside a .zip; user data, so the licence is unknown."""

    licence = USER_DATA_LICENCE
    looked_for = f"members ending in {', '.join(IMAGE_EXTENSIONS)} in the ZIP archive"

    def __init__(self, path: Path):
        self.path = path.resolve()
        self.name = self.path.stem
        self.source = str(self.path)
        self.attribution = f"images from the archive {self.path}"
        try:
            with zipfile.ZipFile(self.path) as archive:
                self.members = list_image_members(archive)
        except zipfile.BadZipFile as error:
            raise DatasetError(f"{self.source!r} is not a readable ZIP archive: {error}") from error

    def identity(self) -> dict[str, Any]:
        stat = self.path.stat()
        return {"kind": "zip", "path": self.source, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}

    def max_images(self) -> int:
        return len(self.members)

    def _entries(self) -> Iterator[tuple[str, bytes]]:
        with zipfile.ZipFile(self.path) as archive:
            for member in self.members:
                yield f"{self.source}:{member}", archive.read(member)

    def iter_images(self, resolution: int, content_height: int | None,
                    skips: SkipLog) -> Iterator[np.ndarray]:
        return decode_entries(self._entries(), resolution, content_height, skips)
