"""Reading CSV files: checks, whole files (training), chunks (predict, evaluate), line numbers.

Line numbers in messages count the header as line 1.
"""

import csv
import io
import itertools
import os
import re
import sys
import warnings
from pathlib import Path

import pandas as pd

from nncli import interrupts
from nncli.core.registry import did_you_mean
from nncli.errors import DataError


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
    if head.startswith(b"PK"):  # an .npz (zip) is not text either; say what it is
        _raise_if_not_csv(where, head)
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
        _raise_if_not_csv(where)
        raise DataError(f"{where} is empty: expected a header row of column names")
    twice = first_duplicate(header)
    if twice is not None:
        raise DataError(f"{where}: column {twice!r} appears more than once in the header; rename one of them")


def first_duplicate(names):
    """The first of ``names`` that appeared before it, or None."""
    seen = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def read_header(path):
    """The header row of the CSV file at ``path``."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        return next(csv.reader(f), [])


def read_csv(path, text_columns=(), **kwargs):
    """Read a whole CSV with its checks; ``text_columns`` are kept as strings, as spelled."""
    check_readable(path, hint=CONFIG_PATH_HINT)
    header = read_header(path)
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


# --- CSV or Parquet -----------------------------------------------------------------
PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path):
    """True for a file named ``*.parquet`` or ``*.pq`` (read with pyarrow, ``nncli.io.parquet``)."""
    return str(path).lower().endswith(PARQUET_SUFFIXES)


def read_table(path, text_columns=()):
    """A whole data file, CSV or Parquet (by its suffix), as ``read_csv`` reads it.

    For Parquet, ``df.attrs["text_columns"]`` names the string columns: they are categorical.
    """
    if is_parquet(path):
        from nncli.io.parquet import read_parquet

        return read_parquet(path, text_columns)
    return read_csv(path, text_columns=text_columns)


def open_table(source):
    """An input read in chunks: ``ChunkedParquet`` for a Parquet file, else ``ChunkedCsv`` (- is stdin)."""
    if str(source) != "-" and is_parquet(source):
        from nncli.io.parquet import ChunkedParquet

        return ChunkedParquet(source)
    return ChunkedCsv(source)


# --- columns ------------------------------------------------------------------------
def require_columns(columns, names, where, role):
    """Raise DataError naming the first of ``names`` not among ``columns`` (a header)."""
    columns = list(columns)
    for name in names:
        if name not in columns:
            _raise_if_not_csv(where)
            raise DataError(f"{where}: {role} column {name!r} not found{did_you_mean(name, columns)}; "
                            f"columns are: {', '.join(map(str, columns))}{_delimiter_hint(columns)}")


def _raise_if_not_csv(where, head=None):
    """On the error path: DataError saying so if ``where`` holds a model file or a config."""
    from nncli.io.sniff import kind_of

    kind = kind_of(where, head)
    if kind == "model":
        raise DataError(f"{where} is a model file, not CSV data; the data comes after the model: "
                        "nncli predict MODEL DATA")
    if kind == "config":
        raise DataError(f"{where} looks like a YAML config, not CSV data; give the CSV file it trains on "
                        "(its data.path)")


def _delimiter_hint(columns):
    """A hint when the header looks separated by something other than commas."""
    if len(columns) == 1 and any(sep in str(columns[0]) for sep in ";\t|"):
        return " (one column: nncli reads comma-separated files; save the file with commas)"
    return ""


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
    if is_parquet(path):
        return None  # no lines: the row is named by its number
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


# --- pyarrow, where it is installed --------------------------------------------------
_ARROW = []


def arrow():
    """The pyarrow module (with pyarrow.compute loaded), or None if it is not installed.

    Set NNCLI_NO_ARROW=1 to do without it (the results are the same; tests compare both).
    """
    if not _ARROW:
        try:
            if os.environ.get("NNCLI_NO_ARROW"):
                raise ImportError
            import pyarrow
            import pyarrow.compute  # noqa: F401
        except ImportError:
            pyarrow = None
        _ARROW.append(pyarrow)
    return _ARROW[0]


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


def _interrupts_noted(raw):
    """While pandas reads from ``raw``, note Ctrl-C (and SIGTERM) in ``raw.failure`` too:
    pandas may be inside ``raw.readinto`` when the KeyboardInterrupt is raised."""
    def note(signum):
        raw.failure = KeyboardInterrupt()
        return False  # and stop, as before

    return interrupts.reacting(note)


def read_ahead(items, depth=1):
    """Yield the items of the iterator ``items``, made in a background thread ``depth`` items ahead.

    pandas parses a chunk with the GIL released, so the next chunk is parsed on the other
    core while the caller encodes, predicts and writes this one. At most ``depth`` + 1 items
    exist at once, so memory stays as flat as reading in turn. An exception raised by
    ``items`` is raised here, in its place; closing this generator early (an error, Ctrl-C,
    which only the main thread receives) stops the thread after the item it is making.
    """
    import queue
    import threading

    made, stop, END = queue.Queue(maxsize=depth), threading.Event(), object()

    def offer(entry):
        """Queue ``entry`` unless the caller has stopped; False if it has."""
        while not stop.is_set():
            try:
                made.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def make():
        try:
            for item in items:
                if not offer((item, None)):
                    return
            offer((END, None))
        except BaseException as exc:  # passed to the caller, raised there
            offer((END, exc))
        finally:
            if hasattr(items, "close"):
                items.close()  # a generator's own clean-up (its open file), in the thread that ran it

    worker = threading.Thread(target=make, name="nncli-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, failure = made.get()
            if failure is not None:
                raise failure
            if item is END:
                return
            yield item
    finally:
        stop.set()
        if worker.is_alive():
            worker.join(timeout=0.1)  # it may be blocked in a read; as a daemon it cannot keep the process alive


def _first_line(stream):
    """The first line of a buffered binary stream, read up to its end: LF, CR LF or a lone CR
    (as pandas ends lines, and a text stream with ``newline=""``)."""
    line = bytearray()
    while data := stream.peek():
        ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
        if not ends:
            line += stream.read(len(data))
            continue
        end = min(ends) + 1
        line += stream.read(end)
        if line.endswith(b"\r") and stream.peek()[:1] == b"\n":
            line += stream.read(1)
        break
    return bytes(line)


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
        # pandas is given the bytes (and decodes them itself): through a text stream they
        # would be decoded by Python, then encoded again by pandas, holding the GIL.
        self._bytes = io.BufferedReader(self._raw)
        try:
            # utf-8-sig drops the byte-order mark that spreadsheet programs write.
            header = next(csv.reader([_first_line(self._bytes).decode("utf-8-sig")]), [])
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
        require_columns(self.header, names, self.where, role)

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
                    self._bytes, encoding="utf-8", names=self.header, header=None, index_col=False,
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
