"""Unicode emoji groups (smileys-emotion, people-body, ...) for every emoji sequence.

The table `emoji_groups.json` beside this file is generated from Unicode's emoji-test.txt
(UTS #51, Unicode License v3) by `write_table(Path("emoji-test.txt"))`.
Sequences are upper-case hex code points joined by '-', with the variation selector FE0F
dropped, so 'the same emoji with or without FE0F' has one key. OpenMoji's own additions that
Unicode does not list fall into its two extra groups: private-use code points are
'extras-openmoji', the rest 'extras-unicode'.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

TABLE_PATH = Path(__file__).with_name("emoji_groups.json")
SKIN_TONES = {"1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"}
EXTRA_GROUPS = ("extras-openmoji", "extras-unicode")


def normalise_sequence(sequence: str) -> str:
    """'1f636-200d-1f32b-fe0f' -> '1F636-200D-1F32B' (upper case, FE0F dropped)."""
    return "-".join(point for point in sequence.upper().split("-") if point and point != "FE0F")


def slugify_group(title: str) -> str:
    """'Smileys & Emotion' -> 'smileys-emotion'."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def parse_emoji_test(text: str) -> dict[str, str]:
    """emoji-test.txt content -> {normalised sequence: group slug} for its RGI emoji and components."""
    groups: dict[str, str] = {}
    group = None
    for line in text.splitlines():
        if line.startswith("# group:"):
            group = slugify_group(line.split(":", 1)[1])
            continue
        if not line.strip() or line.startswith("#"):
            continue
        points, _, rest = line.partition(";")
        status = rest.split("#", 1)[0].strip()
        if status in ("fully-qualified", "component") and group is not None:
            groups[normalise_sequence("-".join(points.split()))] = group
    return groups


@functools.cache
def _table_record() -> Mapping[str, object]:
    return MappingProxyType(json.loads(TABLE_PATH.read_text()))


@functools.cache
def load_group_table() -> Mapping[str, str]:
    """The shipped table as a read-only {normalised sequence: group slug} mapping."""
    return MappingProxyType({sequence: group for group, sequences in _table_record()["groups"].items()
                             for sequence in sequences})


def table_version() -> str:
    """The Unicode emoji version the shipped table was generated from, e.g. '17.0'."""
    return str(_table_record()["version"])


def group_of(sequence: str, table: Mapping[str, str] | None = None) -> str:
    """The group of an emoji sequence, falling back to its base emoji, then OpenMoji's extras."""
    table = load_group_table() if table is None else table
    key = normalise_sequence(sequence)
    if key in table:
        return table[key]
    base = "-".join(point for point in key.split("-") if point not in SKIN_TONES).split("-200D")[0]
    if base in table:
        return table[base]
    first = int(key.split("-")[0], 16)
    return "extras-openmoji" if 0xE000 <= first <= 0xF8FF or first >= 0xF0000 else "extras-unicode"


def write_table(emoji_test_path: Path, out_path: Path = TABLE_PATH) -> None:
    text = emoji_test_path.read_text(encoding="utf-8")
    version = re.search(r"^# Version: (\S+)", text, flags=re.MULTILINE)
    by_group: dict[str, list[str]] = {}
    for sequence, group in parse_emoji_test(text).items():
        by_group.setdefault(group, []).append(sequence)
    record = {"source": "Unicode emoji-test.txt (UTS #51), Unicode License v3",
              "version": version.group(1) if version else "unknown",
              "groups": {group: sorted(sequences) for group, sequences in by_group.items()}}
    from common.io import write_json_atomic

    write_json_atomic(out_path, record, indent=None, compact=True)  # groups in Unicode's order

