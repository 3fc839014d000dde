"""Reading an NVlabs network pickle as data, without running any code from the file: the restricted unpickler
that edits/convert.py describes (its module docstring) and uses. `safe_load` resolves only the globals that are
keys of ALLOWED and refuses any other with its name; a persisted network becomes a `Persisted` record, whose
embedded source is hashed, never compiled, imported or executed.
"""
from __future__ import annotations

import collections
import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

MAX_PICKLE_BYTES = 2 * 2**30  # the largest official generators (1024 px, with D) are ~ 380 MB


class ConvertError(ValueError):
    """The file cannot be converted; the message says why in one or two sentences."""


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allowed set."""


# ------------------------------------------------------------------ data stand-ins
@dataclass
class Persisted:
    """A `torch_utils.persistence` object read as data: never a class, never run."""

    class_name: str
    state: dict
    version: int | None = None
    source_sha256: str = ""
    source_chars: int = 0

    @property
    def children(self) -> dict:
        return dict(self.state.get("_modules") or {})

    def child(self, name: str) -> "Persisted | None":
        c = self.children.get(name)
        return c if isinstance(c, Persisted) else None

    def tensors(self, prefix: str = "", depth: int = 0) -> dict[str, torch.Tensor]:
        """Parameters and buffers, recursively, named as `module.state_dict()` names them."""
        if depth > 32:
            raise ConvertError("The networks in the file are nested too deeply.")
        out = {}
        for group in ("_parameters", "_buffers"):
            for k, v in (self.state.get(group) or {}).items():
                if isinstance(v, torch.Tensor):
                    out[prefix + k] = v
        for k, c in self.children.items():
            if isinstance(c, Persisted):
                out.update(c.tensors(f"{prefix}{k}.", depth + 1))
        return out

    @property
    def init_kwargs(self) -> dict:
        return dict(self.state.get("_init_kwargs") or {})


class EasyDictData(dict):
    """dnnlib.util.EasyDict, read as a plain dict (no attribute magic)."""


def _persistent(meta) -> Persisted:
    """Stands in for torch_utils.persistence._reconstruct_persistent_obj: keeps the data, drops the code."""
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("class_name"), str):
        raise pickle.UnpicklingError("A persisted object in the file is not a class record.")
    src = meta.get("module_src") or ""
    src_bytes = src.encode("utf-8", "replace") if isinstance(src, str) else bytes(src)
    state = meta.get("state")
    return Persisted(meta["class_name"], dict(state) if isinstance(state, dict) else {}, meta.get("version"),
                     hashlib.sha256(src_bytes).hexdigest(), len(src_bytes))


def _storage(data: bytes):
    """torch.storage._load_from_bytes: a legacy torch.save of one storage, read with weights_only."""
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("A tensor storage in the file is not bytes.")
    return torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location="cpu")


def _is_storage(s) -> bool:
    return isinstance(s, (torch.UntypedStorage, torch.storage.TypedStorage))


def _tensor(storage, offset, size, stride, requires_grad=False, backward_hooks=None, *metadata):
    """torch._utils._rebuild_tensor_v2, for plain CPU tensors only (no hooks)."""
    if not _is_storage(storage):
        raise pickle.UnpicklingError("A tensor in the file does not point at a tensor storage.")
    if backward_hooks:
        raise pickle.UnpicklingError("A tensor in the file carries backward hooks; refused.")
    return torch._utils._rebuild_tensor(storage, int(offset), tuple(int(s) for s in size),
                                        tuple(int(s) for s in stride))


def _parameter(data, requires_grad=False, backward_hooks=None, *state):
    """torch._utils._rebuild_parameter(_with_state): the tensor itself (parameters are data here)."""
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("A parameter in the file is not a tensor.")
    if backward_hooks:
        raise pickle.UnpicklingError("A parameter in the file carries backward hooks; refused.")
    return data


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("Only plain numeric numpy scalars are read.")
    return np.frombuffer(bytes(data), dtype=dtype)[0]


def _numpy_array(subtype, shape, typecode):
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError("Only plain numpy arrays are read.")
    if not isinstance(shape, tuple) or int(np.prod(shape)) > 1:  # numpy pickles (0,), then fills it by BUILD
        raise pickle.UnpicklingError("A numpy array in the file asks for memory up front; refused.")
    return np.ndarray.__new__(np.ndarray, shape, typecode)


def _numpy_dtype(*args):
    d = np.dtype(*args)
    if d.hasobject:
        raise pickle.UnpicklingError("numpy object arrays are refused.")
    return d


# (module, name) -> what the file gets instead. Nothing here runs code that the file supplies.
ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch._utils", "_rebuild_tensor_v2"): _tensor,
    ("torch._utils", "_rebuild_parameter"): _parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _parameter,
    ("torch.storage", "_load_from_bytes"): _storage,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent,
    ("dnnlib.util", "EasyDict"): EasyDictData,
    ("dnnlib", "EasyDict"): EasyDictData,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_array,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_array,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _numpy_dtype,
}


class SafeUnpickler(pickle._Unpickler):  # the pure-Python unpickler: its opcodes can be overridden
    """Resolves only the globals in ALLOWED (anything else raises RefusedGlobal naming it), and sets state
    (BUILD) only on plain data: numpy arrays and dtypes, dicts. Setting attributes on a class or a function
    (which would rewire them for the rest of the process) is refused."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def load_build(self):
        inst = self.stack[-2]  # the state is on top, the object below it
        if isinstance(inst, type) or callable(inst) or not isinstance(inst, (np.ndarray, np.dtype, dict)):
            raise pickle.UnpicklingError(f"The file sets the state of a {type(inst).__name__}; only numpy arrays, "
                                         "dtypes and dicts are accepted.")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def find_class(self, module: str, name: str):
        import _compat_pickle  # Python 2 names that protocols 0-2 write (__builtin__.set -> builtins.set)

        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = ALLOWED.get((module, name))
        if found is None:
            raise RefusedGlobal(f"Refused to load '{module}.{name}': the file names a Python object outside "
                                "the allowed tensor and container types, so it is not read (nothing in it was run).")
        return found

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("The file uses persistent ids (not a plain NVlabs pickle); refused.")


def safe_load(path: str | Path):
    """Read an NVlabs network pickle as data (see the module docstring)."""
    path = Path(path)
    if path.stat().st_size > MAX_PICKLE_BYTES:
        raise ConvertError(f"{path.name} is larger than {MAX_PICKLE_BYTES >> 20} MB; refused.")
    with path.open("rb") as f:
        try:
            return SafeUnpickler(f).load()
        except RefusedGlobal as e:
            raise ConvertError(str(e)) from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, RuntimeError, AttributeError) as e:
            raise ConvertError(f"{path.name} could not be read as an NVlabs network pickle "
                               f"({type(e).__name__}: {str(e)[:200]}).") from None
