"""A ZIP archive of images; members are read in sorted name order.

Nothing is extracted to disk, but a hostile archive can still ask for memory: every member's
declared size and compression ratio are checked before anything is read (a 3 MB archive can
declare a 3 GB member), and each member is read with a cap, so a lying header cannot inflate
past it either. Member names that climb out of the archive (`../x.png`, `/x.png`) are reported
as bad images rather than dropped; `./imgs/0.png` is an ordinary name.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.cache import file_identity
from harness.data.checks import (
    IMAGE_EXTENSIONS,
    MAX_ENCODED_BYTES,
    RGB_CHANNELS,
    BadImageError,
    DatasetError,
    SkipLog,
    decode_entries,
    has_image_extension,
)
from harness.data.folder import USER_DATA_LICENCE

# Past this size a member must not be compressed more than MAX_RATIO:1 (image formats compress
# little; a flat multi-megabyte bitmap that does can be repacked as PNG).
RATIO_CHECKED_BYTES = 16 << 20
MAX_RATIO = 100


def _name_parts(name: str) -> list[str]:
    """The member's path parts with '.' and empty parts left out ('./imgs/0.png' -> imgs, 0.png)."""
    return [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]


def is_unsafe_name(name: str) -> bool:
    """Names that would point outside the archive if extracted: '..' parts, absolute, drive letters."""
    return (name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":")
            or ".." in _name_parts(name))


def list_image_members(archive: zipfile.ZipFile) -> tuple[list[zipfile.ZipInfo], list[str]]:
    """(image members by extension, names of unsafe image members), leaving out folders, hidden
    files and macOS resource forks; both sorted by name."""
    members, unsafe = [], []
    for member in archive.infolist():
        if member.is_dir() or not has_image_extension(member.filename):
            continue
        if is_unsafe_name(member.filename):
            unsafe.append(member.filename)
            continue
        if any(part.startswith(".") or part == "__MACOSX" for part in _name_parts(member.filename)):
            continue
        members.append(member)
    return sorted(members, key=lambda member: member.filename), sorted(unsafe)


def size_problem(member: zipfile.ZipInfo) -> str | None:
    """Why a member's declared sizes make it unsafe to read, or None."""
    size, packed = member.file_size, max(member.compress_size, 1)
    if size > MAX_ENCODED_BYTES:
        return (f"declares {size / 2**20:.0f} MiB uncompressed, more than the "
                f"{MAX_ENCODED_BYTES / 2**20:.0f} MiB any image may take")
    if size > RATIO_CHECKED_BYTES and size / packed > MAX_RATIO:
        return (f"declares {size / 2**20:.0f} MiB from {packed / 2**20:.2f} MiB compressed (ratio "
                f"{size / packed:.0f}:1, above {MAX_RATIO}:1): a likely ZIP bomb")
    return None


def read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str) -> bytes:
    """The member's bytes, read with a cap of its declared size (and MAX_ENCODED_BYTES)."""
    limit = min(member.file_size, MAX_ENCODED_BYTES)
    try:
        with archive.open(member) as handle:
            data = handle.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:  # damaged data, bad CRC
        raise BadImageError(f"{name!r} cannot be read from the archive: {error}") from error
    if len(data) > limit:
        raise BadImageError(f"{name!r} inflates past its declared {member.file_size} bytes")
    return data


class ZipSource:
    """Images inside a .zip; user data, so the licence is unknown."""

    licence = USER_DATA_LICENCE
    looked_for = f"members ending in {', '.join(IMAGE_EXTENSIONS)} in the ZIP archive"
    channels = RGB_CHANNELS  # grayscale files are replicated to RGB (harness.data.checks)

    def __init__(self, path: Path):
        self.path = path.resolve()
        self.name = self.path.stem
        self.source = str(self.path)
        self.attribution = f"images from the archive {self.path}"
        try:
            with zipfile.ZipFile(self.path) as archive:
                members, self.unsafe_names = list_image_members(archive)
        except zipfile.BadZipFile as error:
            raise DatasetError(f"{self.source!r} is not a readable ZIP archive: {error}") from error
        self.too_large = {member.filename: problem for member in members
                          if (problem := size_problem(member)) is not None}
        self.members = [member for member in members if member.filename not in self.too_large]

    def identity(self) -> dict[str, Any]:
        return {"kind": "zip", "path": self.source, "file": file_identity(self.path)}

    def max_images(self) -> int:
        return len(self.members)

    def _report_refused(self, skips: SkipLog) -> None:
        """Unsafe names and oversized members are bad images: an error, or skipped with skip_bad."""
        for name in self.unsafe_names:
            skips.handle(BadImageError(f"{self.source}:{name!r} has an unsafe name (it points outside the "
                                       f"archive); rename it inside the ZIP"), f"{self.source}:{name}")
        for name, problem in self.too_large.items():
            skips.handle(BadImageError(f"{self.source}:{name!r} {problem}; nothing was read"),
                         f"{self.source}:{name}")

    def _entries(self) -> Iterator[tuple[str, bytes]]:
        with zipfile.ZipFile(self.path) as archive:
            for member in self.members:
                name = f"{self.source}:{member.filename}"
                try:
                    yield name, read_member(archive, member, name)
                except BadImageError as error:  # decode_entries reports it like an undecodable file
                    yield name, error

    def iter_images(self, resolution: int, content_height: int | None,
                    skips: SkipLog) -> Iterator[np.ndarray]:
        self._report_refused(skips)
        return decode_entries(self._entries(), resolution, content_height, skips)
