"""What a table of data looks like before any config exists: the task a target implies,
columns that look like identifiers, missing values (``nncli init`` and ``nncli check``)."""

import numpy as np
import pandas as pd

from nncli.errors import DataError

MAX_CLASSES = 20          # a numeric target with at most this many distinct integers is a label
NEARLY_EVERY_ROW = 0.95   # a text column distinct in this share of its rows is an identifier
MIN_ROWS_FOR_ID = 10      # below this, distinct values prove nothing


def identifier_reason(col: pd.Series):
    """Why the column looks like an identifier (a row index, a distinct text per row), or None."""
    n = len(col)
    values = col.dropna()
    if n < MIN_ROWS_FOR_ID or values.empty:
        return None
    if pd.api.types.is_numeric_dtype(col) and len(values) == n:
        as_array = values.to_numpy()
        for start in (0, 1):
            if np.array_equal(as_array, np.arange(start, start + n)):
                return f"a row index ({start}..{start + n - 1})"
        return None
    if not pd.api.types.is_numeric_dtype(col):
        distinct = values.astype(str).nunique()
        if distinct >= NEARLY_EVERY_ROW * len(values):
            return f"text with a distinct value in {distinct} of {n} rows (an identifier, not a category)"
    return None


def infer_task(col: pd.Series, where: str):
    """(task, classes) for a target column: regression, binary or multiclass.

    Numbers with many distinct values are a quantity to regress; two values are a binary
    label; a few labels (text, or at most MAX_CLASSES distinct integers) are classes.
    """
    values = col.dropna()
    if values.empty:
        raise DataError(f"{where}: the target column {col.name!r} has no values")
    distinct = values.unique()
    numeric = pd.api.types.is_numeric_dtype(col)
    if len(distinct) < 2:
        raise DataError(f"{where}: the target column {col.name!r} holds one value only; nothing to learn")
    if len(distinct) == 2:
        return "binary", sorted(map(str, distinct))
    if numeric:
        integers = bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
        if not integers or len(distinct) > MAX_CLASSES:
            return "regression", []
        return "multiclass", [str(v) for v in sorted(distinct)]
    if identifier_reason(col) is not None:
        raise DataError(f"{where}: the target column {col.name!r} holds a distinct text in nearly every row; "
                        "it looks like an identifier, not something to predict; choose another --target")
    return "multiclass", sorted(map(str, distinct))


def missing_counts(df: pd.DataFrame, names) -> dict:
    """{column: number of missing values} for the columns of ``names`` that have any."""
    counts = df[list(names)].isna().sum()
    return {name: int(count) for name, count in counts.items() if count}


def mixed_columns(df: pd.DataFrame, names) -> list:
    """The text columns of ``names`` some (not all) of whose values read as numbers (mpg's
    drv: 4, f, r): nncli needs them listed in data.categorical to one-hot encode them."""
    out = []
    for name in names:
        col = df[name]
        if pd.api.types.is_numeric_dtype(col):
            continue
        values = pd.Series(col.dropna().astype(str).unique())
        numbers = pd.to_numeric(values, errors="coerce").notna()
        if numbers.any() and not numbers.all():
            out.append(name)
    return out
