"""Rows of a CSV file scored by a saved model: the work of predict and evaluate.

The forward pass is the network's own, in the model's dtype, on the arrays of the
model file (``nncli.io.modelfile.forward``). Rows are read, encoded and predicted one
chunk at a time, so memory does not grow with the file.
"""

import csv
from dataclasses import dataclass, field

import numpy as np

from nncli.errors import DataError
from nncli.export import plan
from nncli.core.losses import get_loss
from nncli.core.metrics import (RegressionSums, accuracy_from_confusion, balanced_accuracy, class_scores,
                                confusion_matrix, macro_f1, predicted_classes, roc_auc)
from nncli.core.preprocessing import TARGET_TRANSFORMS
from nncli.core.blas import limit_blas, scoring_threads
from nncli.core.network import Workspace
from nncli.io.encoding import class_matrix, column_text, encode_chunk
from nncli.io.reading import read_ahead
from nncli.io.modelfile import encoding_columns, forward, probabilities, regression_values, target_transform

@dataclass
class Policy:
    """What to do with rows that cannot be used as they are."""

    missing: str = "error"      # error | drop (rows with a missing or non-numeric value)
    unknown: str | None = None  # error | ignore (unseen category -> all zeros); None: the model's own
    chunk_size: int = 50_000  # as --chunk-size; nncli.io.reading.CHUNK_SIZE would load pandas


def unknown_policy(model, policy):
    """What to do with a category not seen in training: the option given, else the model's
    own ``data.unknown`` (version-2 files; "error" before)."""
    return policy.unknown or (model.meta.get("preprocessing") or {}).get("unknown", "error")


@dataclass
class Counts:
    """Rows read and left out, and unseen categories, over a whole file."""

    rows: int = 0
    n_missing: int = 0
    n_not_numeric: int = 0
    n_unknown: int = 0
    n_imputed: int = 0
    first_dropped: list = field(default_factory=list)  # data rows (from 0) of the first rows left out

    def add(self, chunk):
        if len(self.first_dropped) < SHOW_DROPPED:
            dropped = self.rows + np.flatnonzero(~np.asarray(chunk.kept))  # chunks are read in order
            self.first_dropped += dropped[:SHOW_DROPPED - len(self.first_dropped)].tolist()
        self.rows += len(chunk.kept)
        self.n_missing += chunk.n_missing
        self.n_not_numeric += chunk.n_not_numeric
        self.n_unknown += chunk.n_unknown
        self.n_imputed += chunk.n_imputed

    @property
    def n_dropped(self):
        return self.n_missing + self.n_not_numeric


def predict_chunk(model, chunk, table, workspace=None):
    """forward() on a chunk's rows of ``table``; DataError naming the line of a row whose output is not finite."""
    Z, A = forward(model, chunk.X, workspace)
    bad = ~np.isfinite(A).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        with np.errstate(over="ignore", invalid="ignore"):
            j = int(np.argmax(np.abs((chunk.X[i] - model.x_mean) / model.x_std)))
        raise DataError(f"{table.where}: the values on {table.place(int(chunk.rows[i]))} are too large for this "
                        f"{model.network.dtype} model (column {model.meta['features'][j]!r} holds "
                        f"{chunk.X[i, j]:g}, far outside the training data); its prediction is not finite: "
                        "check that value")
    return Z, A


def target_spec(model):
    """The target column as encode_chunk checks it: numbers, or one of the classes."""
    meta = model.meta
    if meta["task"] == "regression":
        return {"name": meta["target"], "kind": "numeric", "categories": []}
    return {"name": meta["target"], "kind": "label", "categories": meta["classes"]}


SHOW_DROPPED = 3  # rows left out named by their line


def count_warnings(counts, where, place=None):
    """The warnings about rows left out and unseen categories, for stderr.

    ``place(row)``: 'line N' of a data row, to name the first rows left out.
    """
    out = []
    if counts.n_dropped:
        reasons = [f"{n} with a {what} value" for n, what in
                   ((counts.n_missing, "missing"), (counts.n_not_numeric, "non-numeric")) if n]
        lines = "" if place is None else "; " + _places([place(r) for r in counts.first_dropped],
                                                         counts.n_dropped)
        out.append(f"left out {counts.n_dropped} of {counts.rows} row(s) of {where} ({', '.join(reasons)}{lines})")
    if counts.n_unknown:
        out.append(f"{counts.n_unknown} value(s) in {where} are categories not seen in training; "
                   "encoded as all zeros")
    if counts.n_imputed:
        out.append(f"imputed {counts.n_imputed} missing value(s) in {where} with the model's training values")
    return out


def _places(places, total):
    """'lines 3, 4, 42 and 2 more' from ['line 3', 'line 4', 'line 42'] of ``total`` rows."""
    more = f" and {total - len(places)} more" if total > len(places) else ""
    words = {p.rsplit(" ", 1)[0] for p in places}
    if len(places) > 1 and len(words) == 1:  # 'line 3', 'line 4' -> 'lines 3, 4'
        return f"{words.pop()}s " + ", ".join(p.rsplit(" ", 1)[1] for p in places) + more
    return ", ".join(places) + more


# --- predict ------------------------------------------------------------------------
WRITE_ROWS = 5_000  # output rows formatted at a time


def format_numbers(values):
    """Shortest decimal strings that read back as exactly ``values`` in their own dtype."""
    text = _shortest_by_orjson(values)
    return text if text is not None else _shortest(values)


def format_rows(M):
    """format_numbers of each row of the matrix ``M`` (m, k), joined by commas: m strings."""
    M = np.ascontiguousarray(M)
    orjson = _usable_orjson() if M.dtype in SAME_FORM else None
    if M.shape[1] == 1 or not len(M) or orjson is None:
        return list(map(",".join, zip(*[format_numbers(M[:, j]) for j in range(M.shape[1])])))
    # One call writes the whole matrix as [[a,b],[c,d]]: the rows are what lies between "],[".
    rows = orjson.dumps(M, option=orjson.OPT_SERIALIZE_NUMPY)[2:-2].decode("ascii").split("],[")
    other = np.flatnonzero(~_same_form(M).all(axis=1))
    if len(other):  # column by column, as format_numbers writes them (many at a time: a confident classifier)
        for i, row in zip(other.tolist(), zip(*[format_numbers(M[other, j]) for j in range(M.shape[1])])):
            rows[i] = ",".join(row)
    return rows


def _shortest(values):
    if values.dtype == np.float64:
        return list(map(repr, values.tolist()))  # Python's float repr is the shortest round-trip
    return values.astype(str).tolist()  # NumPy's, for float32


# orjson writes a whole array's shortest round-trip digits at once, 9 (float64) to 16 (rows of
# float32) times faster than the above (bench/BENCHMARKS.md, round five), in the same form where
# Python (float64) and NumPy (float32) write positional or e+NN notation: zero, and magnitudes
# from 1e-4 (up, for float64; below 1e6, for float32, which NumPy writes as 1e+06 from there).
# Below 1e-4 it writes 0.00001 or 1e-7 where they write 1e-05 and 1e-07, and NaN and infinities
# as null: those values are formatted as above.
# Checked on 13 million values by bench/number_format.py, and on 100,000 by tests/test_number_format.py.
SAME_FORM = {np.dtype(np.float64): (1e-4, np.inf), np.dtype(np.float32): (1e-4, 1e6)}


def _shortest_by_orjson(values):
    """format_numbers(values) computed by orjson, or None where it cannot be (its form unchecked)."""
    orjson = _usable_orjson() if values.dtype in SAME_FORM else None
    if orjson is None:
        return None
    same = _same_form(values)
    text = _orjson_text(orjson, values)
    if not same.all():
        for i, value in zip(np.flatnonzero(~same).tolist(), _shortest(values[~same])):
            text[i] = value
    return text


def _same_form(values):
    """True where orjson writes ``values`` (float64 or float32) in Python's and NumPy's form."""
    low, high = SAME_FORM[values.dtype]
    with np.errstate(invalid="ignore"):
        magnitude = np.abs(values.astype(np.float64, copy=False))  # in float64: float32(1e-4) is below 1e-4
        return ((magnitude >= low) & (magnitude < high)) | (magnitude == 0)


def _orjson_text(orjson, values):
    """orjson's strings of the 1-D float array ``values``."""
    if not len(values):
        return []
    data = orjson.dumps(np.ascontiguousarray(values), option=orjson.OPT_SERIALIZE_NUMPY)
    return data[1:-1].decode("ascii").split(",")


_PROBE = np.array([1e-4, 0.0010000000000000002, 0.1, 0.30000000000000004, 1 / 3, 2.5, -7.25, 12345.678,
                   99999.99, 3.141592653589793, 0.015625, 271.8281828459045, 100.0, -0.0, 0.0, 1e15,
                   123456.0, 999999.94, 1e16, 1.5e17, 1.7976931348623157e308])
_ORJSON_CHECKED = []


def _writes_as_python(orjson, dtype):
    """True if ``orjson`` writes the probe values of its range in ``dtype`` as format_numbers must."""
    with np.errstate(over="ignore"):
        values = _PROBE.astype(dtype)
    values = values[_same_form(values)]
    return _orjson_text(orjson, values) == _shortest(values)


def _usable_orjson():
    """The orjson module if it writes awkward values of its range exactly as Python and NumPy do,
    else None (checked once: another version might format otherwise, and is then not used)."""
    if not _ORJSON_CHECKED:
        try:
            import orjson
        except ImportError:  # a dependency, but an install may have lost it: the slow path still works
            orjson = None
        usable = orjson is not None and all(_writes_as_python(orjson, dtype) for dtype in SAME_FORM)
        _ORJSON_CHECKED.append(orjson if usable else None)
    return _ORJSON_CHECKED[0]


def output_names(model, taken=()):
    """Prediction column names: the target, then prob_<label> per class (``predicted_``
    prefixed to a name already in ``taken``, the input columns copied to the output)."""
    return plan.output_names(model.meta, taken)


def predict_values(model, A):
    """The output columns of one chunk as arrays of shape (m,): the prediction (labels as an
    object array, or float64 values), then the probabilities in the model's dtype."""
    if model.meta["task"] == "regression":
        return [regression_values(model, A)]
    P = probabilities(A)
    return [_labels(model, A)] + [P[:, k] for k in range(P.shape[1])]


def _labels(model, A):
    """The predicted class labels of the output layer ``A`` (an object array of shape (m,))."""
    return np.asarray(model.meta["classes"], dtype=object)[predicted_classes(A)]


def predict_columns(model, A):
    """The output of one chunk as lists of strings: the prediction (for a classifier, then the
    probabilities of a row joined by commas, as one column)."""
    if model.meta["task"] == "regression":
        return [format_numbers(regression_values(model, A))]
    return [_labels(model, A).tolist(), format_rows(probabilities(A))]


def score_chunks(model, table, policy=None, passthrough=(), counts=None, target=None):
    """Yield (passed, chunk, Z, A) per chunk of ``table``: the passthrough columns of the kept
    rows (lists of strings, as spelled), the encoded chunk (``chunk.rows``: their data row
    numbers from 0; ``chunk.y``: the target's values, with ``target``), and the network's output
    layer for them; ``counts`` adds up the rows.

    ``table`` is any open input with the interface of ``nncli.io.reading.ChunkedCsv``
    (``nncli.io.parquet.ChunkedParquet``, ``nncli.io.frames.FrameTable``). ``target`` (as
    ``target_spec`` gives it) reads and checks the target column too (evaluate).
    """
    policy, columns = policy or Policy(), encoding_columns(model.meta)
    counts = Counts() if counts is None else counts
    features = [c["name"] for c in columns]
    if target is not None:
        table.require([target["name"]], "target")
    table.require(features, "feature")
    table.require(passthrough, "input")
    text = set(passthrough) | {c["name"] for c in columns if c["kind"] == "categorical"}
    if target is not None and target["kind"] == "label":
        text.add(target["name"])
    read = features + ([target["name"]] if target is not None else [])
    # The columns are checked now, not when the first chunk is read.
    return _scored(model, table, policy, passthrough, counts, text, read, target)


def _scored(model, table, policy, passthrough, counts, text, read, target):
    columns, unknown = encoding_columns(model.meta), unknown_policy(model, policy)
    # A second thread reads the next chunk (read_ahead: pandas parses with the GIL released)
    # while this one encodes, predicts and writes; for a small network a second BLAS thread
    # would only contend with it.
    workspace = Workspace(model.network, policy.chunk_size)
    with limit_blas(scoring_threads(model.network.sizes)):
        for df in read_ahead(table.chunks(text, read, policy.chunk_size)):
            chunk = encode_chunk(df, columns, table.where, table.place, policy.missing, unknown, target)
            counts.add(chunk)
            Z, A = predict_chunk(model, chunk, table, workspace)
            yield [column_text(df, name, chunk.kept) for name in passthrough], chunk, Z, A


def predict_csv(model, table, out, policy=None, passthrough=()):
    """Write one CSV row of predictions per usable input row to the text stream ``out``.

    Parameters
    ----------
    table : nncli.io.reading.ChunkedCsv (or another table: see ``score_chunks``), the open input
    passthrough : input column names copied first, as spelled (--with-input, --id-column)

    Returns
    -------
    Counts, names : what was read and left out; the prediction column names written
    """
    names, counts = output_names(model, passthrough), Counts()
    scored = score_chunks(model, table, policy, passthrough, counts)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(passthrough) + names)
    for passed, _, _, A in scored:
        # The output's strings take more memory than the chunk itself: make them a slice at a time.
        for start in range(0, len(A), WRITE_ROWS):
            part = slice(start, start + WRITE_ROWS)
            columns = predict_columns(model, A[part])
            labels = 0 if model.meta["task"] == "regression" else 1  # a predicted label is text, may need quotes
            write_rows(out, writer, [column[part] for column in passed] + columns[:labels], columns[labels:])
    return counts, names


def predict_parquet(model, table, out, policy=None, passthrough=()):
    """Write the predictions to the binary stream ``out`` as Parquet, one row group per chunk.

    The prediction is a string (the label) or a float64; the probabilities are in the
    model's dtype; passthrough columns are strings, as spelled. Returns (Counts, names).
    """
    from nncli.io.parquet import ParquetRows

    names, counts = output_names(model, passthrough), Counts()
    kinds = ["string"] * len(passthrough) + [
        "float64" if model.meta["task"] == "regression" else "string"] + [model.network.dtype.name] * (len(names) - 1)
    with ParquetRows(out, list(passthrough) + names, kinds) as rows:
        for passed, _, _, A in score_chunks(model, table, policy, passthrough, counts):
            rows.write(passed + predict_values(model, A))
    return counts, names


def predict_frame(model, table, policy=None, passthrough=()):
    """The predictions as a pandas DataFrame (the Python API), with Counts."""
    import pandas as pd

    names, counts = output_names(model, passthrough), Counts()
    parts, rows = [], []
    for passed, chunk, _, A in score_chunks(model, table, policy, passthrough, counts):
        parts.append([np.asarray(column, dtype=object) for column in passed] + predict_values(model, A))
        rows.append(chunk.rows)
    if not parts:
        return pd.DataFrame({name: [] for name in list(passthrough) + names}), counts
    columns = [np.concatenate([part[j] for part in parts]) for j in range(len(parts[0]))]
    index = table.labels(np.concatenate(rows)) if hasattr(table, "labels") else np.concatenate(rows)
    return pd.DataFrame(dict(zip(list(passthrough) + names, columns)), index=index), counts


SPECIAL = (",", '"', "\n", "\r")  # characters that make the csv module quote a field


def write_rows(out, writer, text_columns, number_columns):
    """Write CSV rows made of the columns (lists of strings): ``text_columns`` as the csv
    module's ``writer`` would write them, then ``number_columns`` (format_numbers' strings, or
    format_rows' numbers joined by commas).

    When no text field holds a character that needs quoting (numbers never do), the rows are
    joined in one go; the bytes are the same as ``writer.writerows`` writes, which is used otherwise.
    """
    columns = text_columns + number_columns
    if not columns or not columns[0]:
        return
    plain = all(not any(c in text for c in SPECIAL) for text in map("".join, text_columns))
    if plain and (len(columns) > 1 or all(columns[0])):  # the csv module writes "" for a row of one empty field
        out.write("\n".join(map(",".join, zip(*columns)) if len(columns) > 1 else columns[0]))
        out.write("\n")
    else:  # numbers never need quotes, but the csv module would quote a comma-joined row of them
        writer.writerows([column[i] for column in text_columns] + [field for column in number_columns
                                                                    for field in column[i].split(",")]
                         for i in range(len(columns[0])))


# --- evaluate -----------------------------------------------------------------------
def evaluate_csv(model, table, policy=None):
    """Loss and metrics of the model on a labelled CSV (or Parquet, or DataFrame: see
    ``score_chunks``) table, accumulated over chunks.

    The loss is the model's own (meta["loss"]), on standardised targets exactly as in
    training, so it is comparable with the training val_loss; RMSE, MAE and R^2 are in
    the target's units.

    Returns
    -------
    result : dict as printed by ``nncli evaluate --json``
    counts : Counts
    """
    loss, sums, counts = get_loss(model.meta["loss"]), _Sums(model), Counts()
    for _, chunk, Z, A in score_chunks(model, table, policy, (), counts, target_spec(model)):
        if len(chunk.y):
            sums.add(loss, chunk, Z, A, table)
    if sums.n == 0:
        raise DataError(f"{table.where} has no rows to evaluate" +
                        (f" ({counts.n_dropped} left out)" if counts.n_dropped else "") +
                        "; give a CSV file with a header and labelled rows")
    return sums.result(), counts


class _Sums:
    """The loss and metric sums of an evaluation."""

    def __init__(self, model):
        self.model, self.n, self.loss_sum = model, 0, 0.0
        self.task = model.meta["task"]
        if self.task == "regression":
            self.errors = RegressionSums()
        else:
            k = len(model.meta["classes"])
            self.confusion = np.zeros((k, k), np.int64)
            # ROC-AUC ranks every row: binary keeps each chunk's classes and scores.
            self.truth, self.scores = [], []

    def add(self, loss, chunk, Z, A, table):
        """Add a chunk of ``table``: its targets ``chunk.y`` (values, or class indices) and outputs."""
        Y = self._targets(chunk.y, chunk, table)
        with np.errstate(over="ignore", invalid="ignore"):
            value = loss.value(Y, A, Z)
        if not np.isfinite(value):  # before the metrics, which would overflow too
            raise _target_too_large(self.model, chunk, Y, A, table)
        # value() is a mean over the rows (one output for mse): add the chunk's sum.
        self.loss_sum += value * len(Y)
        self.n += len(Y)
        if self.task == "regression":
            self.errors.add(chunk.y, regression_values(self.model, A))
        else:
            self.confusion += confusion_matrix(chunk.y, predicted_classes(A), len(self.confusion))
            if self.task == "binary":
                self.truth.append(np.asarray(chunk.y, np.int8))
                self.scores.append(A[:, 0].astype(np.float64))

    def _targets(self, y, chunk, table):
        """Y as in training: transformed and standardised values, or one-hot classes (one unit for binary)."""
        model, dtype = self.model, self.model.network.dtype
        if self.task == "regression":
            transform = target_transform(model.meta)
            forward, _ = TARGET_TRANSFORMS[transform]
            if transform == "log1p" and not (y > -1).all():
                i = int(np.argmax(~(y > -1)))
                raise DataError(f"{table.where}: target {model.meta['target']!r} holds {y[i]:g} on "
                                f"{table.place(int(chunk.rows[i]))}, but this model predicts log1p of the target, "
                                "defined above -1 only; remove that row")
            # Standardised in float64, then cast, as training does; an overflow shows in the loss.
            with np.errstate(over="ignore"):
                return ((forward(y[:, None]) - model.y_mean) / model.y_std).astype(dtype)
        return class_matrix(y, self.task, len(model.meta["classes"]), dtype)

    def result(self):
        if self.task == "regression":
            return {"n_rows": self.n, "loss": self.loss_sum / self.n, **self.errors.metrics()}
        classes, C = self.model.meta["classes"], self.confusion
        scores = class_scores(C)
        extra = {"balanced_accuracy": balanced_accuracy(C), "macro_f1": macro_f1(C)}
        if self.task == "binary":
            extra["roc_auc"] = roc_auc(np.concatenate(self.truth), np.concatenate(self.scores))
        return {
            "n_rows": self.n,
            "loss": self.loss_sum / self.n,
            "accuracy": accuracy_from_confusion(C),
            **extra,
            "per_class": {label: {"precision": float(scores["precision"][k]), "recall": float(scores["recall"][k]),
                                  "f1": float(scores["f1"][k]), "support": int(scores["support"][k])}
                          for k, label in enumerate(classes)},
            "confusion_matrix": {"labels": list(classes), "matrix": C.tolist()},
        }


def _target_too_large(model, chunk, Y, A, table):
    """DataError naming the target farthest from its prediction, when the loss overflows the
    model's dtype (only a regression target can: the cross-entropies cannot overflow)."""
    distance = np.abs(Y.astype(np.float64) - A).max(axis=1)
    i = int(np.argmax(distance))
    return DataError(f"{table.where}: target {model.meta['target']!r} holds {chunk.y[i]:g} on "
                     f"{table.place(int(chunk.rows[i]))}, too far from the training data for this "
                     f"{model.network.dtype} model (the loss is not finite); check that value")
