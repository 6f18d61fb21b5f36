"""Parameter names: the registry's StyleGAN2 networks <-> the official PyTorch code's.

Official names (stylegan2-ada-pytorch `training/networks.py`, stylegan3 `networks_stylegan2.py`):
- G: `mapping.fc<i>.{weight,bias}`, `mapping.w_avg`; `synthesis.b<res>.const` (4x4 only),
  `.conv0` (up-sampling layer, absent at 4x4) and `.conv1`, each `{weight, bias, noise_const,
  noise_strength, affine.weight, affine.bias}`; `.torgb.{weight, bias, affine.*}` (every block for
  skip, the last for orig/resnet); `.skip.weight` (resnet, not at 4x4).
- D: `b<res>.{fromrgb, conv0, conv1}.{weight,bias}` and `b<res>.skip.weight` (resnet) for
  res = R..8; the epilogue `b4.{fromrgb (skip), conv, fc, out}.{weight,bias}` (`b4.mbstd` has none).
- Every official resampling layer also stores its FIR filter as a buffer `resample_filter`; the
  registry rebuilds the same [1, 3, 3, 1] filter, so these are checked and not copied.
The registry stores the same numbers in the same layout (equalised-lr weights as N(0,1) / lr_mult,
official kernel orientation), so conversion is renaming only.
"""

from __future__ import annotations

import torch

from variants.layers import make_resample_filter
from variants.serialization import state_differences

# The official SynthesisLayer's names of the registry's NoiseInput tensors.
_LAYER_RENAMES = {"noise.strength": "noise_strength", "noise.noise_const": "noise_const"}
RESAMPLE_FILTER_NAME = "resample_filter"


class NameMappingError(ValueError):
    """Official and registry networks that do not correspond tensor for tensor."""


def official_names(net) -> dict[str, str]:
    """{registry state-dict name: official name} for every tensor of a registry G or D.

    Only StyleGAN2 networks have official counterparts: demodulated style blocks, no growing.
    """
    cfg = net.config
    if cfg.style_block != "demod" or cfg.growing:
        raise NameMappingError(
            f"config {cfg.name!r} (style_block={cfg.style_block!r}, growing={cfg.growing}) has no "
            f"official StyleGAN2 PyTorch counterpart: only style_block='demod' without growing does")
    translate = _generator_name if net.kind == "generator" else _discriminator_name
    return {name: translate(net, name) for name in net.state_dict()}


def _generator_name(net, name: str) -> str:
    parts = name.split(".")
    if parts[0] == "mapping" and parts[1] == "layers":
        return ".".join(["mapping", f"fc{parts[2]}", *parts[3:]])
    if name == "mapping.w_avg":
        return name
    if parts[:2] == ["synthesis", "blocks"]:
        block = net.synthesis.blocks[int(parts[2])]
        prefix, rest = f"synthesis.b{block.resolution}", parts[3:]
        if rest == ["const", "weight"]:
            return f"{prefix}.const"
        if rest[0] == "layers":  # the 4x4 block has only the official conv1
            layer = "conv1" if block.const is not None else f"conv{rest[1]}"
            tail = ".".join(rest[2:])
            return f"{prefix}.{layer}.{_LAYER_RENAMES.get(tail, tail)}"
        if rest[0] in ("torgb", "skip"):
            return ".".join([prefix, *rest])
    raise NameMappingError(f"generator tensor {name!r} has no official StyleGAN2 name")


def _discriminator_name(net, name: str) -> str:
    parts = name.split(".")
    if parts[0] == "blocks":
        return ".".join([f"b{net.blocks[int(parts[1])].resolution}", *parts[2:]])
    if parts[0] == "epilogue":
        return ".".join(["b4", *parts[1:]])
    raise NameMappingError(f"discriminator tensor {name!r} has no official StyleGAN2 name")


def registry_state(net, official: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The official state dict `official` renamed for the registry network `net` (for load_state_dict).

    Every official tensor must be used (resample filters must be the [1, 3, 3, 1] filter) and every
    registry tensor found with the same shape; NameMappingError lists what is not, naming both sides.
    """
    names, expected = official_names(net), net.state_dict()
    wanted = {o: expected[r] for r, o in names.items()}  # the registry's tensors under official names
    registry_name = {o: r for r, o in names.items()}
    missing, extra, wrong_shape = state_differences(wanted, official)
    unused = [key for key in extra if not _is_standard_filter(key, official[key])]
    wrong = [f"{o} {list(official[o].shape)} vs {registry_name[o]} {list(wanted[o].shape)}"
             for o in wrong_shape]
    if unused or missing or wrong:
        problems = [f"official tensors the registry has no place for: {unused[:6]}" if unused else "",
                    f"registry tensors absent from the official network: {missing[:6]}" if missing else "",
                    f"shapes differ (official vs registry): {wrong[:4]}" if wrong else ""]
        raise NameMappingError(
            f"the official {net.kind} does not correspond to the registry's {_describe(net)}: "
            f"{'; '.join(p for p in problems if p)}. The official channel_base / channel_max, "
            f"architecture or layer options differ from what the registry can build")
    return {r: official[o].detach().to(expected[r].dtype).clone() for r, o in names.items()}


def official_state(net) -> dict[str, torch.Tensor]:
    """The registry network's tensors under their official names (without the resample filters)."""
    state = net.state_dict()
    return {official: state[name].detach().clone() for name, official in official_names(net).items()}


def _is_standard_filter(name: str, tensor: torch.Tensor) -> bool:
    """Whether `name` is an official resample_filter buffer holding the registry's [1, 3, 3, 1] filter."""
    if name.rsplit(".", 1)[-1] != RESAMPLE_FILTER_NAME:
        return False
    standard = make_resample_filter()
    if tensor.shape != standard.shape or not torch.allclose(tensor.float(), standard, atol=1e-7):
        raise NameMappingError(f"official {name} is not the [1, 3, 3, 1] FIR filter the registry uses "
                               f"(shape {list(tensor.shape)}); such a network cannot be imported")
    return True


def _describe(net) -> str:
    cfg = net.config
    arch = cfg.g_arch if net.kind == "generator" else cfg.d_arch
    return (f"{arch!r} {net.kind} at {cfg.resolution}px (fmap_base {cfg.fmap_base}, fmap_max "
            f"{cfg.fmap_max}, z_dim {cfg.z_dim}, w_dim {cfg.w_dim})")
