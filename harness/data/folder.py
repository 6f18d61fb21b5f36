"""An image folder, searched recursively; files are read in sorted relative-path order."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.cache import file_identity
from harness.data.checks import (
    IMAGE_EXTENSIONS,
    RGB_CHANNELS,
    SkipLog,
    decode_entries,
    has_image_extension,
    read_capped,
)

USER_DATA_LICENCE = "unknown (user-provided)"


def list_image_files(root: Path) -> list[Path]:
    """Image files under root (any depth), by extension, hidden files and folders left out."""
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        found.extend(Path(directory) / name for name in files
                     if not name.startswith(".") and has_image_extension(name))
    return sorted(found, key=lambda path: path.relative_to(root).as_posix())


class FolderSource:
    """Images in a folder tree; user data, so the licence is unknown."""

    licence = USER_DATA_LICENCE
    looked_for = f"files ending in {', '.join(IMAGE_EXTENSIONS)} in the folder and its subfolders"
    channels = RGB_CHANNELS  # grayscale files are replicated to RGB (harness.data.checks)

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.name = self.root.name
        self.source = str(self.root)
        self.attribution = f"images from the folder {self.root}"
        self.files = list_image_files(self.root)

    def identity(self) -> dict[str, Any]:
        listing = []
        for path in self.files:
            listing.append([path.relative_to(self.root).as_posix(), *file_identity(path)])
        return {"kind": "folder", "path": self.source, "files": listing}

    def max_images(self) -> int:
        return len(self.files)

    def _entries(self) -> Iterator[tuple[str, bytes]]:
        for path in self.files:
            yield str(path), read_capped(path)

    def iter_images(self, resolution: int, content_height: int | None,
                    skips: SkipLog) -> Iterator[np.ndarray]:
        return decode_entries(self._entries(), resolution, content_height, skips)
