"""Columns to numbers: numeric features, one-hot categories, the target's classes.

Features are matched by column name; text columns (and those listed in
``data.categorical``) are one-hot encoded with their categories in natural order.
"""

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nncli.errors import DataError
from nncli.io.features import encoded_features, feature_kinds, feature_names, indicator_name  # noqa: F401
from nncli.io.reading import arrow, place_of_row, require_columns


def natural_sort(values):
    """Numbers numerically, text alphabetically (values are the strings from the file)."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


# --- columns ------------------------------------------------------------------------
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
        kind, cats = "numeric", []
        if name in categorical or not pd.api.types.is_numeric_dtype(col):
            distinct = _distinct(col)  # found once, for both questions
            if name in categorical or not _numbers_only(col, distinct, name, where):
                kind, cats = "categorical", natural_sort(_as_text(distinct))
        columns.append({"name": name, "kind": kind, "categories": cats})
    return columns


def _distinct(col):
    """The distinct present values of a column, each once (a Series): a column of many rows
    has few values, and converting those is quicker than converting the rows."""
    return pd.Series(col.dropna().unique())


def _as_text(distinct):
    """Distinct values (``_distinct``) as a list of distinct strings."""
    return distinct.astype(str).unique().tolist()


def _numbers_only(col, distinct, name, where):
    """True if a text column holds numbers only (``distinct``: its distinct values); DataError
    if it mixes numbers and text."""
    numbers = pd.to_numeric(distinct, errors="coerce")
    if numbers.isna().all():
        return False  # text: a categorical column
    if numbers.notna().all():
        return True
    values = col.dropna()
    bad = values.isin(distinct[numbers.isna()]).idxmax()  # the first row holding a non-number
    raise DataError(
        f"{where}: column {name!r} holds numbers and text; value {values[bad]!r} on "
        f"{place_of_row(where, bad)} is not a number. Fix the value, or list the column in data.categorical "
        "to one-hot encode it")


# How to fix a bad value, by problem: in a file to predict from, and in training data.
PREDICT_HINTS = {
    "missing": "fill it in, or use --missing drop to leave such rows out",
    "number": "fix that value, or use --missing drop to leave such rows out",
    "categorical": "use --unknown ignore to encode it as all zeros",
}
TRAINING_HINTS = {
    "missing": "fill it in, or set data.missing: drop to leave such rows out",
    "number": "fix that value, or remove that row",
    "categorical": "add rows with it to the training data, or remove those rows",
}


def encode_features(df, columns, where):
    """Encode the feature columns of a training or validation file, as predict does.

    Parameters
    ----------
    df : DataFrame holding at least the columns named in ``columns`` (any order), as read
        by ``read_csv`` from the file ``where`` (messages give the line of a bad value),
        missing values already handled (``data.missing``)
    columns : list of {"name", "kind", "categories"}, categories learnt from the training file

    Returns
    -------
    Features of len(df) rows, not yet standardised (``Features.array()`` is X)
    """
    require_columns(df, [c["name"] for c in columns], where, "feature")
    return encode_chunk(df, columns, where, lambda row: place_of_row(where, row),
                        hints=TRAINING_HINTS).features


# --- target -------------------------------------------------------------------------
def target_classes(df, target, task, where):
    """The class labels in output-unit order (natural order), checked for the task."""
    classes = natural_sort(_as_text(_distinct(df[target])))
    if len(classes) < 2:
        raise DataError(f"{where}: target {target!r} has only one class ({classes[0] if classes else 'none'}); "
                        "a classifier needs at least two")
    if task == "binary" and len(classes) != 2:
        raise DataError(f"{where}: binary_cross_entropy needs a target with exactly two values, but "
                        f"{target!r} has {len(classes)}; use cross_entropy with a softmax output of "
                        f"{len(classes)} units")
    return classes


def encode_target(df, target, task, classes, where, dtype):
    """Y of shape (m, 1) for regression and binary, one-hot (m, K) for multiclass."""
    col = df[target]
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(col):
            bad = pd.to_numeric(col, errors="coerce").isna()
            i = int(np.argmax(bad.to_numpy()))
            raise DataError(f"{where}: loss mse needs a numeric target, but {target!r} holds "
                            f"{col.iloc[i]!r} on {place_of_row(where, col.index[i])}; for classes use "
                            "binary_cross_entropy or cross_entropy")
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            i = int(np.argmax(np.isinf(values)))
            raise DataError(f"{where}: column {target!r} must hold finite numbers, but "
                            f"{place_of_row(where, col.index[i])} holds {str(col.iloc[i])!r}; "
                            f"{TRAINING_HINTS['number']}")
        return values[:, None].astype(dtype)
    labels = col.astype(str).to_numpy()
    codes = pd.Index(classes, dtype=object).get_indexer(labels)
    if (codes < 0).any():
        i = int(np.argmax(codes < 0))
        raise DataError(f"{where}: target {target!r} has class {labels[i]!r} on {place_of_row(where, col.index[i])}, "
                        f"not among the training classes ({', '.join(classes)}); remove that row, or add "
                        "examples of the class to the training data")
    return class_matrix(codes, task, len(classes), dtype)


def class_matrix(codes, task, n_classes, dtype):
    """Class indices as the loss takes them: one-hot (m, K), or for binary the one
    column (m, 1) of the second class in natural order, the positive one."""
    Y = (np.asarray(codes)[:, None] == np.arange(n_classes)).astype(dtype)
    return Y[:, 1:] if task == "binary" else Y


@dataclass
class Features:
    """The encoded features of m rows, held column by column: no 2-D array until asked for.

    ``array`` gives X; ``fill`` writes any rows of X into an array, so that training's
    scaling works block by block without X; ``column`` gives one feature.

    columns : list of {"name", "kind", "categories", "indicator"} (as ``encode_chunk`` takes them)
    values : per column, ndarray of shape (m,): float64 numbers, or category codes (-1: unseen),
        missing values imputed
    missing : per column, bool ndarray of shape (m,): the value was missing (before imputation)
    """

    columns: list
    values: list
    missing: list

    @property
    def shape(self):
        """(m, n_features): the shape of X."""
        return len(self.missing[0]) if self.missing else 0, len(feature_names(self.columns))

    def array(self):
        """X : ndarray of shape (m, n_features), float64 in Fortran order (each feature contiguous)."""
        m, n = self.shape
        X = np.empty((n, m)).T
        self.fill(X)
        return X

    def fill(self, out, rows=slice(None)):
        """Write the features of ``rows`` (a slice or an index array) into ``out``, ndarray of
        shape (n_rows, n_features), column by column (quickest in Fortran order)."""
        for spec, values, missing, (lo, hi) in zip(self.columns, self.values, self.missing, self._spans()):
            _fill_features(spec, values, missing, out[:, lo:hi], rows)

    def column(self, j, rows=slice(None)):
        """Feature j of ``rows``, float64 ndarray of shape (n_rows,) (for a numeric feature and
        a slice of rows, a view of its values)."""
        spans = self._spans()
        c = next(c for c, (_, end) in enumerate(spans) if j < end)  # the column of feature j
        spec, (lo, hi) = self.columns[c], spans[c]
        if spec.get("indicator") and j == hi - 1:
            return self.missing[c][rows].astype(np.float64)
        if spec["kind"] == "numeric":
            return self.values[c][rows]
        return (self.values[c][rows] == j - lo).astype(np.float64)

    def _spans(self):
        """(first, end) of the features of each column, in X."""
        spans, j = [], 0
        for spec in self.columns:
            width = len(encoded_features([spec]))
            spans.append((j, j + width))
            j += width
        return spans


def _fill_features(spec, values, missing, out, rows):
    """Write the features of one column for ``rows`` into ``out``, its columns of X: its value
    or one-hot categories, then its missing-value indicator."""
    values = values[rows]
    if spec["kind"] == "numeric":
        out[:, 0] = values
    else:
        one_hot(values, out[:, :len(spec["categories"])])
    if spec.get("indicator"):
        out[:, -1] = missing[rows]


@dataclass
class Chunk:
    """One chunk of rows, checked and encoded for a model.

    features : Features of the kept rows, not yet standardised
    X : (built on first use) ndarray of shape (n_kept, n_features), float64: ``features.array()``
    y : target of the kept rows: float64 values, or class indices (None without a target)
    kept : bool ndarray of shape (n_rows,), False for rows left out (``missing="drop"``)
    index : the chunk's DataFrame index (the data row number, from 0, of each row)
    rows : (built on first use) int ndarray of shape (n_kept,), the data row number of each kept row
    n_imputed : missing values filled in with a column's impute value (kept rows)
    """

    features: Features
    y: np.ndarray | None
    kept: np.ndarray
    index: pd.Index
    n_missing: int = 0        # rows left out for a missing value
    n_not_numeric: int = 0    # rows left out for a non-numeric or infinite number
    n_unknown: int = 0        # unseen categories encoded as all zeros
    n_imputed: int = 0        # missing values replaced by the column's impute value

    @functools.cached_property
    def X(self):
        return self.features.array()

    @functools.cached_property
    def rows(self):
        return self.index.to_numpy()[self.kept]  # training's load has no use for them: not made there


def encode_chunk(df, columns, where, place, missing="error", unknown="error", target=None,
                 hints=PREDICT_HINTS):
    """Check and encode the feature (and target) columns of one chunk of rows.

    Parameters
    ----------
    df : DataFrame from ``ChunkedCsv.chunks`` (index = row number from 0)
    columns : list of {"name", "kind", "categories"} as stored in the model file, with
        optionally "impute" (the value that replaces a missing one: a number, or a
        category) and "indicator" (true: add the 0/1 feature ``name.missing``); see
        ``nncli.io.modelfile.encoding_columns``
    missing : "error", or "drop" to leave out rows with a missing or non-numeric value;
        a missing value in a column with an impute value is always imputed
    unknown : "error", or "ignore" to encode an unseen category as all zeros
    target : optional {"name", "kind": "numeric" | "label", "categories"}; an unseen
        label is always an error
    place : callable (row number) -> str, where a row is, for messages (``ChunkedCsv.place``)
    hints : dict, how to fix a bad value, by problem (``PREDICT_HINTS``, ``TRAINING_HINTS``)

    Returns
    -------
    Chunk
    """
    specs = list(columns) + ([target] if target else [])
    scans = [_scan(df[s["name"]], s) for s in specs]
    was_missing = [miss for _, miss, _ in scans]
    scans = [_impute(scan, spec) for scan, spec in zip(scans, specs)]
    m = len(df)
    missing_rows, number_rows = np.zeros(m, bool), np.zeros(m, bool)
    for spec, (_, miss, bad) in zip(specs, scans):
        missing_rows |= miss
        if spec["kind"] == "numeric":
            number_rows |= bad
    dropped = missing_rows | number_rows if missing == "drop" else np.zeros(m, bool)
    kept = ~dropped
    _raise_first_problem(df, specs, scans, kept, missing, unknown, where, place, hints)

    take = kept if dropped.any() else slice(None)  # every row kept: views, not copies
    n = len(columns)
    features = Features(list(columns), [values[take] for values, _, _ in scans[:n]],
                        [miss[take] for miss in was_missing[:n]])
    n_unknown = sum(int(bad[take].sum()) for spec, (_, _, bad) in zip(columns, scans)
                    if spec["kind"] != "numeric")
    n_imputed = sum(int(miss.sum()) for spec, miss in zip(columns, features.missing)
                    if spec.get("impute") is not None)
    y = scans[-1][0][take] if target else None
    return Chunk(features, y, kept, df.index, int((missing_rows & dropped).sum()),
                 int((number_rows & ~missing_rows & dropped).sum()), n_unknown, n_imputed)


ONE_HOT_BY_COLUMN = 16  # up to this many categories, one_hot fills column by column


def one_hot(codes, out):
    """Write the one-hot encoding of ``codes`` into ``out``.

    Parameters
    ----------
    codes : int ndarray of shape (m,), category indices, -1 for an unseen category (all zeros)
    out : float ndarray of shape (m, K), Fortran order (each column contiguous)
    """
    if out.shape[1] <= ONE_HOT_BY_COLUMN:
        # One streaming pass per contiguous column, no scatter into the rows: the quicker for few
        # categories (1,000,000 rows of 4: 3 ms instead of 11; with 30, on 50,000 rows, the scatter wins).
        for k in range(out.shape[1]):
            np.equal(codes, k, out=out[:, k])
        return
    # Many categories: zeroing is at memory speed, and the scatter writes one value per row.
    out[...] = 0.0
    seen = np.flatnonzero(codes >= 0)
    out[seen, codes[seen]] = 1.0


def _scan(col, spec):
    """(values, missing, bad) of one column: float64 numbers or category codes (-1: unseen)."""
    if spec["kind"] == "numeric" and pd.api.types.is_float_dtype(col) and isinstance(col.dtype, np.dtype):
        values = col.to_numpy(dtype=np.float64)  # missing values are NaN, and NaN is missing
        missing = np.isnan(values)
        return values, missing, np.isinf(values)
    missing = col.isna().to_numpy()
    if spec["kind"] == "numeric":
        numbers = col if pd.api.types.is_numeric_dtype(col) else pd.to_numeric(col, errors="coerce")
        values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, missing, ~missing & ~np.isfinite(values)
    codes = category_codes(col, spec["categories"])
    return codes, missing, ~missing & (codes < 0)


def category_codes(col, categories):
    """Index in ``categories`` of each value of ``col`` (a Series), -1 for a missing or unseen one
    (an int ndarray of shape (len(col),)).

    Each distinct value is looked up once, then the rows take their value's code; a text
    column held by pyarrow is looked up by pyarrow, row by row (``_arrow_codes``).
    """
    pa = arrow()
    if (pa is not None and isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow"
            and all(isinstance(category, str) for category in categories)):
        return _arrow_codes(pa, col, categories)
    rows, distinct = pd.factorize(col)  # rows: index into distinct, -1 for a missing value
    if len(distinct) <= 1000:  # a dict is quicker than building an Index for every chunk
        code = _codes_of(tuple(categories))
        lookup = np.array([code.get(value, -1) for value in distinct] + [-1], dtype=np.intp)
    else:
        lookup = np.append(pd.Index(categories, dtype=object).get_indexer(np.asarray(distinct, dtype=object)), -1)
    return lookup[rows]


def _arrow_codes(pa, col, categories):
    """category_codes of a text column held by pyarrow: its rows looked up in a hash table of the
    categories, without the Python strings of factorize (1,000,000 rows: 17 ms instead of 28)."""
    values = pa.array(col.array)  # the column's own arrow data, not a copy
    codes = pa.compute.index_in(values, value_set=pa.array(categories, type=values.type))
    return codes.fill_null(-1).to_numpy()  # int32 (widening them cost 8 ms a million); null: missing or unseen


@functools.lru_cache(maxsize=64)
def _codes_of(categories):
    """{category: its index} for a tuple of categories (the same for every chunk of a file)."""
    return {category: i for i, category in enumerate(categories)}


def _impute(scan, spec):
    """A scan with its missing values replaced by the column's impute value, if it has one."""
    values, missing, bad = scan
    fill = spec.get("impute")
    if fill is None or not missing.any():
        return scan
    values = values.copy()
    values[missing] = fill if spec["kind"] == "numeric" else spec["categories"].index(fill)
    return values, np.zeros_like(missing), bad


def _raise_first_problem(df, specs, scans, kept, missing, unknown, where, place, hints):
    """Raise DataError for the problem on the earliest line (then the leftmost column)."""
    first = None
    for order, (spec, (_, miss, bad)) in enumerate(zip(specs, scans)):
        kinds = [("missing", miss)] if missing == "error" else []
        if spec["kind"] == "numeric":
            kinds += [("number", bad)] if missing == "error" else []
        elif spec["kind"] == "label" or unknown == "error":
            kinds.append((spec["kind"], bad & kept))  # rows left out are not checked
        for kind, mask in kinds:
            if mask.any():
                pos = int(np.argmax(mask))
                if first is None or (pos, order) < first[:2]:
                    first = (pos, order, kind, spec)
    if first is None:
        return
    pos, _, kind, spec = first
    name, at, value = spec["name"], place(int(df.index[pos])), df[spec["name"]].iloc[pos]
    if kind == "missing":
        raise DataError(f"{where}: column {name!r} has a missing value on {at}; {hints['missing']}")
    if kind == "number":
        what = "must hold finite numbers" if np.isinf(scans[first[1]][0][pos]) else "must be numeric"
        raise DataError(f"{where}: column {name!r} {what}, but {at} holds {str(value)!r}; {hints['number']}")
    known = _shorten(spec["categories"])
    if kind == "categorical":
        raise DataError(f"{where}: column {name!r} has value {value!r} on {at}, a category not "
                        f"seen in training (known: {known}); {hints['categorical']}")
    raise DataError(f"{where}: target {name!r} has class {value!r} on {at}, "
                    f"not among the training classes ({known}); remove that row, or evaluate on data "
                    "with the model's classes only")


def _shorten(values, limit=10):
    shown = ", ".join(map(str, values[:limit]))
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def column_text(df, name, kept):
    """The kept rows of a column as strings, as spelled in the file ('' for an absent value)."""
    return df[name].to_numpy(dtype=object, na_value="")[kept].tolist()
