"""An in-memory table (a pandas DataFrame, or a dict of columns) read in chunks like a file,
so that the Python API predicts and evaluates through the same functions as the CLI."""

import pandas as pd

from nncli.errors import DataError
from nncli.io.reading import check_header, require_columns


def as_frame(data):
    """A DataFrame from a DataFrame, a dict of columns (or of one row's values), or a list of row dicts."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, dict):
        if data and all(pd.api.types.is_scalar(v) for v in data.values()):
            data = [data]  # one row
        return pd.DataFrame(data)
    if isinstance(data, (list, tuple)) and all(isinstance(row, dict) for row in data):
        return pd.DataFrame(list(data))
    raise DataError(f"cannot predict from a {type(data).__name__}: give a pandas DataFrame, a dict of "
                    "columns, a list of row dicts, or the path of a CSV or Parquet file")


class FrameTable:
    """A DataFrame with the interface of ``nncli.io.reading.ChunkedCsv``.

    Text columns are given as strings (as a CSV file spells them: ``str(value)``), None
    where missing; a row is named by its index label.
    """

    def __init__(self, df, where="DataFrame"):
        self.where, self._df = where, df
        self.header = [str(c) for c in df.columns]
        check_header(self.header, where)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def require(self, names, role):
        require_columns(self.header, names, self.where, role)

    def place(self, row):
        return f"row {self._df.index[row]!r}"

    def labels(self, rows):
        """The index labels of data rows (positions from 0)."""
        return self._df.index[rows]

    def chunks(self, text_columns=(), na_columns=(), chunksize=50_000):
        df = self._df.set_axis(self.header, axis=1)
        for start in range(0, len(df), chunksize):
            part = df.iloc[start:start + chunksize].copy()
            for name in text_columns:
                col = part[name]
                part[name] = col.astype(object).where(col.notna(), None).map(
                    lambda v: v if v is None or isinstance(v, str) else str(v))
            part.index = pd.RangeIndex(start, start + len(part))
            yield part
