"""`python -m harness import-official PKL --out DIR [--data SOURCE]`: official pickle -> registry networks.

DIR is laid out like a training run, so `python -m harness metrics --network DIR` measures it:
- `snapshots/000000.{safetensors,json}`: G_ema (the network the metrics evaluate), `G.*`, `D.*`:
  variants.save_network files (safetensors + JSON config);
- `config.json`: G_ema's Config; `options.json`: `{"data": SOURCE}` when --data is given (the
  real images metrics compare with);
- `official.json`: the source file's sha256 and size, the official settings read from it, each
  network's {registry name: official name} table and what the registry does differently.
Nothing from the pickle is executed (see harness.official.unpickler).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import variants
from common.io import write_json_atomic
from harness.official.convert import (
    convert_discriminator,
    convert_generator,
    discriminator_settings,
    fp16_resolutions,
    generator_settings,
)
from harness.official.names import official_names
from harness.official.unpickler import OfficialPickleError, PersistentObject, load_official_pickle
from harness.rundir import RunDir

SNAPSHOT = RunDir("").snapshot_path(0)  # G_ema; kimg 0: the pickle does not say how long it trained
RECORD_NAME = "official.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pkl", help="official network pickle (stylegan2-ada-pytorch / stylegan3 format)")
    parser.add_argument("--out", required=True, help="folder for the converted networks (created)")
    parser.add_argument("--data", default=None,
                        help="dataset source the metrics compare with (written to DIR/options.json)")


def run(args: argparse.Namespace) -> int:
    record = import_official(args.pkl, args.out, data=args.data)
    print(json.dumps({"out": str(args.out), "sha256": record["source"]["sha256"],
                      "networks": record["networks"], "config": record["config"]["G_ema"]["name"]}))
    if args.data is None:
        print(f"note: pass --data SOURCE to measure it with `python -m harness metrics --network {args.out}`")
    return 0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _networks(top: dict, path: Path) -> dict[str, PersistentObject]:
    found = {key: top.get(key) for key in ("G_ema", "G", "D") if top.get(key) is not None}
    if not isinstance(found.get("G_ema"), PersistentObject):
        raise OfficialPickleError(f"{path} has no official G_ema network (keys: {sorted(top)})")
    wrong = [key for key, value in found.items() if not isinstance(value, PersistentObject)]
    if wrong:
        raise OfficialPickleError(f"{path}: {wrong} are not official network objects")
    return found


def import_official(pkl: str | Path, out: str | Path, *, data: str | None = None) -> dict:
    """Convert the official pickle `pkl` into registry networks under `out`; returns the record."""
    pkl, out = Path(pkl), Path(out)
    objects = _networks(load_official_pickle(pkl), pkl)
    name = f"official:{pkl.name}"
    converted = {"G_ema": convert_generator(objects["G_ema"], name=name)}
    if "G" in objects:
        converted["G"] = convert_generator(objects["G"], name=name)
    if "D" in objects:
        converted["D"] = convert_discriminator(objects["D"], converted["G_ema"].config)
    paths = {key: SNAPSHOT if key == "G_ema" else Path(key) for key in converted}
    settings = {key: (discriminator_settings if key == "D" else generator_settings)(objects[key])
                for key in converted}
    record = {
        "source": {"path": str(pkl.resolve()), "sha256": _sha256(pkl), "size_bytes": pkl.stat().st_size,
                   "format": "official StyleGAN2 PyTorch pickle (persistent classes)",
                   "code_executed": False},
        "networks": {key: str(path) for key, path in paths.items()},
        "official_settings": settings,
        "config": {key: net.config.to_dict() for key, net in converted.items()},
        "names": {key: official_names(net) for key, net in converted.items()},
        "differences": _differences(objects, settings),
    }
    (out / SNAPSHOT).parent.mkdir(parents=True, exist_ok=True)
    for key, net in converted.items():
        variants.save_network(out / paths[key], net)
    run = RunDir(out)  # a run folder without training: `metrics` measures it like any other
    run.write_json(RunDir.CONFIG, converted["G_ema"].config.to_dict())
    if data is not None:
        run.write_json(RunDir.OPTIONS, {"data": data, "imported_from": str(pkl.resolve())})
    write_json_atomic(out / RECORD_NAME, record)
    return record


def _differences(objects: dict[str, PersistentObject], settings: dict[str, dict]) -> list[str]:
    """What the registry computes differently from the official network (none changes the weights)."""
    notes = []
    for key, obj in objects.items():
        fp16 = fp16_resolutions(obj)
        if fp16:
            notes.append(f"{key}: the official network runs resolutions {fp16} in float16 on GPUs "
                         f"(num_fp16_res); the registry computes them in float32")
    d_settings = settings.get("D")
    if d_settings and d_settings["architecture"] == "skip" and d_settings["conv_clamp"] is not None:
        notes.append("D: the official epilogue's FromRGB does not clamp; the registry's clamps at conv_clamp")
    return notes
