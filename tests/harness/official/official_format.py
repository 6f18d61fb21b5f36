"""Write registry networks as an official-format network pickle (the layout of network-snapshot-*.pkl).

The official code pickles each network module as `torch_utils.persistence._reconstruct_persistent_obj(
meta)` with meta = {type, version, module_src, class_name, state}, where state is the module's
__dict__ (`_parameters`, `_buffers`, `_modules`, hooks, `_init_kwargs` and plain attributes, some of
them numpy scalars), and tensors through torch's own pickling. This writer rebuilds that layout from
a registry network's official state dict, with the class names and attributes of
stylegan2-ada-pytorch's training/networks.py, so tests can read it back through import-official.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from collections import OrderedDict

import numpy as np
import torch

from harness.official.convert import OFFICIAL_ARCHITECTURES
from harness.official.names import official_state
from variants.layers import make_resample_filter

PERSISTENCE_MODULE = "torch_utils.persistence"
BUFFER_NAMES = {"w_avg", "noise_const", "resample_filter"}
_HOOKS = ("_backward_pre_hooks", "_backward_hooks", "_forward_hooks", "_forward_pre_hooks",
          "_state_dict_hooks", "_load_state_dict_pre_hooks")


def _reconstruct_persistent_obj(meta):  # pickled by reference only, never called
    raise AssertionError("the stand-in reconstructor must never run")


_reconstruct_persistent_obj.__module__ = PERSISTENCE_MODULE


class Persistent:
    """One official module as the official persistence layer pickles it."""

    def __init__(self, class_name: str, state: dict, module_src: str) -> None:
        self.class_name, self.state, self.module_src = class_name, state, module_src

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src=self.module_src, class_name=self.class_name,
                    state=self.state)
        return _reconstruct_persistent_obj, (meta,)


@contextlib.contextmanager
def _persistence_module():
    """Make `torch_utils.persistence._reconstruct_persistent_obj` resolvable while pickling."""
    package, module = types.ModuleType("torch_utils"), types.ModuleType(PERSISTENCE_MODULE)
    module._reconstruct_persistent_obj = _reconstruct_persistent_obj
    package.persistence = module
    saved = {name: sys.modules.get(name) for name in ("torch_utils", PERSISTENCE_MODULE)}
    sys.modules.update({"torch_utils": package, PERSISTENCE_MODULE: module})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = value


def _module_state(attrs: dict, tensors: dict, children: dict, init_kwargs: dict) -> dict:
    state = {"training": False, "_parameters": {}, "_buffers": {}, "_non_persistent_buffers_set": set()}
    state.update({hook: OrderedDict() for hook in _HOOKS})
    for name, tensor in tensors.items():
        if name in BUFFER_NAMES:
            state["_buffers"][name] = tensor
        else:
            state["_parameters"][name] = torch.nn.Parameter(tensor, requires_grad=False)
    state["_modules"] = children
    state.update(attrs)
    state.update({"_init_args": (), "_init_kwargs": init_kwargs})
    return state


def _tree(flat: dict[str, torch.Tensor]) -> dict:
    """{'tensors': {...}, 'children': {name: subtree}} from dotted names."""
    root = {"tensors": {}, "children": {}}
    for name, tensor in flat.items():
        node, *path = root, *name.split(".")[:-1]
        for part in path:
            node = node["children"].setdefault(part, {"tensors": {}, "children": {}})
        node["tensors"][name.split(".")[-1]] = tensor
    return root


def _layer_info(net, path: tuple[str, ...]) -> tuple[str, dict, bool]:
    """(official class name, attributes, stores a resample_filter) of the module at `path`."""
    cfg, last = net.config, path[-1] if path else ""
    fc = lambda act, lr: ("FullyConnectedLayer", {"activation": act, "bias_gain": lr,
                                                  "weight_gain": np.float64(lr / np.sqrt(cfg.w_dim))}, False)
    conv = lambda act, clamp: ("Conv2dLayer", {"activation": act, "conv_clamp": clamp}, True)
    if net.kind == "generator":
        if path == ("mapping",):
            return "MappingNetwork", {"num_layers": cfg.mapping_layers, "w_avg_beta": cfg.w_avg_beta}, False
        if len(path) == 2 and path[0] == "mapping":
            return fc("lrelu", cfg.mapping_lr_mult)
        if path == ("synthesis",):
            return "SynthesisNetwork", {"block_resolutions": list(cfg.resolutions)}, False
        if len(path) == 2:
            return "SynthesisBlock", {"resolution": int(last[1:]), "use_fp16": False,
                                      "architecture": OFFICIAL_ARCHITECTURES[cfg.g_arch]}, True
        if last in ("conv0", "conv1"):
            return "SynthesisLayer", {"activation": "lrelu", "use_noise": True, "conv_clamp": cfg.conv_clamp,
                                      "act_gain": np.float64(np.sqrt(2))}, True
        if last == "affine":
            return fc("linear", 1)
        if last == "torgb":
            return "ToRGBLayer", {"conv_clamp": cfg.conv_clamp}, False
        return conv("linear", None)  # resnet skip
    if path == ("b4",):
        return "DiscriminatorEpilogue", {"architecture": OFFICIAL_ARCHITECTURES[cfg.d_arch]}, False
    if len(path) == 1:
        return "DiscriminatorBlock", {"resolution": int(last[1:]), "use_fp16": False,
                                      "architecture": OFFICIAL_ARCHITECTURES[cfg.d_arch]}, True
    if last in ("fc", "out"):
        return fc("lrelu" if last == "fc" else "linear", 1)
    return conv("linear" if last == "skip" else "lrelu", None if last == "skip" else cfg.conv_clamp)


def _top_level(net) -> tuple[str, dict, dict]:
    cfg = net.config
    common = {"c_dim": 0, "img_resolution": cfg.resolution, "img_channels": cfg.img_channels}
    if net.kind == "generator":
        attrs = {**common, "z_dim": cfg.z_dim, "w_dim": cfg.w_dim, "num_ws": net.num_ws}
        kwargs = {**common, "z_dim": cfg.z_dim, "w_dim": cfg.w_dim,
                  "mapping_kwargs": {"num_layers": cfg.mapping_layers}, "synthesis_kwargs": {
                      "channel_base": cfg.fmap_base, "channel_max": cfg.fmap_max,
                      "architecture": OFFICIAL_ARCHITECTURES[cfg.g_arch]}}
        return "Generator", attrs, kwargs
    kwargs = {**common, "channel_base": cfg.fmap_base, "channel_max": cfg.fmap_max,
              "architecture": OFFICIAL_ARCHITECTURES[cfg.d_arch],
              "epilogue_kwargs": {"mbstd_group_size": cfg.mbstd_group}}
    return "Discriminator", {**common, "block_resolutions": list(reversed(cfg.resolutions[1:]))}, kwargs


def official_object(net, module_src: str = "# module source\n", edit=None) -> Persistent:
    """The registry network `net` as the official persistent object tree; `edit(path, attrs)` may change
    any module's attributes (tests of refused settings)."""
    filters = make_resample_filter()
    cfg = net.config

    def build(node: dict, path: tuple[str, ...]) -> Persistent:
        if path:
            class_name, attrs, has_filter = _layer_info(net, path)
            kwargs = {}
        else:
            (class_name, attrs, kwargs), has_filter = _top_level(net), False
        if path == ("synthesis",):
            kwargs = dict(_top_level(net)[2]["synthesis_kwargs"], w_dim=cfg.w_dim)
        tensors = dict(node["tensors"], **({"resample_filter": filters.clone()} if has_filter else {}))
        children = {name: build(child, (*path, name)) for name, child in node["children"].items()}
        if class_name == "DiscriminatorEpilogue" and cfg.mbstd_channels:
            children["mbstd"] = Persistent("MinibatchStdLayer", _module_state(
                {"group_size": cfg.mbstd_group, "num_channels": cfg.mbstd_channels}, {}, {}, {}), module_src)
        if edit is not None:
            edit(path, attrs)
        return Persistent(class_name, _module_state(attrs, tensors, children, kwargs), module_src)

    return build(_tree(official_state(net)), ())


def official_pickle_bytes(networks: dict, *, module_src: str = "# module source\n", edit=None) -> bytes:
    """pickle.dumps({'G': ..., 'D': ..., 'G_ema': ..., 'augment_pipe': None, ...}) as the official code."""
    top = {key: official_object(net, module_src, edit) for key, net in networks.items()}
    top.update(augment_pipe=None, training_set_kwargs=None)
    with _persistence_module():
        return pickle.dumps(top, protocol=4)
