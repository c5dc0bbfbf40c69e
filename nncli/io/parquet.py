"""Reading and writing Parquet files (pyarrow, the optional extra ``nncli[parquet]``).

A Parquet file is read by columns (only those a command uses) and in batches of rows,
row group by row group, so memory depends on the batch and the row group, not on the
file. Column kinds come from the Parquet types: a string or dictionary column is text
(categorical when it is a feature), the others are numbers. A null is a missing value;
text is never taken for one (unlike ``NA`` in a CSV file). Rows are named by their number
(``row 5``, from 1): a Parquet file has no lines.
"""

import pandas as pd

from nncli.errors import DataError, UsageError
from nncli.io.reading import check_header, require_columns

INSTALL_HINT = "pip install 'nncli[parquet]'"


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise UsageError(f"reading and writing Parquet files needs pyarrow; install it with: {INSTALL_HINT}") from None
    return pyarrow


def _open(path, what="data file"):
    """The ParquetFile at ``path``; DataError if it is missing or not Parquet."""
    pa = _pyarrow()
    try:
        return pa.parquet.ParquetFile(path)
    except FileNotFoundError:
        raise DataError(f"{what} {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{what} {path} is a directory, not a Parquet file") from None
    except OSError as exc:
        raise DataError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise DataError(f"{path} is not a Parquet file ({exc})") from None


def text_columns_of(schema):
    """Names of the string and dictionary columns of an Arrow schema."""
    pa = _pyarrow()
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
            or pa.types.is_dictionary(f.type)]


def to_frame(batch, text_columns, first_row=0):
    """A DataFrame of an Arrow table or batch: ``text_columns`` as strings (None where null),
    the index the data row numbers from ``first_row``."""
    df = batch.to_pandas()
    for name in text_columns:
        if name in df.columns:
            col = df[name]
            df[name] = col.astype(object).where(col.notna(), None).map(
                lambda v: v if v is None or isinstance(v, str) else str(v))
    df.index = pd.RangeIndex(first_row, first_row + len(df))
    return df


def read_parquet(path, text_columns=()):
    """Read a whole Parquet file (training); its string columns are listed in
    ``df.attrs["text_columns"]``, to be one-hot encoded."""
    pf = _open(path)
    check_header(pf.schema_arrow.names, path)
    text = text_columns_of(pf.schema_arrow)
    df = to_frame(pf.read(), set(text) | set(text_columns))
    df.attrs["text_columns"] = text
    return df


class ChunkedParquet:
    """A Parquet file read in batches of rows, with the interface of ``ChunkedCsv``."""

    def __init__(self, path):
        self.where = str(path)
        self._file = _open(path)
        self.header = self._file.schema_arrow.names
        check_header(self.header, self.where)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()

    @property
    def row_groups(self):
        return self._file.metadata.num_row_groups

    def require(self, names, role):
        require_columns(self.header, names, self.where, role)

    def place(self, row):
        return f"row {row + 1}"

    def chunks(self, text_columns=(), na_columns=(), chunksize=50_000):
        """Yield DataFrames of at most ``chunksize`` rows, of the columns in ``text_columns``
        and ``na_columns`` only (text columns as strings; nulls are missing in every column)."""
        wanted = set(text_columns) | set(na_columns)
        columns = [name for name in self.header if name in wanted]
        first = 0
        try:
            for batch in self._file.iter_batches(batch_size=chunksize, columns=columns, use_threads=False):
                df = to_frame(batch, text_columns, first)
                first += len(df)
                yield df
        except OSError as exc:
            raise DataError(f"cannot read {self.where}: {exc}") from None


class ParquetRows:
    """A Parquet file written chunk by chunk (one row group each) to a binary stream."""

    def __init__(self, out, names, kinds):
        pa = self._pa = _pyarrow()
        types = {"string": pa.string(), "float32": pa.float32(), "float64": pa.float64()}
        self.schema = pa.schema([(name, types[kind]) for name, kind in zip(names, kinds)])
        self._writer = pa.parquet.ParquetWriter(out, self.schema)

    def write(self, columns):
        """Write one row group: ``columns`` are sequences of equal length, in the schema's order."""
        arrays = [self._pa.array(list(c) if self._is_text(f) else c, type=f.type)
                  for c, f in zip(columns, self.schema)]
        self._writer.write_table(self._pa.Table.from_arrays(arrays, schema=self.schema))

    def _is_text(self, field):
        return self._pa.types.is_string(field.type)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._writer.close()
