"""Save and load networks as a safetensors state dict plus a JSON config; never unpickle code.

`save_network(path, net)` writes `<path>.safetensors` (the state dict, with the config name in its
metadata) and `<path>.json` (the config, the network kind and its growth state), both atomically.
`load_network(path)` rebuilds the network from the registry and loads the weights;
`load_weights(net, path)` loads weights into an existing network and, when they do not fit, says
which config they were saved for and which one the network was built from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from common.io import dumps_json, file_sha256, write_bytes_atomic, write_text_atomic
from variants.configs import Config
from variants.discriminators import Discriminator, build_discriminator
from variants.generators import Generator, build_generator

FORMAT = "variants-network"
FORMAT_VERSION = 1
BUILDERS = {"generator": build_generator, "discriminator": build_discriminator}
SUFFIXES = (".safetensors", ".json")


def _base_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in SUFFIXES else path


def _describe(cfg: Config, kind: str) -> str:
    arch = cfg.g_arch if kind == "generator" else cfg.d_arch
    return f"config {cfg.name!r} ({kind} {arch!r}, {cfg.style_block}, {cfg.resolution}px, " \
           f"fmap_base {cfg.fmap_base}, width x{cfg.width_multiplier})"


def save_network(path: str | Path, net: Generator | Discriminator) -> tuple[Path, Path]:
    """Write `<path>.safetensors` and `<path>.json`; returns both paths."""
    if not isinstance(net, Generator | Discriminator):
        raise TypeError(f"save_network takes a variants Generator or Discriminator, got {type(net).__name__}")
    base = _base_path(path)
    state = {name: tensor.detach().to("cpu").contiguous() for name, tensor in net.state_dict().items()}
    metadata = {"format": FORMAT, "kind": net.kind, "config_name": net.config.name,
                "config": net.config.to_json()}
    weights = safetensors_bytes(state, metadata)
    weights_path = write_bytes_atomic(base.with_suffix(".safetensors"), weights)
    growth = net.growth
    record = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": net.kind,
              "arch": net.registered_name, "config": net.config.to_dict(),
              "growth": {"resolution": growth.resolution, "alpha": growth.alpha},
              "sha256": hashlib.sha256(weights).hexdigest()}  # checked by load_weights
    json_path = write_text_atomic(base.with_suffix(".json"), dumps_json(record, indent=2) + "\n")
    return weights_path, json_path


def read_network_record(path: str | Path) -> tuple[str, Config, dict]:
    """(kind, config, growth) from `<path>.json` without building anything."""
    json_path = _base_path(path).with_suffix(".json")
    record = json.loads(json_path.read_text(encoding="utf-8"))
    if record.get("format") != FORMAT or record.get("kind") not in BUILDERS:
        raise ValueError(f"{json_path} is not a saved variants network (format {record.get('format')!r}, "
                         f"kind {record.get('kind')!r}; expected format {FORMAT!r}, "
                         f"kind one of {tuple(BUILDERS)})")
    return record["kind"], Config.from_dict(record["config"]), record.get("growth", {})


def load_network(path: str | Path, *, device: str | torch.device = "cpu",
                 impl: str | None = None) -> Generator | Discriminator:
    """Rebuild the network saved at `path` from the registry, load its weights and growth state."""
    kind, cfg, growth = read_network_record(path)
    net = BUILDERS[kind](cfg, impl=impl)
    load_weights(net, path)
    if growth:
        net.set_growth(int(growth["resolution"]), float(growth["alpha"]))
    return net.to(device)


def load_weights(net: Generator | Discriminator, path: str | Path) -> None:
    """Load `<path>.safetensors` into `net`; a mismatch raises ValueError naming both configs."""
    weights_path = _base_path(path).with_suffix(".safetensors")
    verify_checksum(weights_path)
    state = load_file(weights_path)
    with safe_open(weights_path, framework="pt") as file:  # metadata: the config they were saved for
        metadata = file.metadata() or {}
    saved_cfg = Config.from_json(metadata["config"]) if "config" in metadata else None
    load_state_checked(net, state, saved_cfg, source=str(weights_path), saved_kind=metadata.get("kind"))


class CorruptFileError(ValueError):
    """A saved file's bytes differ from the sha256 recorded beside it; the message names both."""


def verify_checksum(weights_path: Path) -> None:
    """Raise CorruptFileError when `<name>.safetensors` does not match the sha256 in `<name>.json`
    (files saved before checksums existed carry none and are not checked)."""
    json_path = weights_path.with_suffix(".json")
    try:
        expected = json.loads(json_path.read_text(encoding="utf-8")).get("sha256")
    except (OSError, ValueError):
        expected = None
    if expected is None:
        return
    actual = file_sha256(weights_path)
    if actual != expected:
        siblings = weights_path.parent.glob("*.safetensors")
        earlier = sorted(other.stem for other in siblings if other.stem < weights_path.stem)
        advice = f"earlier ones beside it: {', '.join(earlier[-3:])}" if earlier else "none is older"
        raise CorruptFileError(f"{weights_path} is corrupt: its sha256 is {actual[:16]}..., "
                               f"{json_path.name} records {expected[:16]}...; use another snapshot "
                               f"({advice}) or save it again")


def state_differences(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]
                      ) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, wrong_shape), each sorted: the names `expected` has and `given` lacks, the
    names only `given` has, and the shared names whose tensors differ in shape."""
    shared = expected.keys() & given.keys()
    return (sorted(expected.keys() - given.keys()), sorted(given.keys() - expected.keys()),
            sorted(name for name in shared if expected[name].shape != given[name].shape))


def load_state_checked(net: Generator | Discriminator, state: dict[str, torch.Tensor],
                       saved_cfg: Config | None, *, source: str = "state dict",
                       saved_kind: str | None = None) -> None:
    """`net.load_state_dict(state)` that explains a mismatch in terms of the two configs."""
    missing, unexpected, wrong_shape = state_differences(net.state_dict(), state)
    kind_mismatch = saved_kind is not None and saved_kind != net.kind
    if missing or unexpected or wrong_shape or kind_mismatch:
        saved = "an unknown config" if saved_cfg is None else _describe(saved_cfg, saved_kind or net.kind)
        differing = [] if saved_cfg is None else [
            f"{name}: {getattr(saved_cfg, name)!r} vs {getattr(net.config, name)!r}"
            for name in Config.__dataclass_fields__
            if name != "name" and getattr(saved_cfg, name) != getattr(net.config, name)]
        details = [f"{len(missing)} missing (e.g. {missing[:3]})" if missing else "",
                   f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})" if unexpected else "",
                   f"{len(wrong_shape)} of another shape (e.g. {wrong_shape[:3]})" if wrong_shape else ""]
        raise ValueError(
            f"weights from {source} were saved for {saved} ({saved_kind or 'unknown kind'}) and do not fit "
            f"the {net.kind} built for {_describe(net.config, net.kind)}: "
            f"{'; '.join(d for d in details if d) or 'kind differs'}. "
            f"Differing config fields (saved vs this network): {', '.join(differing) or 'none'}. "
            f"Build the network from the saved config (variants.load_network) instead.")
    net.load_state_dict(state)
