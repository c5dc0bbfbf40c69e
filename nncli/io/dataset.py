"""The training set: read, check, encode, split and scale the data a config names.

The steps, in order: handle missing values (data.missing), describe the columns,
encode the target (data.target_transform), split off the validation rows (stratified
for classifiers), learn the impute values on the training split and encode the
features (imputed, with indicators), then scale (data.scaling) and clip (data.clip)
with training-split statistics. Everything learnt is returned for the model file.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nncli.core.preprocessing import get_imputer, get_scaler, get_target_transform, soft_clip
from nncli.errors import DataError
from nncli.io.encoding import (TRAINING_HINTS, describe_columns, encode_features, encode_target,
                               feature_kinds, feature_names, first_missing, indicator_name, natural_sort,
                               target_classes)
from nncli.io.parallel import map_on_threads
from nncli.io.reading import first_duplicate, place_of_row, read_table, require_columns


TASKS = {"mse": "regression", "binary_cross_entropy": "binary", "cross_entropy": "multiclass"}
DEFAULT_CLIP = 3.0  # c of data.clip: true


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
    x_mean: np.ndarray      # centre per encoded feature (0 where not centred)
    x_std: np.ndarray       # scale per encoded feature (1 where not scaled)
    y_mean: np.ndarray
    y_std: np.ndarray
    warnings: list = field(default_factory=list)
    x_clip: np.ndarray | None = None   # c per encoded feature, 0 where not clipped; None: no clipping
    preprocessing: dict | None = None  # meta["preprocessing"] of the model file (see describe_preprocessing)
    target_transform: str = "none"     # applied before the target standardisation
    sample_weight_train: np.ndarray | None = None  # shape (m_train,), float64 (data.weight)
    sample_weight_val: np.ndarray | None = None    # shape (m_val,), float64


# --- the training set ---------------------------------------------------------------
def load_dataset(data_cfg, loss, seed, dtype=np.float32, rng=None):
    """Read, check, encode, split and scale the data a config names.

    Parameters
    ----------
    data_cfg : nncli.config.DataConfig
    loss : str, the loss name (it decides the task)
    rng : numpy.random.Generator for the validation split (default: from ``seed``)
    """
    task, where, warnings = TASKS[loss], data_cfg.path, []
    df, names = _read(data_cfg, data_cfg.path, task)
    # A Parquet file's string columns are categorical by their type (df.attrs, nncli.io.parquet).
    categorical = set(data_cfg.categorical) | set(df.attrs.get("text_columns", ()))
    df = _handle_missing(df, names, data_cfg, where, warnings)

    columns = describe_columns(df, names, categorical, where)
    classes = [] if task == "regression" else target_classes(df, data_cfg.target, task, where)
    Y = _target(df, data_cfg, task, classes, where)
    weights = _weights(df, data_cfg.weight, where)

    val_df = None
    train_rows = slice(None)  # every row (no copy), unless a validation fraction is held out
    if isinstance(data_cfg.validation, str):
        val_df, _ = _read(data_cfg, data_cfg.validation, task, names, what=" (data.validation)")
        val_df = _handle_missing(val_df, names, data_cfg, data_cfg.validation, warnings)
    elif data_cfg.validation > 0:
        strata = _class_of_rows(Y, task) if data_cfg.stratify else None
        train_rows, val_rows = split_rows(len(df), data_cfg.validation, rng or np.random.default_rng(seed),
                                          where, strata)

    specs = _imputation(df, train_rows, columns, data_cfg, where)
    # The features column by column: X of the training and validation rows is never built
    # unscaled, only scaled (scale_rows), block of rows by block.
    features = encode_features(df, specs, where)
    if val_df is not None:
        val = encode_features(val_df, specs, data_cfg.validation), slice(None)
        Y_val = _target(val_df, data_cfg, task, classes, data_cfg.validation)
        w_val = _weights(val_df, data_cfg.weight, data_cfg.validation)
    elif data_cfg.validation > 0:
        val = features, val_rows
        Y_val, w_val = Y[val_rows], None if weights is None else weights[val_rows]
    else:
        val = Y_val = w_val = None
    Y = Y[train_rows]
    weights = None if weights is None else weights[train_rows]
    if weights is not None and not weights.sum() > 0:
        raise DataError(f"{where}: the sample weights (data.weight {data_cfg.weight!r}) of the training rows "
                        "add up to 0; give some rows a positive weight")

    kinds = feature_kinds(specs)
    with np.errstate(all="ignore"):  # overflowing statistics are caught by _finite below
        x_mean, x_std = _feature_scaling(features, train_rows, specs, kinds, data_cfg.scaling, warnings)
    c = clip_bound(data_cfg.clip)
    x_clip = None if c is None else np.where(np.asarray(kinds) == "numeric", c, 0.0)
    y_mean, y_std = _target_scaling(Y, task, data_cfg.standardize_target)
    y_shift, y_scale = (y_mean, y_std) if task == "regression" else (0.0, 1.0)

    names = feature_names(specs)
    for stats, labels in (((x_mean, x_std), names), ((y_mean, y_std), [data_cfg.target] * len(y_std))):
        bad = ~(np.isfinite(stats[0]) & np.isfinite(stats[1]))
        if bad.any():
            raise DataError(f"{where}: column {labels[int(np.argmax(bad))]!r} holds values too large "
                            "to standardise; rescale the column")

    def scale_x(encoded, rows):
        scaled, finite = scale_rows(encoded, rows, x_mean, x_std, dtype, x_clip)
        return scaled if finite else _finite(scaled, lambda j: encoded.column(j, rows), names, where)

    def scale_y(Y):
        if Y is None:
            return None
        with np.errstate(all="ignore"):  # overflow (in the cast) is found by _finite
            scaled = np.subtract(Y, y_shift)
            scaled /= y_scale  # in place: the same values as (Y - y_shift) / y_scale, one array fewer
            scaled = scaled.astype(dtype, order="C")
        return _finite(scaled, lambda j: Y[:, j], y_names, where)

    y_names = [data_cfg.target] * Y.shape[1]
    ds = Dataset(scale_x(features, train_rows), scale_y(Y),
                 None if val is None else scale_x(*val), scale_y(Y_val),
                 names, columns, data_cfg.target, task, classes,
                 x_mean, x_std, y_mean, y_std, warnings, x_clip,
                 target_transform=data_cfg.target_transform,
                 sample_weight_train=weights, sample_weight_val=w_val)
    ds.preprocessing = describe_preprocessing(data_cfg, specs, ds)
    _check_unique(names, where)
    return ds


def clip_bound(clip):
    """c of data.clip (false | true | a number): None for no clipping, DEFAULT_CLIP for true."""
    if clip is False:
        return None
    return DEFAULT_CLIP if clip is True else float(clip)


def _read(data_cfg, path, task, names=None, what=""):
    """The data file (CSV or Parquet) at ``path`` with its target, feature and weight columns checked; (df, feature names).

    ``names``: the feature columns (default: data.features, or every column but the target and weight).
    """
    text_cols = list(data_cfg.categorical) + ([data_cfg.target] if task != "regression" else [])
    df = read_table(path, text_cols)
    if df.empty:
        raise DataError(f"{path}{what} has a header but no data rows; add rows of data")
    require_columns(df, [data_cfg.target], path, "target")
    names = names or feature_columns(data_cfg, df.columns, path)
    require_columns(df, names, path, "feature")
    if not what:
        require_columns(df, data_cfg.categorical, path, "categorical")
    if data_cfg.weight is not None:
        require_columns(df, [data_cfg.weight], path, "weight (data.weight)")
    return df, names


def _check_unique(names, where):
    twice = first_duplicate(names)
    if twice is not None:
        raise DataError(f"{where}: two encoded features are both named {twice!r} (a column and a "
                        "missing-value indicator or a one-hot category); rename the column")


def feature_columns(data_cfg, columns, where):
    """The feature columns: data.features, or every column but the target and data.exclude."""
    if data_cfg.features:
        require_columns(columns, data_cfg.features, where, "feature")
        return list(data_cfg.features)
    require_columns(columns, data_cfg.exclude or [], where, "excluded")
    left_out = {data_cfg.target, data_cfg.weight, *(data_cfg.exclude or [])}
    names = [c for c in columns if c not in left_out]
    if not names:
        held = f"the target {data_cfg.target!r}" + (" and the excluded columns" if data_cfg.exclude else "")
        raise DataError(f"{where}: no feature columns: the file holds only {held}; add columns to learn from"
                        + (", or exclude fewer" if data_cfg.exclude else ""))
    return names


# Values scaled at a time: a block (1 MB in float64) stays in a core's cache (2 MB), and is large
# enough for the ~20 NumPy calls per block to cost little (1,000,000 rows of 12 features: 30 ms;
# in blocks of 2**16 values 35 ms, of 2**14 77 ms).
BLOCK_ELEMENTS = 1 << 17


def scale_rows(features, rows, mean, std, dtype, clip=None):
    """(X - mean) / std of the rows ``rows`` of X, soft-clipped if ``clip`` is given, cast to
    ``dtype``; block of rows by block, X never built.

    Each block of X is written (``Features.fill``) and goes through every step while it is in
    cache: one pass over memory instead of one per step. The two halves of the rows are
    scaled on two threads. Each value sees the same operations as on the whole of X (float64
    subtract, divide, soft_clip, cast), so the result has the same bits.

    Parameters
    ----------
    features : nncli.io.encoding.Features, X column by column
    rows : int ndarray of row indices, or slice(None) for every row
    mean, std : ndarray of shape (n_features,)
    dtype : the dtype of the result
    clip : ndarray of shape (n_features,) for ``soft_clip``, or None

    Returns
    -------
    scaled : ndarray of shape (n_rows, n_features), ``dtype``, C order (the training loop gathers batches of rows)
    finite : bool, True if every value of ``scaled`` is finite
    """
    m, n = _count(features, rows), features.shape[1]
    scaled = np.empty((m, n), dtype)
    block = max(1, BLOCK_ELEMENTS // max(n, 1))

    def scale_part(start, stop):
        """Scale rows start:stop of the result into ``scaled``; True if they are all finite."""
        finite = True
        buffer = np.empty((n, min(block, stop - start))).T  # Fortran order: each feature written contiguously
        # Overflow shows as inf or nan (found by the caller); errstate is per thread.
        with np.errstate(all="ignore"):
            for lo in range(start, stop, block):
                part = buffer[:min(block, stop - lo)]
                hi = lo + len(part)
                features.fill(part, slice(lo, hi) if isinstance(rows, slice) else rows[lo:hi])
                np.subtract(part, mean, out=part)
                part /= std
                if clip is not None:
                    part = soft_clip(part, clip)
                scaled[lo:hi] = part
                finite = finite and bool(np.isfinite(scaled[lo:hi]).all())
        return finite

    middle = (m // 2 + block - 1) // block * block  # the second half starts on a block boundary
    halves = [(0, middle), (middle, m)] if 0 < middle < m else [(0, m)]
    return scaled, all(map_on_threads(lambda half: scale_part(*half), halves, rows=m // 2))


def _count(features, rows):
    """The number of rows in ``rows``: an index array, or slice(None) for every row of ``features``."""
    return features.shape[0] if isinstance(rows, slice) else len(rows)


def _finite(scaled, raw_column, names, where):
    """``scaled``, or DataError naming the column whose values overflow the training dtype
    (``raw_column(j)``: the values of column j before scaling)."""
    if np.isfinite(scaled).all():
        return scaled
    j = int(np.argmax(~np.isfinite(scaled).all(axis=0)))
    value = raw_column(j)[np.argmax(~np.isfinite(scaled[:, j]))]
    raise DataError(f"{where}: column {names[j]!r} holds values such as {value:g}, too large to "
                    f"standardise in {scaled.dtype}; rescale the column")


# --- missing values -----------------------------------------------------------------
def _handle_missing(df, names, data_cfg, where, warnings):
    """Apply data.missing: error, drop rows, or (impute) drop only rows without a target or weight."""
    policy = data_cfg.missing
    used = [data_cfg.target] + ([data_cfg.weight] if data_cfg.weight else [])
    if policy != "impute":
        used = names + used
    found = first_missing(df, used)
    if found is None:
        return df
    if policy in ("drop", "impute"):
        kept = df.dropna(subset=used)
        what = "a missing value" if policy == "drop" else "a missing target or weight (which cannot be imputed)"
        warnings.append(f"{where}: dropped {len(df) - len(kept)} row(s) with {what}")
        if kept.empty:
            raise DataError(f"{where}: every row has a missing value in a used column; fill in values, "
                            "or name fewer columns in data.features")
        return kept
    col, row = found
    raise DataError(f"{where}: column {col!r} has a missing value on {place_of_row(where, row)}; "
                    f"{TRAINING_HINTS['missing']}")


def _imputation(df, train_rows, columns, data_cfg, where):
    """The columns with their impute value and indicator, learnt on the training rows
    (``train_rows`` of ``df``, gathered only for the columns that need them).

    Numeric columns take data.impute (mean, median, most_frequent) of their training
    values; categorical columns their most frequent training category (ties: the first
    in natural order). An indicator is added (data.missing_indicator) for each column
    with a missing value among the training rows.
    """
    if data_cfg.missing != "impute":
        return columns
    specs = []
    for column in columns:
        col = df[column["name"]].iloc[train_rows]
        present = col.dropna()
        if present.empty:
            raise DataError(f"{where}: column {column['name']!r} has no values in the training rows, so nothing "
                            "to impute from; fill in values, or leave the column out of data.features")
        if column["kind"] == "numeric":
            values = pd.to_numeric(present).to_numpy(np.float64)
            fill = float(get_imputer(data_cfg.impute)(values))
        else:
            counts = present.astype(str).value_counts()
            fill = natural_sort(counts.index[counts == counts.max()].tolist())[0]
        indicator = bool(data_cfg.missing_indicator and col.isna().any())
        specs.append({**column, "impute": fill, "indicator": indicator})
    return specs


# --- target and weights ---------------------------------------------------------------
def _target(df, data_cfg, task, classes, where):
    """Y as in encode_target, with data.target_transform applied (regression)."""
    Y = encode_target(df, data_cfg.target, task, classes, where, np.float64)
    if data_cfg.target_transform == "log1p":
        bad = ~(Y[:, 0] > -1)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{where}: data.target_transform: log1p needs target values above -1, but "
                            f"{data_cfg.target!r} holds {str(df[data_cfg.target].iloc[i])} on "
                            f"{place_of_row(where, df.index[i])}; fix that value, or set data.target_transform: none")
    forward, _ = get_target_transform(data_cfg.target_transform)
    return forward(Y)


def _target_scaling(Y, task, standardize_target):
    """y_mean, y_std of the (transformed) training target: shape (1,) for regression, (0,) otherwise."""
    if task != "regression":
        return np.zeros(0), np.ones(0)  # classification: no target scaling
    if not standardize_target:
        return np.zeros(1), np.ones(1)
    with np.errstate(all="ignore"):
        y_mean, y_std = Y.mean(axis=0), Y.std(axis=0)
    y_std[y_std == 0] = 1.0
    return y_mean, y_std


def _weights(df, column, where):
    """The sample weights of data.weight, ndarray of shape (m,) float64, or None."""
    if column is None:
        return None
    col = df[column]
    numbers = pd.to_numeric(col, errors="coerce").to_numpy(np.float64)
    bad = ~(np.isfinite(numbers) & (numbers >= 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{where}: weight column {column!r} (data.weight) must hold finite numbers >= 0, but "
                        f"{place_of_row(where, df.index[i])} holds {str(col.iloc[i])!r}; fix that value")
    return numbers


# --- the validation split ---------------------------------------------------------------
def _class_of_rows(Y, task):
    """Class index per row of an encoded classification target."""
    return Y[:, 0].astype(np.int64) if task == "binary" else Y.argmax(axis=1)


def split_rows(m, fraction, rng, where, strata=None):
    """Row indices (train, validation) holding out round(fraction · m) rows.

    One permutation of the rows is drawn from ``rng``; the validation rows are its
    first ones, or with ``strata`` (ndarray of shape (m,), a class per row) the first
    ones of each class, so many that every class keeps its share (largest remainders).
    Both index arrays keep the permutation's order.
    """
    n_val = int(round(fraction * m))
    if n_val < 1 or m - n_val < 1:
        raise DataError(f"{where}: {m} row(s) are too few to hold out a validation fraction of "
                        f"{fraction}; add rows, or set data.validation: 0")
    order = rng.permutation(m)
    if strata is None:
        return order[n_val:], order[:n_val]
    quota = _quotas(np.bincount(strata), fraction, n_val)
    rank = np.empty(m, np.int64)  # the position of each row among the rows of its class, in ``order``
    for k in range(len(quota)):
        rows = order[strata[order] == k]
        rank[rows] = np.arange(len(rows))
    is_val = rank[order] < quota[strata[order]]
    return order[~is_val], order[is_val]


def _quotas(counts, fraction, n_val):
    """Validation rows per class: fraction · count, rounded so that they add up to n_val.

    Largest remainders first; a class is not emptied of training rows while others can give.
    """
    exact = counts * fraction
    quota = np.floor(exact).astype(np.int64)
    by_remainder = sorted(range(len(counts)), key=lambda k: (-(exact[k] - quota[k]), k))
    # First to classes that keep a training row, then (only if needed) to any class with rows left.
    for keeps_one in (True, False):
        for k in by_remainder:
            if quota.sum() >= n_val:
                return quota
            if quota[k] + (1 if keeps_one else 0) < counts[k]:
                quota[k] += 1
    return quota


# --- scaling --------------------------------------------------------------------------
def _feature_scaling(features, rows, columns, kinds, scaling, warnings):
    """x_mean, x_std: centre and scale of each numeric feature (data.scaling) from the
    training rows (``rows`` of ``features``); one-hot and indicator features pass through (0, 1)."""
    n = features.shape[1]
    x_mean, x_std = np.zeros(n), np.ones(n)
    if scaling == "none":
        return x_mean, x_std
    numeric = [j for j, kind in enumerate(kinds) if kind == "numeric"]
    names, constant = feature_names(columns), []
    for j, (centre, scale) in zip(numeric, _column_stats(get_scaler(scaling), features, rows, numeric)):
        x_mean[j] = centre
        if scale == 0:
            constant.append(names[j])  # dividing by 0 would give nan: pass it through centred
        else:
            x_std[j] = scale
    if constant:
        listed = ", ".join(repr(n) for n in constant[:5]) + (", ..." if len(constant) > 5 else "")
        warnings.append(f"{len(constant)} feature(s) constant in the training data, centred but not "
                        f"scaled: {listed}")
    return x_mean, x_std


def _column_stats(scaler, features, rows, columns):
    """``scaler`` of each feature j in ``columns`` over ``rows``, on two threads for long
    columns (each column's numbers are the same on either thread).

    Each column is contiguous (a view, or its rows gathered): the same numbers as a column of
    X[rows], since NumPy's pairwise sums and its partitions do not depend on the stride.
    """
    def stats(j):
        with np.errstate(all="ignore"):  # errstate is per thread; overflow is caught by the caller
            return scaler(features.column(j, rows))

    return map_on_threads(stats, columns, rows=_count(features, rows))


# --- what the model file says about it ---------------------------------------------------
def describe_preprocessing(data_cfg, specs, ds):
    """meta["preprocessing"]: what happens to each raw column, and to the target.

    Numbers for reading; the arrays x_mean, x_std, x_clip of the model file are the ones applied.
    """
    j, columns = 0, []
    for spec in specs:
        entry = {"name": spec["name"], "kind": spec["kind"], "impute": spec.get("impute"),
                 "indicator": indicator_name(spec["name"]) if spec.get("indicator") else None}
        if spec["kind"] == "numeric":
            entry.update(center=float(ds.x_mean[j]), scale=float(ds.x_std[j]),
                         clip=float(ds.x_clip[j]) if ds.x_clip is not None else None)
        else:
            entry["categories"] = spec["categories"]
        j += (1 if spec["kind"] == "numeric" else len(spec["categories"])) + bool(spec.get("indicator"))
        columns.append(entry)
    target = None
    if ds.task == "regression":
        target = {"name": ds.target, "transform": ds.target_transform,
                  "center": float(ds.y_mean[0]), "scale": float(ds.y_std[0])}
    return {"scaling": data_cfg.scaling, "clip": clip_bound(data_cfg.clip),
            "missing": data_cfg.missing, "impute": data_cfg.impute, "unknown": data_cfg.unknown,
            "columns": columns, "target": target}
