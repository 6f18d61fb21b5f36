"""Read an official StyleGAN2 PyTorch network pickle without executing anything from it.

The official code (stylegan2-ada-pytorch, stylegan3) pickles its networks as objects of
"persistent classes": each is stored as a call `torch_utils.persistence._reconstruct_persistent_obj(
meta)` whose `meta` holds the class name, the object's `__dict__` (`state`) and the full source
code of its module (`module_src`), which the official loader executes. Here a restricted
`pickle.Unpickler` admits only the globals needed to rebuild tensors and plain containers, and
the persistence reconstructor is replaced by `PersistentObject`, which keeps the class name and
state and never reads or runs `module_src`. Any other global is refused before it is looked up,
so nothing in the file can run code.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

ZIP_MAGIC = b"PK\x03\x04"


class OfficialPickleError(pickle.UnpicklingError, ValueError):
    """A file that is not an official network pickle, or asks for something not admitted."""


@dataclass
class PersistentObject:
    """One official persistent object as data: its class name and pickled `__dict__` (module_src dropped).

    For the official nn.Modules the state holds `_parameters`, `_buffers`, `_modules` (children,
    themselves PersistentObjects), `_init_kwargs` and plain attributes (`z_dim`, `architecture`, ...).
    """

    class_name: str
    state: dict = field(repr=False)

    def attr(self, name: str):
        """The attribute `name` of the official object; OfficialPickleError when it has none."""
        if name not in self.state:
            raise OfficialPickleError(f"official {self.class_name} has no attribute {name!r}: not a "
                                      f"StyleGAN2 network of stylegan2-ada-pytorch / stylegan3")
        return self.state[name]

    def children(self) -> dict[str, PersistentObject | None]:
        return dict(self.state.get("_modules") or {})

    def child(self, name: str) -> PersistentObject:
        """The submodule `name`; OfficialPickleError when it is absent or not a persistent object."""
        value = self.children().get(name)
        if not isinstance(value, PersistentObject):
            raise OfficialPickleError(f"official {self.class_name} has no submodule {name!r} (has "
                                      f"{sorted(self.children())}): not a StyleGAN2 network")
        return value

    @property
    def init_kwargs(self) -> dict:
        """The keyword arguments the official object was constructed with (recorded by persistence)."""
        return dict(self.state.get("_init_kwargs") or {})

    def state_dict(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Parameters and persistent buffers by dotted name, as nn.Module.state_dict would list them."""
        hidden = set(self.state.get("_non_persistent_buffers_set") or ())
        tensors = dict(self.state.get("_parameters") or {})
        tensors.update({k: v for k, v in (self.state.get("_buffers") or {}).items() if k not in hidden})
        out = {prefix + name: value.detach() for name, value in tensors.items() if value is not None}
        for name, child in self.children().items():
            if child is not None:
                out.update(child.state_dict(f"{prefix}{name}."))
        return out


def _reconstruct_persistent_obj(meta) -> PersistentObject:
    """Stand-in for the official reconstructor: keeps class name and state, never touches module_src."""
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise OfficialPickleError("a persistent-object record is not {type: 'class', class_name, state, ...}")
    return PersistentObject(class_name=str(meta.get("class_name")), state=meta["state"])


def _load_storage(data: bytes):
    """A tensor storage pickled by torch (legacy torch.save bytes), read by torch's weights-only loader."""
    if not isinstance(data, bytes):
        raise OfficialPickleError("a tensor storage record does not hold bytes")
    try:
        storage = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        raise OfficialPickleError(f"a tensor storage record holds more than tensor data ({error})") from None
    if not isinstance(storage, torch.TypedStorage | torch.UntypedStorage):
        raise OfficialPickleError(f"a tensor storage record holds a {type(storage).__name__}, not a storage")
    return storage


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    """torch._utils._rebuild_tensor_v2 without its requires_grad, hooks and metadata (never attached)."""
    if not isinstance(storage, torch.TypedStorage) or not _ints(size) or not _ints(stride) or \
            not isinstance(storage_offset, int):
        raise OfficialPickleError("a tensor record has a malformed storage, offset, size or stride")
    return torch._utils._rebuild_tensor(storage, storage_offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, *_ignored):
    """torch._utils._rebuild_parameter as a plain tensor (requires_grad and hooks dropped)."""
    if not isinstance(data, torch.Tensor):
        raise OfficialPickleError("a parameter record does not hold a tensor")
    return data


def _ints(values) -> bool:
    return isinstance(values, tuple | list) and all(isinstance(v, int) for v in values)


def _numpy_dtype(name, align=False, copy=False):
    if not isinstance(name, str) or not isinstance(align, bool) or not isinstance(copy, bool):
        raise OfficialPickleError("a numpy dtype record is malformed")
    return np.dtype(name, align, copy)


def _numpy_scalar(dtype, data=None):
    """numpy's scalar reconstruction for plain (non-object) dtypes only."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise OfficialPickleError("a numpy scalar record is not a plain number")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _numpy_array(subtype, shape, dtype):
    """numpy's ndarray reconstruction (filled by BUILD) for plain ndarrays only."""
    if subtype is not np.ndarray:
        raise OfficialPickleError("a numpy array record asks for an ndarray subclass")
    return np.ndarray(shape, dtype=dtype if isinstance(dtype, np.dtype) else np.uint8)


class _PlainDict(dict):
    """What the official `dnnlib.util.EasyDict` (a dict with attribute access) becomes: a plain dict."""


# Every global the loader admits, each mapped to a function of this module or a plain type.
ADMITTED: dict[tuple[str, str], object] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("collections", "OrderedDict"): dict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("dnnlib.util", "EasyDict"): _PlainDict,
    ("numpy", "dtype"): _numpy_dtype,
    ("numpy", "ndarray"): np.ndarray,
    **{(module, "scalar"): _numpy_scalar for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "_reconstruct"): _numpy_array
       for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source: str) -> None:
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str):
        admitted = ADMITTED.get((module, name))
        if admitted is None:
            raise OfficialPickleError(
                f"{self.source}: refused global {module}.{name}: the file is not an official network "
                f"pickle (only tensor rebuilds, plain containers and persistent-object records are "
                f"admitted); nothing from it was executed")
        return admitted

    def persistent_load(self, pid):
        raise OfficialPickleError(f"{self.source}: refused persistent id {pid!r}: the file is not an "
                                  f"official network pickle")


def load_official_pickle(path: str | Path) -> dict:
    """The top-level dict of an official network pickle (`G`, `D`, `G_ema` as PersistentObjects, ...).

    Raises OfficialPickleError naming the cause for anything else; no code from the file runs.
    """
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(ZIP_MAGIC):
        raise OfficialPickleError(f"{path} is a torch.save archive, not an official network pickle "
                                  f"(network-snapshot-*.pkl)")
    try:
        top = _RestrictedUnpickler(io.BytesIO(data), str(path)).load()
    except OfficialPickleError:
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise OfficialPickleError(f"{path} is not a readable official network pickle: {error}") from None
    if not isinstance(top, dict):
        raise OfficialPickleError(f"{path} holds a {type(top).__name__}, not the official dict of "
                                  f"networks (G, D, G_ema)")
    return top
