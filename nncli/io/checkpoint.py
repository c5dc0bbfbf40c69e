"""The checkpoint file: the complete training state at the end of an epoch, in one .npz.

Like the model file, it holds ndarrays and a ``meta`` entry (a 0-d string array with one
JSON object), and it is read by ``nncli.io.npz``, which never unpickles. ``meta`` holds:
format ("nncli-checkpoint"), version, the training state with every array replaced by a
reference ``{"$array": "a3"}`` (or ``{"$scalar": "a4"}`` for a NumPy scalar, whose dtype
matters: a float32 loss compared in float32) to an entry of the archive, and what the
command that wrote it adds (``info``: the resolved config, the fingerprint of the config
and of the data, where the model goes). The generators' states are JSON (integers).

The file is written atomically (a temporary file beside it, fsync, then a rename): a
process killed during a write leaves the previous checkpoint as it was.
"""

import hashlib
import json

import numpy as np

from nncli.errors import ModelFileError
from nncli.io.atomic import atomic_write

FORMAT, VERSION = "nncli-checkpoint", 1


def save_checkpoint(path, state, info):
    """Write ``state`` (from ``Trainer.state()``) and ``info`` (a JSON-able dict) to ``path``."""
    state = {**state, "history": state["history"][:state["epoch"]]}
    arrays = {}
    meta = {"format": FORMAT, "version": VERSION, **info, "state": _flatten(state, arrays)}
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def load_checkpoint(path):
    """(state, info) of a checkpoint file; ModelFileError says what is wrong with it."""
    from nncli.io.modelfile import read_bytes
    from nncli.io.npz import read_npz

    where = f"checkpoint {path}"
    raw = read_bytes(path, where, "not a file: give a checkpoint file or a run folder")
    if not raw.startswith(b"PK"):
        raise ModelFileError(f"{where} is not an nncli checkpoint (not an .npz archive)")
    members = read_npz(raw, where, what="an nncli checkpoint", kind="checkpoint", advice="")
    try:
        if members["meta"].shape != () or members["meta"].kind != "U":
            raise ValueError("'meta' is not a 0-d string array")
        meta = json.loads(members["meta"].text())
        arrays = {name: member.array() for name, member in members.items() if name != "meta"}
    except KeyError as exc:
        raise ModelFileError(f"{where} is truncated or damaged (no {exc} entry)") from None
    except ValueError as exc:
        raise ModelFileError(f"{where} is damaged or not an nncli checkpoint: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{where} is not an nncli checkpoint (meta.format is not {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise ModelFileError(f"{where} has checkpoint format version {meta.get('version')!r}; "
                             f"this nncli reads version {VERSION}")
    try:
        state = _unflatten(meta.pop("state"), arrays)
    except (KeyError, TypeError) as exc:
        raise ModelFileError(f"{where}: its training state is incomplete ({exc})") from None
    return state, meta


def config_fingerprint(config_dict):
    """SHA-256 of the resolved config (as ``nncli.config.to_dict`` gives it), keys sorted."""
    return hashlib.sha256(json.dumps(config_dict, sort_keys=True).encode()).hexdigest()


def config_changes(before, after):
    """The differences between two resolved configs as readable phrases,
    e.g. ["training.learning_rate: 0.05 then, 0.1 now"]."""
    old, new = dict(_leaves(before)), dict(_leaves(after))
    out = []
    for key in list(old) + [k for k in new if k not in old]:
        if old.get(key, _MISSING) != new.get(key, _MISSING):
            out.append(f"{key}: {_show(old.get(key, _MISSING))} then, {_show(new.get(key, _MISSING))} now")
    return out


def data_changes(before, after):
    """The differences between two lists of data file facts (path, bytes, sha256)."""
    old = {f["path"]: f for f in before}
    out = []
    for facts in after:
        then = old.get(facts["path"])
        if then is None:
            continue  # a new path is a config change, reported as such
        if (then["bytes"], then["sha256"]) != (facts["bytes"], facts["sha256"]):
            out.append(f"data file {facts['path']}: {then['bytes']} bytes (SHA-256 {then['sha256'][:12]}…) then, "
                       f"{facts['bytes']} bytes (SHA-256 {facts['sha256'][:12]}…) now")
    return out


_MISSING = object()


def _show(value):
    return "(absent)" if value is _MISSING else json.dumps(value)


def _leaves(value, prefix=""):
    if isinstance(value, dict) and value:
        items = value.items()
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        items = enumerate(value)
    else:
        return [(prefix, value)]
    return [leaf for k, v in items for leaf in _leaves(v, f"{prefix}.{k}" if prefix else str(k))]


def _flatten(value, arrays):
    """``value`` with each ndarray or NumPy scalar moved into ``arrays`` and replaced by a reference."""
    if isinstance(value, dict):
        return {str(k): _flatten(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_flatten(v, arrays) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        name = f"a{len(arrays)}"
        arrays[name] = np.asarray(value)
        return {"$array" if isinstance(value, np.ndarray) else "$scalar": name}
    return value


def _unflatten(value, arrays):
    if isinstance(value, dict):
        if "$array" in value:
            return arrays[value["$array"]]
        if "$scalar" in value:
            return arrays[value["$scalar"]][()]
        return {k: _unflatten(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_unflatten(v, arrays) for v in value]
    return value
