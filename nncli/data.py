"""CSV in, arrays out: reading, checking, encoding, splitting and standardising.

The only module that uses pandas. Features are matched by column name; text columns
(and those listed in ``data.categorical``) are one-hot encoded with their categories
in natural order. Line numbers in messages count the header as line 1.
"""

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nncli.config import did_you_mean
from nncli.errors import DataError

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


def natural_sort(values):
    """Numbers numerically, text alphabetically (values are the strings from the file)."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


# --- reading ------------------------------------------------------------------------
def check_readable(path, what="data file"):
    """Raise DataError unless ``path`` is an existing, readable, non-binary file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} {path} does not exist; check the path (relative paths in a config "
                        "are relative to the config file)")
    if path.is_dir():
        raise DataError(f"{what} {path} is a directory, not a CSV file")
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError as exc:
        raise DataError(f"cannot read {what} {path}: {exc.strerror}") from None
    check_text(head, path)


def check_text(head, where):
    """Raise DataError if the first bytes of a file are not text."""
    if b"\x00" in head:
        raise DataError(f"{where} is not a CSV file (it holds binary data)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The 8 KiB window may cut a multi-byte character in two; only complain before the end.
        if exc.start < len(head) - 4:
            raise DataError(f"{where} is not UTF-8 text (bad byte at offset {exc.start}); "
                            "save it as UTF-8 CSV") from None


def check_header(header, where):
    """Raise DataError for an empty header or duplicate column names."""
    if not header or all(not h.strip() for h in header):
        raise DataError(f"{where} is empty: expected a header row of column names")
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(f"{where}: column {name!r} appears more than once in the header; "
                            "rename one of them")
        seen.add(name)


def read_header(source, where):
    """The header row of a CSV file (a path or a text stream)."""
    if isinstance(source, (str, Path)):
        with open(source, newline="", encoding="utf-8", errors="replace") as f:
            return next(csv.reader(f), [])
    return next(csv.reader(io.StringIO(source.readline())), [])


def read_csv(path, text_columns=(), **kwargs):
    """Read a whole CSV with its checks; ``text_columns`` are kept as strings, as spelled."""
    check_readable(path)
    check_header(read_header(path, path), path)
    try:
        df = pd.read_csv(path, dtype={c: str for c in text_columns}, keep_default_na=True,
                         na_values=[""], **kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path} could not be parsed as CSV: {str(exc).strip().splitlines()[0]}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: expected a header row of column names") from None
    return df


# --- columns ------------------------------------------------------------------------
def require_columns(df, names, where, role):
    """Raise DataError naming the first of ``names`` that ``df`` lacks."""
    for name in names:
        if name not in df.columns:
            raise DataError(f"{where}: {role} column {name!r} not found{did_you_mean(name, df.columns)}; "
                            f"columns are: {', '.join(map(str, df.columns))}")


def first_missing(df, names):
    """(column, row label) of the first missing value in ``names``, or None."""
    mask = df[names].isna()
    if not mask.to_numpy().any():
        return None
    row = mask.any(axis=1).idxmax()
    col = next(c for c in names if mask.at[row, c])
    return col, row


def describe_columns(df, names, categorical, where):
    """Column descriptions for the features: numeric, or categorical with categories."""
    columns = []
    for name in names:
        col = df[name]
        if name in categorical or not pd.api.types.is_numeric_dtype(col) and not _numbers_only(col, name, where):
            cats = natural_sort(col.dropna().astype(str).unique().tolist())
            columns.append({"name": name, "kind": "categorical", "categories": cats})
        else:
            columns.append({"name": name, "kind": "numeric", "categories": []})
    return columns


def _numbers_only(col, name, where):
    """True if a text column holds numbers only; DataError if it mixes numbers and text."""
    values = col.dropna()
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().all():
        return False  # text: a categorical column
    if numbers.notna().all():
        return True
    bad = numbers.isna().idxmax()
    raise DataError(
        f"{where}: column {name!r} holds numbers and text; value {values[bad]!r} on line "
        f"{int(bad) + 2} is not a number. Fix the value, or list the column in data.categorical "
        "to one-hot encode it")


def feature_names(columns):
    """Encoded feature names: the numeric columns, and ``name=category`` per category."""
    names = []
    for c in columns:
        names += [c["name"]] if c["kind"] == "numeric" else [f"{c['name']}={v}" for v in c["categories"]]
    return names


def encode_features(df, columns, where, dtype=np.float32, unknown="error", first_line=2):
    """Encode the feature columns of ``df`` as described by ``columns``.

    Parameters
    ----------
    df : DataFrame holding at least the columns named in ``columns`` (any order)
    columns : list of {"name", "kind", "categories"} as stored in the model file
    unknown : "error" or "ignore" (an unseen category becomes all zeros)
    first_line : line in the file of the first row of ``df`` (for messages)

    Returns
    -------
    X : ndarray of shape (len(df), n_features)
    n_unknown : int, the number of unseen category values (with unknown="ignore")
    """
    require_columns(df, [c["name"] for c in columns], where, "feature")
    blocks, n_unknown = [], 0
    for c in columns:
        col = df[c["name"]]
        if c["kind"] == "numeric":
            blocks.append(_numeric_values(col, c["name"], where, first_line)[:, None])
            continue
        values = col.astype(str).to_numpy()
        cats = np.asarray(c["categories"], dtype=object)
        onehot = values[:, None] == cats[None, :]
        unseen = ~onehot.any(axis=1)
        if unseen.any():
            if unknown == "error":
                i = int(np.argmax(unseen))
                raise DataError(
                    f"{where}: column {c['name']!r} has value {values[i]!r} on line {first_line + i}, "
                    f"a category not seen in training (known: {', '.join(map(str, c['categories']))}); "
                    "use --unknown ignore to encode it as all zeros")
            n_unknown += int(unseen.sum())
        blocks.append(onehot)
    X = np.hstack(blocks).astype(dtype) if blocks else np.empty((len(df), 0), dtype)
    return X, n_unknown


def _numeric_values(col, name, where, first_line):
    """A numeric column as float64, with DataError for text and infinite values."""
    if not pd.api.types.is_numeric_dtype(col):
        numbers = pd.to_numeric(col, errors="coerce")
        bad = numbers.isna() & col.notna()
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            raise DataError(f"{where}: column {name!r} must be numeric, but line {first_line + i} "
                            f"holds {col.iloc[i]!r}; fix or remove that value")
        col = numbers
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        i = int(np.argmax(np.isinf(values)))
        raise DataError(f"{where}: column {name!r} holds an infinite value on line {first_line + i}; "
                        "replace it with a finite number")
    return values


# --- target -------------------------------------------------------------------------
def target_classes(df, target, task, where):
    """The class labels in output-unit order (natural order), checked for the task."""
    classes = natural_sort(df[target].dropna().astype(str).unique().tolist())
    if len(classes) < 2:
        raise DataError(f"{where}: target {target!r} has only one class ({classes[0] if classes else 'none'}); "
                        "a classifier needs at least two")
    if task == "binary" and len(classes) != 2:
        raise DataError(f"{where}: binary_cross_entropy needs a target with exactly two values, but "
                        f"{target!r} has {len(classes)}; use cross_entropy with a softmax output of "
                        f"{len(classes)} units")
    return classes


def encode_target(df, target, task, classes, where, dtype, first_line=2):
    """Y of shape (m, 1) for regression and binary, one-hot (m, K) for multiclass."""
    col = df[target]
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(col):
            bad = pd.to_numeric(col, errors="coerce").isna()
            i = int(np.argmax(bad.to_numpy()))
            raise DataError(f"{where}: loss mse needs a numeric target, but {target!r} holds "
                            f"{col.iloc[i]!r} on line {first_line + i}; for classes use "
                            "binary_cross_entropy or cross_entropy")
        return _numeric_values(col, target, where, first_line)[:, None].astype(dtype)
    labels = col.astype(str).to_numpy()
    onehot = labels[:, None] == np.asarray(classes, dtype=object)[None, :]
    unseen = ~onehot.any(axis=1)
    if unseen.any():
        i = int(np.argmax(unseen))
        raise DataError(f"{where}: target {target!r} has class {labels[i]!r} on line {first_line + i}, "
                        f"not among the training classes ({', '.join(classes)})")
    if task == "binary":
        return onehot[:, 1:].astype(dtype)  # the second class in natural order is positive
    return onehot.astype(dtype)


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
    df = read_csv(where, text_columns=text_cols)
    if df.empty:
        raise DataError(f"{where} has a header but no data rows")
    require_columns(df, [data_cfg.target], where, "target")
    names = data_cfg.features or [c for c in df.columns if c != data_cfg.target]
    if not names:
        raise DataError(f"{where}: no feature columns: the file holds only the target {data_cfg.target!r}")
    if data_cfg.target in names:
        raise DataError(f"{where}: the target {data_cfg.target!r} is also listed in data.features; remove it")
    require_columns(df, names, where, "feature")
    require_columns(df, data_cfg.categorical, where, "categorical")
    df = _handle_missing(df, names + [data_cfg.target], data_cfg.missing, where, warnings)

    columns = describe_columns(df, names, set(data_cfg.categorical), where)
    classes = [] if task == "regression" else target_classes(df, data_cfg.target, task, where)
    X, _ = encode_features(df, columns, where, np.float64)
    Y = encode_target(df, data_cfg.target, task, classes, where, np.float64)

    X_val = Y_val = None
    if isinstance(data_cfg.validation, str):
        vdf = read_csv(data_cfg.validation, text_columns=text_cols)
        vdf = _handle_missing(vdf, names + [data_cfg.target], data_cfg.missing, data_cfg.validation, warnings)
        X_val, _ = encode_features(vdf, columns, data_cfg.validation, np.float64)
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
            raise DataError(f"{where}: every row has a missing value in a used column")
        return kept
    col, row = found
    raise DataError(f"{where}: column {col!r} has a missing value on line {int(row) + 2}; fill it in, "
                    "or set data.missing: drop to leave such rows out")


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
