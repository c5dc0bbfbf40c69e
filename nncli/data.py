"""CSV in, arrays out: reading, checking, encoding, splitting and standardising.

The only module that uses pandas. Features are matched by column name; text columns
(and those listed in ``data.categorical``) are one-hot encoded with their categories
in natural order. Line numbers in messages count the header as line 1.
"""

import contextlib
import csv
import io
import itertools
import re
import signal
import sys
import threading
import warnings
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
CONFIG_PATH_HINT = " (relative paths in a config are relative to the config file)"


def check_readable(path, what="data file", hint=""):
    """Raise DataError unless ``path`` is an existing, readable, non-binary file.

    ``hint`` is added to the advice when the file does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} {path} does not exist; check the path{hint}")
    if path.is_dir():
        raise DataError(f"{what} {path} is a directory, not a CSV file; give the path of a CSV file")
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_SIZE)
    except OSError as exc:
        raise DataError(f"cannot read {what} {path}: {exc.strerror}; check its permissions") from None
    check_text(head, path)


HEAD_SIZE = 8192  # bytes read to tell text from binary


def check_text(head, where):
    """Raise DataError if the first bytes of a file (at most HEAD_SIZE) are not text."""
    if b"\x00" in head:
        raise DataError(f"{where} is not a CSV file (it holds binary data); give a CSV text file")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A full window may cut a multi-byte character in two; then only complain before its end.
        if len(head) < HEAD_SIZE or exc.start < len(head) - 4:
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
    check_readable(path, hint=CONFIG_PATH_HINT)
    header = read_header(path, path)
    check_header(header, path)
    try:
        with warnings.catch_warnings():
            # index_col=False: a first row with a field too many is not taken as an index
            # column (pandas' guess); pandas warns and would drop the field, so it is an error.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(path, dtype={c: str for c in text_columns}, keep_default_na=True,
                             na_values=[""], index_col=False, **kwargs)
    except pd.errors.ParserWarning:
        raise DataError(_too_many_fields(path, place_of_row(path, 0), len(header))) from None
    except pd.errors.ParserError as exc:
        message = parser_message(exc, lambda n: place_of_record(path, n), header_seen=True)
        raise DataError(f"{path} could not be parsed as CSV: {message}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc.reason}); save it as UTF-8 CSV") from None
    except ValueError as exc:
        raise DataError(f"{path} could not be parsed as CSV: {str(exc).strip().splitlines()[0]}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: expected a header row of column names") from None
    return df


def _too_many_fields(where, place, n_columns):
    return f"{where}: {place} has more fields than the header's {n_columns}; check the delimiter and the quoting"


# --- line numbers, for messages (the error path only) --------------------------------
# pandas numbers the data rows from 0, skipping blank lines, and reads a quoted field
# across line breaks; so a row's line in the file is not simply row + 2. Rather than
# track lines while reading (a cost on every file), the file is read again with the csv
# module when a message needs a line.
def _record_starts(lines):
    """(first line, blank) of each CSV record in ``lines`` (text lines), header included.

    ``blank`` marks a line of nothing but spaces, which pandas skips.
    """
    line = ""

    def remembering():
        nonlocal line
        for line in lines:
            yield line

    reader, start = csv.reader(remembering()), 1
    for _ in reader:
        yield start, reader.line_num == start and not line.strip()
        start = reader.line_num + 1


def _nth(iterable, n):
    """The n-th item (from 0) of ``iterable``, or None."""
    return next(itertools.islice(iterable, n, None), None)


def _read_again(path, pick):
    """``pick(record starts)`` on the file at ``path``; None if it cannot be read again."""
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            return pick(_record_starts(f))
    except (OSError, csv.Error):
        return None


def line_of_row(path, row):
    """The line (header = 1) on which data row ``row`` of the CSV at ``path`` starts, or None.

    ``row`` counts the data rows from 0 as pandas does: blank lines are not rows.
    """
    def pick(records):
        rows = (start for start, blank in itertools.islice(records, 1, None) if not blank)
        return _nth(rows, row)

    return _read_again(path, pick)


def place_of_row(path, row):
    """'line N' for a message about data row ``row`` (from 0) of the file at ``path``."""
    line = None if path is None else line_of_row(path, row)
    return f"line {line}" if line is not None else f"data row {row + 1}"


def place_of_record(path, n):
    """'line N' for pandas' record ``n`` (from 1, header and blank lines included) of a file."""
    found = _read_again(path, lambda records: _nth(records, n - 1))
    return f"line {found[0]}" if found is not None else f"line {n}"


def parser_message(exc, place, header_seen):
    """pandas' tokenizer message, with its record counts turned into places in the file.

    pandas counts "line N" from 1 and "row N" from 0, over every record and blank line
    it read; ``header_seen`` is False when the header was read before pandas started.
    ``place(n)`` gives the place of record n (from 1, the header included).
    """
    message = str(exc).strip().splitlines()[0].removeprefix("Error tokenizing data. C error: ")
    skipped = 0 if header_seen else 1  # records of the file before pandas' first
    message = re.sub(r"\bline (\d+)", lambda m: place(int(m.group(1)) + skipped), message)
    message = re.sub(r"\brow (\d+)", lambda m: place(int(m.group(1)) + 1 + skipped), message)
    return f"{message}; check the delimiter and the quoting"


# --- columns ------------------------------------------------------------------------
def require_columns(df, names, where, role):
    """Raise DataError naming the first of ``names`` that ``df`` lacks."""
    for name in names:
        if name not in df.columns:
            raise DataError(f"{where}: {role} column {name!r} not found{did_you_mean(name, df.columns)}; "
                            f"columns are: {', '.join(map(str, df.columns))}{_delimiter_hint(df.columns)}")


def _delimiter_hint(columns):
    """A hint when the header looks separated by something other than commas."""
    if len(columns) == 1 and any(sep in str(columns[0]) for sep in ";\t|"):
        return " (one column: nncli reads comma-separated files; save the file with commas)"
    return ""


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
        f"{where}: column {name!r} holds numbers and text; value {values[bad]!r} on "
        f"{place_of_row(where, bad)} is not a number. Fix the value, or list the column in data.categorical "
        "to one-hot encode it")


def feature_names(columns):
    """Encoded feature names: the numeric columns, and ``name=category`` per category."""
    names = []
    for c in columns:
        names += [c["name"]] if c["kind"] == "numeric" else [f"{c['name']}={v}" for v in c["categories"]]
    return names


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
    X : ndarray of shape (len(df), n_features), float64, not yet standardised
    """
    require_columns(df, [c["name"] for c in columns], where, "feature")
    return encode_chunk(df, columns, where, place=lambda row: place_of_row(where, row),
                        hints=TRAINING_HINTS).X


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
    onehot = labels[:, None] == np.asarray(classes, dtype=object)[None, :]
    unseen = ~onehot.any(axis=1)
    if unseen.any():
        i = int(np.argmax(unseen))
        raise DataError(f"{where}: target {target!r} has class {labels[i]!r} on {place_of_row(where, col.index[i])}, "
                        f"not among the training classes ({', '.join(classes)}); remove that row, or add "
                        "examples of the class to the training data")
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
        raise DataError(f"{where} has a header but no data rows; add rows of data")
    require_columns(df, [data_cfg.target], where, "target")
    names = data_cfg.features or [c for c in df.columns if c != data_cfg.target]
    if not names:
        raise DataError(f"{where}: no feature columns: the file holds only the target {data_cfg.target!r}; "
                        "add columns to learn from")
    require_columns(df, names, where, "feature")
    require_columns(df, data_cfg.categorical, where, "categorical")
    df = _handle_missing(df, names + [data_cfg.target], data_cfg.missing, where, warnings)

    columns = describe_columns(df, names, set(data_cfg.categorical), where)
    classes = [] if task == "regression" else target_classes(df, data_cfg.target, task, where)
    X = encode_features(df, columns, where)
    Y = encode_target(df, data_cfg.target, task, classes, where, np.float64)

    X_val = Y_val = None
    if isinstance(data_cfg.validation, str):
        vdf = read_csv(data_cfg.validation, text_columns=text_cols)
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


# --- reading in chunks (predict, evaluate) ------------------------------------------
# pandas' default missing-value strings. Training reads with these (keep_default_na), so
# predict and evaluate treat the same cells as missing in the columns a model uses.
NA_STRINGS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
              "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
CHUNK_SIZE = 50_000


def _plain(data):
    """True if CSV bytes hold no quote (a field may span lines) and no line that is empty or
    starts with a space (pandas skips blank lines): then every line is one row."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return not any(pattern in data for pattern in (b'"', b"\n\n", b"\n ", b"\n\t"))


class _Prefixed(io.RawIOBase):
    """A binary stream that returns ``head`` first, then the rest of ``stream``.

    With ``watch``, ``plain`` stays True while every line read is one data row, so that
    row r is on line r + 2: stdin cannot be read again to find a row's line.
    """

    def __init__(self, head, stream, watch=False):
        self._head, self._stream = head, stream
        self.plain, self._watch, self._last = True, watch, b""
        self.failure = None  # what interrupted a read (Ctrl-C, an I/O error)

    def readable(self):
        return True

    def readinto(self, buffer):
        try:
            return self._readinto(buffer)
        except BaseException as exc:
            self.failure = exc  # pandas does not pass it on: see ChunkedCsv._raise_read_failure
            raise

    def _readinto(self, buffer):
        if self._head:
            n = min(len(buffer), len(self._head))
            data, self._head = self._head[:n], self._head[n:]
        else:
            data = self._stream.read(len(buffer))
            n = len(data)
        buffer[:n] = data
        if self._watch and self.plain:
            self.plain = _plain(self._last + data)  # a blank line may straddle two reads
            self._last = data[-1:]
        return n


@contextlib.contextmanager
def _interrupts_noted(raw):
    """While pandas reads from ``raw``, note Ctrl-C (and a SIGTERM handled as one) in
    ``raw.failure`` too: pandas may be inside ``raw.readinto`` when it is raised."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set from the main thread
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def note(signum, frame):
        raw.failure = KeyboardInterrupt()
        previous[signum](signum, frame)  # raises KeyboardInterrupt, as before

    noted = [sig for sig, handler in previous.items() if callable(handler)]
    for sig in noted:
        signal.signal(sig, note)
    try:
        yield
    finally:
        for sig in noted:
            signal.signal(sig, previous[sig])


class ChunkedCsv:
    """A CSV file (a path, or ``-`` for stdin) read in chunks of rows.

    The header is read and checked on opening. ``chunks`` yields DataFrames whose index
    is the data row number counted from 0; ``place(row)`` says where that row is in the
    file, for messages. Use as a context manager to close the file.
    """

    def __init__(self, source):
        source = str(source)
        self.where = "stdin" if source == "-" else source
        if source == "-":
            binary, self._file = sys.stdin.buffer, None
        else:
            check_readable(source)
            binary = self._file = open(source, "rb")
        try:
            self.header = self._open_text(binary)
        except BaseException:
            self.__exit__()
            raise

    def _open_text(self, binary):
        """Check that ``binary`` holds text, wrap it as text, and return its checked header."""
        head = binary.read(HEAD_SIZE)
        check_text(head, self.where)
        self._raw = _Prefixed(head, binary, watch=self._file is None)
        # utf-8-sig drops the byte-order mark that spreadsheet programs write.
        self._text = io.TextIOWrapper(io.BufferedReader(self._raw), encoding="utf-8-sig", newline="")
        try:
            header = next(csv.reader([self._text.readline()]), [])
        except (UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{self.where}: cannot read the header row ({exc})") from None
        check_header(header, self.where)
        return header

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._file is not None:
            self._file.close()

    def require(self, names, role):
        """Raise DataError naming the first of ``names`` missing from the header."""
        require_columns(pd.DataFrame(columns=self.header), names, self.where, role)

    def place(self, row):
        """'line N' of data row ``row`` (from 0), or 'data row N' when stdin's lines are unknown."""
        if self._file is not None:
            return place_of_row(self.where, row)
        return f"line {row + 2}" if self._raw.plain else place_of_row(None, row)

    def _raise_read_failure(self):
        """Raise what interrupted a read (Ctrl-C, an I/O error), if anything did.

        pandas does not let an exception raised in a read through: it reports a
        ParserError ("Calling read(nbytes) on source failed"), or takes it for the end
        of the file and returns the rows so far, which would be written as if complete.
        """
        failure = self._raw.failure
        if isinstance(failure, OSError):
            raise DataError(f"cannot read {self.where}: {failure.strerror or failure}") from None
        if failure is not None:
            raise failure

    def _place_of_record(self, n):
        """'line N' of pandas' record ``n`` (from 1, the header and blank lines included)."""
        if self._file is not None:
            return place_of_record(self.where, n)
        return f"line {n}" if self._raw.plain else f"line {n} (not counting line breaks inside quotes)"

    def chunks(self, text_columns=(), na_columns=(), chunksize=CHUNK_SIZE):
        """Yield DataFrames of at most ``chunksize`` rows.

        ``text_columns`` are kept as strings, as spelled. Missing values (pandas' default
        strings: empty, NA, nan, ...) are recognised in ``na_columns`` only, so that other
        columns are copied through exactly as they are written. Every column is parsed,
        even unused ones, so that a row with too many fields is an error naming its line
        (it usually means an unquoted comma has shifted the values).
        """
        try:
            with _interrupts_noted(self._raw):  # pandas reads the first block here already
                reader = pd.read_csv(
                    self._text, names=self.header, header=None, index_col=False,
                    dtype={c: str for c in text_columns}, keep_default_na=False,
                    na_values={c: list(NA_STRINGS) for c in na_columns}, chunksize=chunksize)
            self._raise_read_failure()
            while True:
                with warnings.catch_warnings():
                    # Text among numbers is found and reported by encode_chunk, with its line.
                    warnings.simplefilter("ignore", pd.errors.DtypeWarning)
                    # A first row with a field too many: pandas warns and drops the field.
                    warnings.simplefilter("error", pd.errors.ParserWarning)
                    with _interrupts_noted(self._raw):
                        df = next(reader, None)
                self._raise_read_failure()
                if df is None:
                    return
                yield df
        except pd.errors.ParserWarning:
            raise DataError(_too_many_fields(self.where, self.place(0), len(self.header))) from None
        except pd.errors.ParserError as exc:
            self._raise_read_failure()
            message = parser_message(exc, self._place_of_record, header_seen=False)
            raise DataError(f"{self.where} could not be parsed as CSV: {message}") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{self.where} is not UTF-8 text ({exc.reason}); save it as UTF-8 CSV") from None
        except OSError as exc:  # not to be taken for a failure to write the output
            raise DataError(f"cannot read {self.where}: {exc.strerror or exc}") from None


@dataclass
class Chunk:
    """One chunk of rows, checked and encoded for a model.

    X : ndarray of shape (n_kept, n_features), float64, not yet standardised
    y : target of the kept rows: float64 values, or class indices (None without a target)
    kept : bool ndarray of shape (n_rows,), False for rows left out (``missing="drop"``)
    rows : int ndarray of shape (n_kept,), the data row number (from 0) of each kept row
    """

    X: np.ndarray
    y: np.ndarray | None
    kept: np.ndarray
    rows: np.ndarray
    n_missing: int = 0        # rows left out for a missing value
    n_not_numeric: int = 0    # rows left out for a non-numeric or infinite number
    n_unknown: int = 0        # unseen categories encoded as all zeros


def encode_chunk(df, columns, where, missing="error", unknown="error", target=None, place=None,
                 hints=PREDICT_HINTS):
    """Check and encode the feature (and target) columns of one chunk of rows.

    Parameters
    ----------
    df : DataFrame from ``ChunkedCsv.chunks`` (index = row number from 0)
    columns : list of {"name", "kind", "categories"} as stored in the model file
    missing : "error", or "drop" to leave out rows with a missing or non-numeric value
    unknown : "error", or "ignore" to encode an unseen category as all zeros
    target : optional {"name", "kind": "numeric" | "label", "categories"}; an unseen
        label is always an error
    place : callable (row number) -> str, where a row is, for messages (``ChunkedCsv.place``;
        default "line row + 2")
    hints : dict, how to fix a bad value, by problem (``PREDICT_HINTS``, ``TRAINING_HINTS``)

    Returns
    -------
    Chunk
    """
    specs = list(columns) + ([target] if target else [])
    scans = [_scan(df[s["name"]], s) for s in specs]
    m = len(df)
    missing_rows, number_rows = np.zeros(m, bool), np.zeros(m, bool)
    for spec, (_, miss, bad) in zip(specs, scans):
        missing_rows |= miss
        if spec["kind"] == "numeric":
            number_rows |= bad
    dropped = missing_rows | number_rows if missing == "drop" else np.zeros(m, bool)
    kept = ~dropped
    _raise_first_problem(df, specs, scans, kept, missing, unknown, where, place or _line_after_header, hints)

    X = np.empty((int(kept.sum()), len(feature_names(columns))))
    j, n_unknown = 0, 0
    for spec, (values, _, bad) in zip(columns, scans):
        values = values[kept]
        if spec["kind"] == "numeric":
            X[:, j] = values
            j += 1
        else:
            k = len(spec["categories"])
            X[:, j:j + k] = values[:, None] == np.arange(k)  # code -1 (unseen): all zeros
            n_unknown += int(bad[kept].sum())
            j += k
    y = scans[-1][0][kept] if target else None
    return Chunk(X, y, kept, df.index.to_numpy()[kept], int((missing_rows & dropped).sum()),
                 int((number_rows & ~missing_rows & dropped).sum()), n_unknown)


def _scan(col, spec):
    """(values, missing, bad) of one column: float64 numbers or category codes (-1: unseen)."""
    missing = col.isna().to_numpy()
    if spec["kind"] == "numeric":
        numbers = col if pd.api.types.is_numeric_dtype(col) else pd.to_numeric(col, errors="coerce")
        values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, missing, ~missing & ~np.isfinite(values)
    codes = pd.Index(spec["categories"], dtype=object).get_indexer(col.astype(object))
    return codes, missing, ~missing & (codes < 0)


def _line_after_header(row):
    return f"line {row + 2}"


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
