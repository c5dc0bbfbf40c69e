"""The model file: one .npz holding the weights, the preprocessing and a JSON ``meta``.

Arrays: W1..WL of shape (n[l-1], n[l]), b1..bL of shape (n[l],), x_mean, x_std and
(version 2) x_clip over the encoded features, y_mean and y_std for mse models, and
``meta``: a 0-d string array with one JSON object (format, version, features, columns,
target, task, classes, layers, loss, config, metrics and, version 2, preprocessing).
Read with ``allow_pickle=False`` only. Version 1 files (no imputation, no clipping, no
target transform) are read as they always were.
"""

import io
import json
import zipfile
from dataclasses import dataclass

import numpy as np

from nncli.errors import ModelFileError
from nncli.io.atomic import atomic_write
from nncli.core.network import Network
from nncli.core.preprocessing import TARGET_TRANSFORMS, soft_clip
from nncli.io.features import feature_names

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
    where = str(path)
    raw = read_bytes(path, f"model file {where}", "not an .npz file")
    arrays = _read_npz(raw, where)
    meta = _read_meta(arrays, where)
    _check_meta(meta, where)
    return _build(arrays, meta, where)


# A crafted archive can declare arrays of terabytes, or expand a few kilobytes into
# gigabytes (a zip bomb); such sizes are refused before anything is allocated.
MAX_EXPANSION, SMALL_ENOUGH = 20, 64 * 2**20


def _check_sizes(raw, where):
    """Raise ModelFileError if the archive's members declare more data than they hold."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        members = archive.infolist()
        total = sum(m.file_size for m in members)
        if total > SMALL_ENOUGH and total > MAX_EXPANSION * len(raw):
            raise ModelFileError(f"{where} expands to {total / 2**20:.0f} MiB from {len(raw) / 2**20:.1f} MiB; "
                                 "it is not an nncli model")
        for m in members:
            with archive.open(m) as f:
                version = np.lib.format.read_magic(f)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise ModelFileError(f"{where}: array {m.filename!r} uses .npy format {version}, "
                                         "which nncli models never use")
                shape, _, dtype = read_header(f)
            if dtype.hasobject:
                continue  # refused with its own message by np.load(allow_pickle=False)
            if int(np.prod(shape, dtype=np.float64)) * dtype.itemsize > m.file_size:
                raise ModelFileError(f"{where}: array {m.filename!r} declares shape {shape} but the file "
                                     "holds less data; it is truncated or damaged")


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
    try:
        _check_sizes(raw, where)
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise ModelFileError(f"{where} holds object arrays, which nncli refuses to load "
                                 "(they could run code); it is not an nncli model") from None
        raise ModelFileError(f"{where} is damaged or not an nncli model: {exc}") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as exc:
        raise ModelFileError(f"{where} is truncated or damaged ({exc}); train the model again") from None


def _read_meta(arrays, where):
    if "meta" not in arrays:
        raise ModelFileError(f"{where} is not an nncli model file (no 'meta' entry); "
                             "give a model file written by nncli train")
    meta_arr = arrays["meta"]
    if meta_arr.shape != () or meta_arr.dtype.kind != "U":
        raise ModelFileError(f"{where}: 'meta' must be a 0-d string array")
    try:
        meta = json.loads(str(meta_arr))
    except json.JSONDecodeError:
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
    from nncli.core.activations import ACTIVATIONS
    from nncli.core.losses import check_pairing, get_loss
    from nncli.errors import ConfigError

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
        if not isinstance(layer["activation"], str) or layer["activation"] not in ACTIVATIONS:
            raise bad(f"{key}.activation", f"must be one of {', '.join(ACTIVATIONS)}, not {_show(layer['activation'])}")
    try:
        check_pairing(get_loss(meta["loss"]), meta["layers"][-1]["activation"], meta["layers"][-1]["units"])
    except ConfigError as exc:
        raise bad("layers", f"do not fit the loss: {exc}") from None
    for key in ("config", "metrics"):
        if not isinstance(meta[key], dict):
            raise bad(key, f"must be a mapping, not {_show(meta[key])}")
    for name, value in meta["metrics"].items():
        if value is not None and (type(value) not in (int, float)):
            raise bad(f"metrics.{name}", f"must be a number, not {_show(value)}")


def _show(value, limit=60):
    """A JSON value, shortened for a one-line message."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _build(arrays, meta, where):
    """Rebuild the network and check every array against the metadata."""
    try:
        layers, n_in = meta["layers"], len(meta["features"])
        net = Network(n_in, layers, dtype=arrays["W1"].dtype if "W1" in arrays else np.float32)
    except Exception as exc:  # any malformed layer list is a bad file, whatever the error
        raise ModelFileError(f"{where}: meta.layers is invalid ({exc})") from None
    for l in range(1, len(layers) + 1):
        for name, shape in ((f"W{l}", net.W[l - 1].shape), (f"b{l}", net.b[l - 1].shape)):
            arr = _array(arrays, name, shape, where)
            (net.W if name[0] == "W" else net.b)[l - 1] = arr.astype(net.dtype, copy=False)
    extra = {f"W{len(layers) + 1}", f"b{len(layers) + 1}"} & set(arrays)
    if extra:
        raise ModelFileError(f"{where}: holds more weight arrays than meta.layers describes")
    model = Model(net, meta, _array(arrays, "x_mean", (n_in,), where), _array(arrays, "x_std", (n_in,), where))
    if meta["version"] >= 2:
        model.x_clip = _array(arrays, "x_clip", (n_in,), where)
        if (model.x_clip < 0).any():
            raise ModelFileError(f"{where}: array 'x_clip' holds negative values")
        _check_preprocessing(meta, where)
    if meta["task"] == "regression" and net.sizes[-1] != 1:
        raise ModelFileError(f"{where}: a regression model must have one output unit, not {net.sizes[-1]}")
    if meta["task"] == "regression":
        n_out = net.sizes[-1]
        model.y_mean = _array(arrays, "y_mean", (n_out,), where)
        model.y_std = _array(arrays, "y_std", (n_out,), where)
    elif len(meta["classes"]) != max(net.sizes[-1], 2) or (meta["task"] == "binary") != (net.sizes[-1] == 1):
        raise ModelFileError(f"{where}: {len(meta['classes'])} classes do not fit an output layer "
                             f"of {net.sizes[-1]} unit(s)")
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
        if target_transform(meta) not in TARGET_TRANSFORMS:
            raise ValueError(f"unknown target transform {target_transform(meta)!r}")
    except ModelFileError:
        raise
    except Exception as exc:  # any malformed description is a bad file, whatever the error
        raise ModelFileError(f"{where}: meta.preprocessing is invalid ({exc})") from None


def _array(arrays, name, shape, where):
    if name not in arrays:
        raise ModelFileError(f"{where}: array {name!r} is missing")
    arr = arrays[name]
    if arr.shape != shape or arr.dtype.kind != "f":
        raise ModelFileError(f"{where}: array {name!r} has shape {arr.shape} and dtype {arr.dtype}; "
                             f"meta says shape {shape} of floats")
    if not np.isfinite(arr).all():
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
    if A.shape[1] == 1:
        return np.hstack([1 - A, A])
    return A


def regression_values(model, A):
    """Predictions in the target's units, shape (m,), float64: un-standardised, then the
    target transform undone (expm1 for log1p)."""
    _, inverse = TARGET_TRANSFORMS[target_transform(model.meta)]
    with np.errstate(over="ignore"):
        return inverse((A * model.y_std + model.y_mean)[:, 0])
