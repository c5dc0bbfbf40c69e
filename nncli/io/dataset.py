"""The training set: read, check, encode, split and standardise the data a config names."""

from dataclasses import dataclass, field

import numpy as np

from nncli.errors import DataError
from nncli.io.encoding import (TRAINING_HINTS, describe_columns, encode_features, encode_target,
                               feature_names, first_missing, target_classes)
from nncli.io.reading import place_of_row, read_table, require_columns


TASKS = {"mse": "regression", "binary_cross_entropy": "binary", "cross_entropy": "multiclass"}


@dataclass
class Dataset:
    """Encoded training (and validation) arrays plus what is needed to encode new data."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_val: np.ndarray | None
    Y_val: np.ndarray | None
    features: list          # encoded feature names, in the order of the columns of X
    columns: list           # [{"name", "kind": numeric|categorical, "categories": [...]}]
    target: str
    task: str               # regression | binary | multiclass
    classes: list           # class labels in output-unit order (empty for regression)
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    warnings: list = field(default_factory=list)


# --- the training set ---------------------------------------------------------------
def load_dataset(data_cfg, loss, seed, dtype=np.float32, rng=None):
    """Read, check, encode, split and standardise the data a config names.

    Parameters
    ----------
    data_cfg : nncli.config.DataConfig
    loss : str, the loss name (it decides the task)
    rng : numpy.random.Generator for the validation split (default: from ``seed``)
    """
    task, where, warnings = TASKS[loss], data_cfg.path, []
    text_cols = list(data_cfg.categorical) + ([data_cfg.target] if task != "regression" else [])
    df = read_table(where, text_cols)
    # A Parquet file's string columns are categorical by their type (df.attrs, nncli.io.parquet).
    categorical = set(data_cfg.categorical) | set(df.attrs.get("text_columns", ()))
    if df.empty:
        raise DataError(f"{where} has a header but no data rows; add rows of data")
    require_columns(df, [data_cfg.target], where, "target")
    names = data_cfg.features or [c for c in df.columns if c != data_cfg.target]
    if not names:
        raise DataError(f"{where}: no feature columns: the file holds only the target {data_cfg.target!r}; "
                        "add columns to learn from")
    require_columns(df, names, where, "feature")
    require_columns(df, data_cfg.categorical, where, "categorical")
    df = _handle_missing(df, names + [data_cfg.target], data_cfg.missing, where, warnings)

    columns = describe_columns(df, names, categorical, where)
    classes = [] if task == "regression" else target_classes(df, data_cfg.target, task, where)
    X = encode_features(df, columns, where)
    Y = encode_target(df, data_cfg.target, task, classes, where, np.float64)

    X_val = Y_val = None
    if isinstance(data_cfg.validation, str):
        vdf = read_table(data_cfg.validation, text_cols)
        if vdf.empty:
            raise DataError(f"{data_cfg.validation} (data.validation) has a header but no data rows; add rows")
        require_columns(vdf, [data_cfg.target], data_cfg.validation, "target")
        require_columns(vdf, names, data_cfg.validation, "feature")
        vdf = _handle_missing(vdf, names + [data_cfg.target], data_cfg.missing, data_cfg.validation, warnings)
        X_val = encode_features(vdf, columns, data_cfg.validation)
        Y_val = encode_target(vdf, data_cfg.target, task, classes, data_cfg.validation, np.float64)
    elif data_cfg.validation > 0:
        X, Y, X_val, Y_val = _split(X, Y, data_cfg.validation, rng or np.random.default_rng(seed), where)

    with np.errstate(all="ignore"):  # overflowing statistics are caught by _finite below
        x_mean, x_std = _feature_scaling(X, columns, data_cfg.standardize, warnings)
    y_mean, y_std = np.zeros(0), np.ones(0)  # classification: no target scaling
    if task == "regression":
        y_mean, y_std = np.zeros(1), np.ones(1)
        if data_cfg.standardize_target:
            with np.errstate(all="ignore"):
                y_mean, y_std = Y.mean(axis=0), Y.std(axis=0)
            y_std[y_std == 0] = 1.0
    y_shift, y_scale = (y_mean, y_std) if task == "regression" else (0.0, 1.0)

    names = feature_names(columns)
    for stats, labels in (((x_mean, x_std), names), ((y_mean, y_std), [data_cfg.target] * len(y_std))):
        bad = ~(np.isfinite(stats[0]) & np.isfinite(stats[1]))
        if bad.any():
            raise DataError(f"{where}: column {labels[int(np.argmax(bad))]!r} holds values too large "
                            "to standardise; rescale the column")

    def scale(A, mean, std, names):
        if A is None:
            return None
        with np.errstate(all="ignore"):
            return _finite(((A - mean) / std).astype(dtype), A, names, where)

    y_names = [data_cfg.target] * Y.shape[1]
    return Dataset(scale(X, x_mean, x_std, names), scale(Y, y_shift, y_scale, y_names),
                   scale(X_val, x_mean, x_std, names), scale(Y_val, y_shift, y_scale, y_names),
                   names, columns, data_cfg.target, task, classes,
                   x_mean, x_std, y_mean, y_std, warnings)


def _finite(scaled, raw, names, where):
    """``scaled``, or DataError naming the column whose values overflow the training dtype."""
    if np.isfinite(scaled).all():
        return scaled
    j = int(np.argmax(~np.isfinite(scaled).all(axis=0)))
    value = raw[np.argmax(~np.isfinite(scaled[:, j])), j]
    raise DataError(f"{where}: column {names[j]!r} holds values such as {value:g}, too large to "
                    f"standardise in {scaled.dtype}; rescale the column")


def _handle_missing(df, names, policy, where, warnings):
    found = first_missing(df, names)
    if found is None:
        return df
    if policy == "drop":
        kept = df.dropna(subset=names)
        warnings.append(f"{where}: dropped {len(df) - len(kept)} row(s) with a missing value")
        if kept.empty:
            raise DataError(f"{where}: every row has a missing value in a used column; fill in values, "
                            "or name fewer columns in data.features")
        return kept
    col, row = found
    raise DataError(f"{where}: column {col!r} has a missing value on {place_of_row(where, row)}; "
                    f"{TRAINING_HINTS['missing']}")


def _split(X, Y, fraction, rng, where):
    m = len(X)
    n_val = int(round(fraction * m))
    if n_val < 1 or m - n_val < 1:
        raise DataError(f"{where}: {m} row(s) are too few to hold out a validation fraction of "
                        f"{fraction}; add rows, or set data.validation: 0")
    order = rng.permutation(m)
    val, train = order[:n_val], order[n_val:]
    return X[train], Y[train], X[val], Y[val]


def _feature_scaling(X, columns, standardize, warnings):
    """x_mean, x_std: z-scores for numeric columns; one-hot columns pass through (0, 1)."""
    n = X.shape[1]
    x_mean, x_std = np.zeros(n), np.ones(n)
    if not standardize:
        return x_mean, x_std
    j, constant = 0, []
    for c in columns:
        if c["kind"] == "categorical":
            j += len(c["categories"])
            continue
        x_mean[j], std = X[:, j].mean(), X[:, j].std()
        if std == 0:
            constant.append(c["name"])  # dividing by 0 would give nan: pass it through centred
        else:
            x_std[j] = std
        j += 1
    if constant:
        names = ", ".join(repr(n) for n in constant[:5]) + (", ..." if len(constant) > 5 else "")
        warnings.append(f"{len(constant)} feature(s) constant in the training data, centred but not "
                        f"scaled: {names}")
    return x_mean, x_std
