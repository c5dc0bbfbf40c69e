"""The model file: one .npz holding the weights, the preprocessing and a JSON ``meta``.

Arrays: W1..WL of shape (n[l-1], n[l]), b1..bL of shape (n[l],), x_mean, x_std and
(version 2) x_clip over the encoded features, y_mean and y_std for mse models, and
``meta``: a 0-d string array with one JSON object (format, version, features, columns,
target, task, classes, layers, loss, config, metrics and, version 2, preprocessing).
Read by ``nncli.io.npz``, which never unpickles (object arrays are refused). Version 1
files (no imputation, no clipping, no target transform) are read as they always were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nncli.core.names import ACTIVATION_NAMES, ACTIVATION_PARAMS, TARGET_TRANSFORM_NAMES, check_pairing
from nncli.errors import ConfigError, ModelFileError
from nncli.io.features import feature_names
from nncli.io.npz import read_npz

# NumPy is imported by the functions that use it: reading and checking a model file needs
# none (nncli inspect starts without it).
if TYPE_CHECKING:
    import numpy as np

    from nncli.core.network import Network

FORMAT, VERSION = "nncli-model", 2
READS = (1, 2)  # the format versions this nncli reads
META_KEYS = ("format", "version", "features", "columns", "target", "task", "classes",
             "layers", "loss", "config", "metrics")
META_KEYS_SINCE = {"preprocessing": 2}


@dataclass
class Model:
    """A trained network with everything needed to encode inputs and decode outputs."""

    network: Network
    meta: dict
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray | None = None
    y_std: np.ndarray | None = None
    x_clip: np.ndarray | None = None  # c per encoded feature, 0 where not clipped; None: no clipping (v1)


@dataclass
class ModelFile:
    """A model file read and checked, its arrays not yet NumPy arrays (``nncli.io.npz.Member``)."""

    meta: dict
    arrays: dict

    @property
    def dtype_name(self):
        """The weights' dtype ("float32" or "float64")."""
        return self.arrays["W1"].dtype_name

    def floats(self, name):
        """The values of array ``name`` as a list of Python floats."""
        return self.arrays[name].floats()


def encoding_columns(meta):
    """The columns as ``encode_chunk`` takes them: meta["columns"] with each column's
    impute value and indicator from meta["preprocessing"] (version 2)."""
    prep = meta.get("preprocessing")
    if not prep:
        return meta["columns"]
    return [{**column, "impute": p.get("impute"), "indicator": bool(p.get("indicator"))}
            for column, p in zip(meta["columns"], prep["columns"])]


def target_transform(meta):
    """The name of the model's target transform ("none" for version 1 and classifiers)."""
    target = (meta.get("preprocessing") or {}).get("target") or {}
    return target.get("transform", "none")


def save_model(path, model):
    """Write ``model`` to ``path`` atomically (temporary file, then rename)."""
    import numpy as np

    from nncli.io.atomic import atomic_write

    arrays = {}
    for l, (W, b) in enumerate(zip(model.network.W, model.network.b), start=1):
        arrays[f"W{l}"], arrays[f"b{l}"] = W, b
    arrays["x_mean"], arrays["x_std"] = model.x_mean, model.x_std
    arrays["x_clip"] = np.zeros_like(model.x_mean) if model.x_clip is None else model.x_clip
    if model.meta["task"] == "regression":
        arrays["y_mean"], arrays["y_std"] = model.y_mean, model.y_std
    meta = {"format": FORMAT, "version": VERSION, **model.meta}
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def read_bytes(path, what, if_directory):
    """The bytes of the file at ``path``; ModelFileError naming ``what`` if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise ModelFileError(f"{what} does not exist; check the path") from None
    except IsADirectoryError:
        raise ModelFileError(f"{what} is a directory, {if_directory}") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read {what}: {exc.strerror}; check its permissions") from None


def load_model(path):
    """Read and check a model file; ModelFileError says what is wrong with it."""
    return _build(read_model(path))


def read_model(path):
    """Read and check a model file without NumPy (``nncli inspect``); ModelFileError says what is wrong."""
    where = str(path)
    raw = read_bytes(path, f"model file {where}", "not an .npz file")
    arrays = _read_npz(raw, where)
    meta = _read_meta(arrays, where)
    _check_meta(meta, where)
    _check_arrays(arrays, meta, where)
    return ModelFile(meta, arrays)


def _read_npz(raw, where):
    if not raw.startswith(b"PK"):
        from nncli.io.sniff import kind_of

        kind = kind_of(where, raw[:65536])
        if kind in ("config", "csv"):
            what, advice = (("a YAML config", f"train it first: nncli train {where} -o MODEL.npz") if kind == "config"
                            else ("CSV data", "the model comes first: nncli predict MODEL DATA"))
            raise ModelFileError(f"{where} looks like {what}, not a model file; {advice}")
        raise ModelFileError(f"{where} is not an nncli model file (not an .npz archive); "
                             "give a model file written by nncli train")
    return read_npz(raw, where)


def _read_meta(arrays, where):
    if "meta" not in arrays:
        raise ModelFileError(f"{where} is not an nncli model file (no 'meta' entry); "
                             "give a model file written by nncli train")
    meta_arr = arrays["meta"]
    if meta_arr.shape != () or meta_arr.kind != "U":
        raise ModelFileError(f"{where}: 'meta' must be a 0-d string array")
    try:
        meta = json.loads(meta_arr.text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelFileError(f"{where}: 'meta' is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{where} is not an nncli model file (meta.format is not {FORMAT!r}); "
                             "give a model file written by nncli train")
    if meta.get("version") not in READS:
        raise ModelFileError(f"{where} has model format version {meta.get('version')!r}; this nncli reads "
                             f"versions {', '.join(map(str, READS))}; retrain the model or use a matching nncli")
    keys = META_KEYS + tuple(k for k, since in META_KEYS_SINCE.items() if meta["version"] >= since)
    missing = [k for k in keys if k not in meta]
    if missing:
        raise ModelFileError(f"{where}: meta lacks {', '.join(missing)}")
    return meta


# The task each loss trains for (as nncli.io.dataset.TASKS, which would load pandas).
_TASKS = {"mse": "regression", "binary_cross_entropy": "binary", "cross_entropy": "multiclass"}


def _indicator_of(meta, i):
    """Whether column ``i`` has a missing-value indicator (version 2's meta.preprocessing)."""
    columns = (meta.get("preprocessing") or {}).get("columns") if isinstance(meta.get("preprocessing"), dict) else None
    if not isinstance(columns, list) or len(columns) != len(meta["columns"]) or not isinstance(columns[i], dict):
        return False
    return bool(columns[i].get("indicator"))


def _check_meta(meta, where):
    """Raise ModelFileError naming the first key of ``meta`` whose contents are wrong.

    Checks types, kinds and counts (the arrays' shapes are checked against it in
    ``_build``). Keys beyond META_KEYS are allowed, for later versions of the format.
    """
    def bad(key, problem):
        return ModelFileError(f"{where}: meta.{key} {problem}; the file is damaged or was edited")

    def strings(key, value):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad(key, f"must be a list of strings, not {_show(value)}")

    for key in ("columns", "features", "layers"):
        if not isinstance(meta[key], list):
            raise bad(key, f"must be a list, not {_show(meta[key])}")
    strings("features", meta["features"])
    encoded = []
    for i, column in enumerate(meta["columns"]):
        key = f"columns[{i}]"
        if not isinstance(column, dict):
            raise bad(key, f"must be a mapping {{name, kind, categories}}, not {_show(column)}")
        for part in ("name", "kind", "categories"):
            if part not in column:
                raise bad(key, f"has no {part!r}")
        if not isinstance(column["name"], str):
            raise bad(f"{key}.name", f"must be a string, not {_show(column['name'])}")
        if column["kind"] not in ("numeric", "categorical"):
            raise bad(f"{key}.kind", f"must be 'numeric' or 'categorical', not {_show(column['kind'])}")
        strings(f"{key}.categories", column["categories"])
        # The encoded names, as nncli.io.features.feature_names makes them (with version 2's
        # missing-value indicators, when its preprocessing holds one entry per column).
        indicator = _indicator_of(meta, i)
        encoded += feature_names([{**column, "indicator": indicator}])
    if encoded != meta["features"]:
        raise bad("features", "do not match meta.columns (the encoded names of the columns "
                              f"are {_show(encoded)}, meta.features holds {_show(meta['features'])})")
    if not isinstance(meta["target"], str):
        raise bad("target", f"must be a string, not {_show(meta['target'])}")
    if not isinstance(meta["task"], str) or meta["task"] not in _TASKS.values():
        raise bad("task", f"must be one of {', '.join(dict.fromkeys(_TASKS.values()))}, not {_show(meta['task'])}")
    if not isinstance(meta["loss"], str) or meta["loss"] not in _TASKS:
        raise bad("loss", f"must be one of {', '.join(_TASKS)}, not {_show(meta['loss'])}")
    if _TASKS[meta["loss"]] != meta["task"]:
        raise bad("loss", f"{meta['loss']} does not train a {meta['task']} model")
    strings("classes", meta["classes"])
    n_classes = {"regression": (0,), "binary": (2,)}.get(meta["task"], range(2, 2**31))
    if len(meta["classes"]) not in n_classes or len(set(meta["classes"])) != len(meta["classes"]):
        raise bad("classes", f"holds {len(meta['classes'])} distinct label(s) for a {meta['task']} model")
    if not meta["layers"]:
        raise bad("layers", "is empty")
    for i, layer in enumerate(meta["layers"]):
        key = f"layers[{i}]"
        if not isinstance(layer, dict):
            raise bad(key, f"must be a mapping {{units, activation}}, not {_show(layer)}")
        for part in ("units", "activation"):
            if part not in layer:
                raise bad(key, f"has no {part!r}")
        if type(layer["units"]) is not int or layer["units"] < 1:
            raise bad(f"{key}.units", f"must be a positive integer, not {_show(layer['units'])}")
        if not isinstance(layer["activation"], str) or layer["activation"] not in ACTIVATION_NAMES:
            raise bad(f"{key}.activation",
                      f"must be one of {', '.join(ACTIVATION_NAMES)}, not {_show(layer['activation'])}")
        _check_layer_params(layer, key, bad)
    try:
        check_pairing(meta["loss"], meta["layers"][-1]["activation"], meta["layers"][-1]["units"])
    except ConfigError as exc:
        raise bad("layers", f"do not fit the loss: {exc}") from None
    for key in ("config", "metrics"):
        if not isinstance(meta[key], dict):
            raise bad(key, f"must be a mapping, not {_show(meta[key])}")
    for name, value in meta["metrics"].items():
        if value is not None and (type(value) not in (int, float)):
            raise bad(f"metrics.{name}", f"must be a number, not {_show(value)}")


def _check_layer_params(layer, key, bad):
    """Raise ``bad(...)`` for a parameter the layer's activation does not take (or a non-number)."""
    allowed = ACTIVATION_PARAMS.get(layer["activation"], ())
    for name, value in layer.items():
        if name in ("units", "activation") or value is None:
            continue
        if name not in allowed:
            raise bad(f"{key}.{name}", f"is not a parameter of {layer['activation']}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad(f"{key}.{name}", f"must be a number, not {_show(value)}")


def _show(value, limit=60):
    """A JSON value, shortened for a one-line message."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_arrays(arrays, meta, where):
    """Raise ModelFileError unless every array is there, of the shape meta says, finite floats."""
    layers, n_in = meta["layers"], len(meta["features"])
    sizes = [n_in] + [layer["units"] for layer in layers]
    for l in range(1, len(layers) + 1):
        _array(arrays, f"W{l}", (sizes[l - 1], sizes[l]), where)
        _array(arrays, f"b{l}", (sizes[l],), where)
    if {f"W{len(layers) + 1}", f"b{len(layers) + 1}"} & set(arrays):
        raise ModelFileError(f"{where}: holds more weight arrays than meta.layers describes")
    _array(arrays, "x_mean", (n_in,), where)
    _array(arrays, "x_std", (n_in,), where)
    if meta["version"] >= 2:
        if any(c < 0 for c in _array(arrays, "x_clip", (n_in,), where).floats()):
            raise ModelFileError(f"{where}: array 'x_clip' holds negative values")
        _check_preprocessing(meta, where)
    if meta["task"] == "regression" and sizes[-1] != 1:
        raise ModelFileError(f"{where}: a regression model must have one output unit, not {sizes[-1]}")
    if meta["task"] == "regression":
        _array(arrays, "y_mean", (1,), where)
        _array(arrays, "y_std", (1,), where)
    elif len(meta["classes"]) != max(sizes[-1], 2) or (meta["task"] == "binary") != (sizes[-1] == 1):
        raise ModelFileError(f"{where}: {len(meta['classes'])} classes do not fit an output layer "
                             f"of {sizes[-1]} unit(s)")


def _build(checked):
    """The Model of a checked ModelFile: NumPy arrays and the network."""
    from nncli.core.network import Network

    meta, arrays = checked.meta, {name: member.array() for name, member in checked.arrays.items()}
    net = Network(len(meta["features"]), meta["layers"], dtype=arrays["W1"].dtype)
    for l in range(1, len(meta["layers"]) + 1):
        net.W[l - 1] = arrays[f"W{l}"].astype(net.dtype, copy=False)
        net.b[l - 1] = arrays[f"b{l}"].astype(net.dtype, copy=False)
    model = Model(net, meta, arrays["x_mean"], arrays["x_std"])
    if meta["version"] >= 2:
        model.x_clip = arrays["x_clip"]
    if meta["task"] == "regression":
        model.y_mean, model.y_std = arrays["y_mean"], arrays["y_std"]
    return model


def _check_preprocessing(meta, where):
    """Raise ModelFileError unless meta.preprocessing fits meta.columns and meta.features."""
    prep = meta["preprocessing"]
    try:
        choices = {"scaling": ("standard", "robust", "none"), "missing": ("error", "drop", "impute"),
                   "impute": (None, "mean", "median", "most_frequent"), "unknown": ("error", "ignore")}
        for key, allowed in choices.items():
            value = prep.get(key, allowed[0] if key != "impute" else None)
            if not isinstance(value, (str, type(None))) or value not in allowed:
                raise ValueError(f"{key} is {value!r}, not one of {', '.join(map(str, allowed))}")
        clip = prep.get("clip")
        if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float))):
            raise ValueError(f"clip is {clip!r}, not a number or null")
        if not isinstance(prep.get("target"), (dict, type(None))):
            raise ValueError(f"target is {prep.get('target')!r}, not a mapping or null")
        columns = prep["columns"]
        if len(columns) != len(meta["columns"]):
            raise ValueError(f"{len(columns)} columns, but meta.columns has {len(meta['columns'])}")
        for column, p in zip(meta["columns"], columns):
            fill = p.get("impute")
            if column["kind"] == "numeric" and fill is not None and not isinstance(fill, (int, float)):
                raise ValueError(f"impute value {fill!r} of numeric column {column['name']!r} is not a number")
            if column["kind"] == "categorical" and fill is not None and fill not in column["categories"]:
                raise ValueError(f"impute value {fill!r} is not a category of {column['name']!r}")
        if feature_names(encoding_columns(meta)) != meta["features"]:
            raise ValueError("its columns and indicators do not give meta.features")
        if target_transform(meta) not in TARGET_TRANSFORM_NAMES:
            raise ValueError(f"unknown target transform {target_transform(meta)!r}")
    except ModelFileError:
        raise
    except Exception as exc:  # any malformed description is a bad file, whatever the error
        raise ModelFileError(f"{where}: meta.preprocessing is invalid ({exc})") from None


def _array(arrays, name, shape, where):
    """The member ``name``, checked: there, of ``shape``, finite floats."""
    if name not in arrays:
        raise ModelFileError(f"{where}: array {name!r} is missing")
    arr = arrays[name]
    if arr.shape != shape or arr.kind != "f":
        raise ModelFileError(f"{where}: array {name!r} has shape {arr.shape} and dtype {arr.dtype_name}; "
                             f"meta says shape {shape} of floats")
    if not arr.all_finite():
        raise ModelFileError(f"{where}: array {name!r} holds non-finite values")
    return arr


# --- the forward pass on raw encoded rows ----------------------------------------
def forward(model, X, workspace=None):
    """Output layer of the model for encoded rows.

    Parameters
    ----------
    X : ndarray of shape (m, n_features), encoded but not standardised (float64)
    workspace : nncli.core.network.Workspace, optional
        Reused for the hidden layers' arrays when it has room for m rows (predict's chunk
        after chunk: no fresh memory per chunk); the results are the same numbers.

    Returns
    -------
    Z, A : ndarrays of shape (m, n_outputs), in the model's dtype (new arrays)
    """
    if workspace is not None and len(X) > workspace.rows:
        workspace = None
    import numpy as np

    from nncli.core.preprocessing import soft_clip

    # Overflow (values far beyond the training data) shows as inf or nan: see predict_chunk.
    with np.errstate(over="ignore", invalid="ignore"):
        A0 = np.subtract(X, model.x_mean)
        A0 /= model.x_std
        if model.x_clip is not None and model.x_clip.any():
            A0 = soft_clip(A0, model.x_clip)
        # C order (rows contiguous), as the products have always been given it: the same bits.
        Zs, As = model.network.forward(A0.astype(model.network.dtype, order="C", copy=False), workspace)
    if workspace is None:
        return Zs[-1], As[-1]
    return Zs[-1].copy(), As[-1].copy()  # the workspace's arrays are overwritten by the next chunk


def probabilities(A):
    """Class probabilities of shape (m, n_classes): softmax outputs, or [1 - a, a] for one sigmoid unit."""
    import numpy as np

    if A.shape[1] == 1:
        return np.hstack([1 - A, A])
    return A


def regression_values(model, A):
    """Predictions in the target's units, shape (m,), float64: un-standardised, then the
    target transform undone (expm1 for log1p)."""
    import numpy as np

    from nncli.core.preprocessing import TARGET_TRANSFORMS

    _, inverse = TARGET_TRANSFORMS[target_transform(model.meta)]
    with np.errstate(over="ignore"):
        return inverse((A * model.y_std + model.y_mean)[:, 0])
