"""Rows of a CSV file scored by a saved model: the work of predict and evaluate.

The forward pass is the network's own, in the model's dtype, on the arrays of the
model file (``nncli.io.modelfile.forward``). Rows are read, encoded and predicted one
chunk at a time, so memory does not grow with the file.
"""

from dataclasses import dataclass, field

import csv

import numpy as np

from nncli.errors import DataError
from nncli.core.losses import get_loss
from nncli.core.metrics import (RegressionSums, accuracy_from_confusion, class_scores, confusion_matrix,
                                predicted_classes)
from nncli.io.encoding import column_text, encode_chunk
from nncli.io.modelfile import forward, probabilities, regression_values

@dataclass
class Policy:
    """What to do with rows that cannot be used as they are."""

    missing: str = "error"      # error | drop (rows with a missing or non-numeric value)
    unknown: str = "error"      # error | ignore (unseen category -> all zeros)
    chunk_size: int = 50_000  # as --chunk-size; nncli.io.reading.CHUNK_SIZE would load pandas


@dataclass
class Counts:
    """Rows read and left out, and unseen categories, over a whole file."""

    rows: int = 0
    n_missing: int = 0
    n_not_numeric: int = 0
    n_unknown: int = 0
    first_dropped: list = field(default_factory=list)  # data rows (from 0) of the first rows left out

    def add(self, chunk):
        if len(self.first_dropped) < SHOW_DROPPED:
            dropped = self.rows + np.flatnonzero(~np.asarray(chunk.kept))  # chunks are read in order
            self.first_dropped += dropped[:SHOW_DROPPED - len(self.first_dropped)].tolist()
        self.rows += len(chunk.kept)
        self.n_missing += chunk.n_missing
        self.n_not_numeric += chunk.n_not_numeric
        self.n_unknown += chunk.n_unknown

    @property
    def n_dropped(self):
        return self.n_missing + self.n_not_numeric


def predict_chunk(model, chunk, table):
    """forward() on a chunk's rows of ``table``; DataError naming the line of a row whose output is not finite."""
    Z, A = forward(model, chunk.X)
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
    if values.dtype == np.float64:
        return list(map(repr, values.tolist()))  # Python's float repr is the shortest round-trip
    return values.astype(str).tolist()


def output_names(model, taken=()):
    """Prediction column names: the target, then prob_<label> per class.

    A name already in ``taken`` (input columns copied to the output) gets the prefix
    ``predicted_`` so that the output header never holds the same name twice.
    """
    names = [model.meta["target"]] + [f"prob_{label}" for label in model.meta["classes"]]
    out, used = [], set(taken)
    for name in names:
        while name in used:
            name = f"predicted_{name}"
        used.add(name)
        out.append(name)
    return out


def predict_columns(model, A):
    """The output columns of one chunk (lists of strings): prediction, then probabilities."""
    if model.meta["task"] == "regression":
        return [format_numbers(regression_values(model, A))]
    labels = np.asarray(model.meta["classes"], dtype=object)[predicted_classes(A)].tolist()
    P = probabilities(A)
    return [labels] + [format_numbers(P[:, k]) for k in range(P.shape[1])]


def predict_csv(model, table, out, policy=None, passthrough=()):
    """Write one CSV row of predictions per usable input row to the text stream ``out``.

    Parameters
    ----------
    table : nncli.io.reading.ChunkedCsv, the open input
    passthrough : input column names copied first, as spelled (--with-input, --id-column)

    Returns
    -------
    Counts, names : what was read and left out; the prediction column names written
    """
    policy, columns = policy or Policy(), model.meta["columns"]
    features = [c["name"] for c in columns]
    table.require(features, "feature")
    table.require(passthrough, "input")
    names = output_names(model, passthrough)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(passthrough) + names)
    text = set(passthrough) | {c["name"] for c in columns if c["kind"] == "categorical"}
    counts = Counts()
    for df in table.chunks(text, features, policy.chunk_size):
        chunk = encode_chunk(df, columns, table.where, policy.missing, policy.unknown, place=table.place)
        counts.add(chunk)
        _, A = predict_chunk(model, chunk, table)
        passed = [column_text(df, name, chunk.kept) for name in passthrough]
        # The output's strings take more memory than the chunk itself: make them a slice at a time.
        for start in range(0, len(A), WRITE_ROWS):
            part = slice(start, start + WRITE_ROWS)
            writer.writerows(zip(*[column[part] for column in passed], *predict_columns(model, A[part])))
    return counts, names


# --- evaluate -----------------------------------------------------------------------
def evaluate_csv(model, table, policy=None):
    """Loss and metrics of the model on a labelled CSV, accumulated over chunks.

    The loss is the model's own (meta["loss"]), on standardised targets exactly as in
    training, so it is comparable with the training val_loss; RMSE, MAE and R^2 are in
    the target's units.

    Returns
    -------
    result : dict as printed by ``nncli evaluate --json``
    counts : Counts
    """
    policy, meta, columns = policy or Policy(), model.meta, model.meta["columns"]
    features = [c["name"] for c in columns]
    table.require([meta["target"]], "target")
    table.require(features, "feature")
    target = target_spec(model)
    text = {c["name"] for c in columns if c["kind"] == "categorical"}
    if target["kind"] == "label":
        text.add(target["name"])
    loss = get_loss(meta["loss"])
    sums = _Sums(model)
    counts = Counts()
    for df in table.chunks(text, features + [target["name"]], policy.chunk_size):
        chunk = encode_chunk(df, columns, table.where, policy.missing, policy.unknown, target, table.place)
        counts.add(chunk)
        if len(chunk.y):
            Z, A = predict_chunk(model, chunk, table)
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

    def add(self, loss, chunk, Z, A, table):
        """Add a chunk of ``table``: its targets ``chunk.y`` (values, or class indices) and outputs."""
        Y = self._targets(chunk.y)
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

    def _targets(self, y):
        """Y as in training: standardised values, or one-hot classes (one unit for binary)."""
        model, dtype = self.model, self.model.network.dtype
        if self.task == "regression":
            # Standardised in float64, then cast, as training does; an overflow shows in the loss.
            with np.errstate(over="ignore"):
                return ((y[:, None] - model.y_mean) / model.y_std).astype(dtype)
        Y = (y[:, None] == np.arange(len(model.meta["classes"]))).astype(dtype)
        return Y[:, 1:] if self.task == "binary" else Y  # binary: 1 for the second class

    def result(self):
        if self.task == "regression":
            return {"n_rows": self.n, "loss": self.loss_sum / self.n, **self.errors.metrics()}
        classes, C = self.model.meta["classes"], self.confusion
        scores = class_scores(C)
        return {
            "n_rows": self.n,
            "loss": self.loss_sum / self.n,
            "accuracy": accuracy_from_confusion(C),
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
