"""An LMDB of encoded images, as LSUN ships them (values are webp/jpeg bytes, keys are image ids).

The `lmdb` package is imported only when such a dataset is opened. Records are read in key order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.cache import file_identity
from harness.data.checks import (
    MAX_ENCODED_BYTES,
    RGB_CHANNELS,
    BadImageError,
    DatasetError,
    SkipLog,
    decode_entries,
)
from harness.data.folder import USER_DATA_LICENCE


def is_lmdb_path(path: Path) -> bool:
    """An LMDB environment: a folder holding data.mdb, or a data.mdb file itself."""
    return (path.is_dir() and (path / "data.mdb").is_file()) or (path.is_file() and path.suffix == ".mdb")


def _open_environment(path: Path):
    try:
        import lmdb
    except ImportError as error:
        message = f"reading the LMDB {str(path)!r} needs the lmdb package: pip install lmdb"
        raise DatasetError(message) from error
    try:
        return lmdb.open(str(path), subdir=path.is_dir(), readonly=True, lock=False, readahead=False,
                         meminit=False, max_readers=8)
    except lmdb.Error as error:
        raise DatasetError(f"{str(path)!r} is not a readable LMDB environment: {error}") from error


class LmdbSource:
    """Images stored as values of an LMDB; user data, so the licence is unknown."""

    licence = USER_DATA_LICENCE
    looked_for = "records (encoded images) in the LMDB's main database"
    channels = RGB_CHANNELS  # grayscale files are replicated to RGB (harness.data.checks)

    def __init__(self, path: Path):
        self.path = path.resolve()
        self.name = self.path.name if self.path.is_dir() else self.path.parent.name
        self.source = str(self.path)
        self.attribution = f"images from the LMDB {self.path}"
        with _open_environment(self.path) as environment:
            self.num_records = int(environment.stat()["entries"])

    def _data_file(self) -> Path:
        return self.path / "data.mdb" if self.path.is_dir() else self.path

    def identity(self) -> dict[str, Any]:
        return {"kind": "lmdb", "path": self.source, "file": file_identity(self._data_file()),
                "records": self.num_records}

    def max_images(self) -> int:
        return self.num_records

    def _entries(self) -> Iterator[tuple[str, bytes]]:
        with _open_environment(self.path) as environment, environment.begin(write=False) as transaction:
            for key, value in transaction.cursor():
                name = f"{self.source}:{key.decode(errors='replace')}"
                if len(value) > MAX_ENCODED_BYTES:  # checked before the copy out of the memory map
                    yield name, BadImageError(f"{name!r} is {len(value) / 2**20:.0f} MiB, more than the "
                                              f"{MAX_ENCODED_BYTES / 2**20:.0f} MiB any image may take")
                    continue
                yield name, bytes(value)

    def iter_images(self, resolution: int, content_height: int | None,
                    skips: SkipLog) -> Iterator[np.ndarray]:
        return decode_entries(self._entries(), resolution, content_height, skips)
