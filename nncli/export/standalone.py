"""Predictions of an nncli model, standalone: Python 3 and NumPy only, no nncli, no pickle.

Written by ``nncli export MODEL.npz --format python``; the model (its steps and its
weights, base64-encoded) is the JSON in PLAN below. The numbers are those of
``nncli predict``: the same steps, in float64, then the network in its own dtype.

    python predict_model.py in.csv > out.csv          # - reads stdin
    from predict_model import predict
    predict([{"sepal_length": 5.1, "sepal_width": 3.5, ...}])  # one dict per row and output

A missing value (unless the model imputes it), a value that is not a number in a
numeric column, or a category not seen in training is a ValueError naming it.
"""

import base64
import csv
import json  # noqa: F401  (the generated file reads its plan with json.loads)
import sys

import numpy as np

PLAN = None  # replaced by the model's plan when exported

# What pandas (and so nncli predict) reads as missing in a CSV file.
NA_STRINGS = frozenset(("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                        "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"))
BATCH_ROWS = 50_000  # CSV rows read and predicted at a time


def _array(spec):
    """A NumPy array from {"dtype", "shape", "base64"}, or a list of numbers as float64."""
    if isinstance(spec, dict):
        return np.frombuffer(base64.b64decode(spec["base64"]), np.dtype(spec["dtype"])).reshape(spec["shape"])
    return np.asarray(spec, np.float64)


# --- preprocessing: one function per step, (values, step) -> values of shape (m, n) ----------
# A missing value is NaN in a numeric column, None in a categorical one (strings).
def _missing(x):
    if x.dtype == object:
        return np.array([[value is None] for value in x[:, 0]], dtype=bool).reshape(x.shape)
    return np.isnan(x)


def _impute(x, step):
    return np.where(_missing(x), step["value"], x)


def _indicator(x, step):
    return _missing(x).astype(np.float64)


def _one_hot(x, step):
    codes = {category: k for k, category in enumerate(step["categories"])}
    out = np.zeros((len(x), len(codes)))
    for i, value in enumerate(x[:, 0]):
        if value in codes:
            out[i, codes[value]] = 1.0
    return out


def _scale(x, step):
    return (x - _array(step["center"])) / _array(step["scale"])


def _clip(x, step):
    return x / np.sqrt(1 + (x / step["c"]) ** 2)


STEPS = {"impute": _impute, "indicator": _indicator, "one_hot": _one_hot, "scale": _scale, "clip": _clip}


# --- the network: Z = A W + b, A = g(Z), in the network's dtype -------------------------------
def _sigmoid(Z, layer):
    with np.errstate(over="ignore"):
        A = np.exp(np.negative(Z))
    A += 1.0
    return np.divide(1.0, A, out=A)


def _leaky_relu(Z, layer):
    A = np.multiply(Z, layer["alpha"], dtype=Z.dtype)
    np.copyto(A, Z, where=Z > 0)
    return A


def _softmax(Z, layer):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    E /= E.sum(axis=1, keepdims=True)
    return E


ACTIVATIONS = {"linear": lambda Z, layer: Z, "sigmoid": _sigmoid, "tanh": lambda Z, layer: np.tanh(Z),
               "relu": lambda Z, layer: np.maximum(Z, 0), "leaky_relu": _leaky_relu, "softmax": _softmax}

OUTPUT_STEPS = {"unscale": lambda y, step: y * _array(step["scale"]) + _array(step["center"]),
                "expm1": lambda y, step: np.expm1(y)}


# --- from columns of values to predict's columns ------------------------------------------------
def _column(column, values, first_row):
    """One input column as an array of shape (m, 1): float64 numbers (NaN where missing) or strings."""
    numeric, out = column["kind"] == "numeric", []
    for i, value in enumerate(values):
        missing = value is None or (isinstance(value, str) and value.strip() in NA_STRINGS) or (
            isinstance(value, float) and value != value)
        if missing and not column["imputed"]:
            raise ValueError(f"column {column['name']!r} has a missing value in row {first_row + i}")
        if not numeric:
            out.append(None if missing else str(value))
            continue
        try:
            number = np.nan if missing else float(value)
        except ValueError:
            raise ValueError(f"column {column['name']!r} must be numeric, but row {first_row + i} "
                             f"holds {value!r}") from None
        if np.isinf(number):
            raise ValueError(f"column {column['name']!r} must hold finite numbers, but row {first_row + i} "
                             f"holds {value!r}")
        out.append(number)
    if numeric:
        return np.array(out, np.float64).reshape(-1, 1)
    x = np.array(out, dtype=object).reshape(-1, 1)
    known = set(next(s for b in column["branches"] for s in b if s["op"] == "one_hot")["categories"])
    for i, value in enumerate(x[:, 0]):
        if value is not None and value not in known:
            raise ValueError(f"column {column['name']!r} has value {value!r} in row {first_row + i}, "
                             "a category not seen in training")
    return x


def predict_columns(columns, first_row=1):
    """Predict's columns for columns of input values.

    ``columns`` maps each input column's name to a sequence of values (numbers or
    strings, as in a CSV file). Returns a dict: output name -> ndarray of shape (m,).
    """
    plan, features = PLAN, []
    for column in plan["columns"]:
        if column["name"] not in columns:
            raise ValueError(f"column {column['name']!r} is missing")
        x = _column(column, columns[column["name"]], first_row)
        for branch in column["branches"]:
            value = x
            for step in branch:
                value = STEPS[step["op"]](value, step)
            features.append(value)
    A = np.hstack(features).astype(plan["dtype"])
    for layer in plan["layers"]:
        Z = np.matmul(A, _array(layer["W"]))
        Z += _array(layer["b"])
        A = ACTIVATIONS[layer["activation"]](Z, layer)
    names = plan["outputs"]
    if plan["task"] == "regression":
        y = A
        for step in plan["output_steps"]:
            y = OUTPUT_STEPS[step["op"]](y, step)
        return {names[0]: y[:, 0]}
    if plan["task"] == "binary":
        P, index = np.hstack([1 - A, A]), (A[:, 0] >= 0.5).astype(np.int64)
    else:
        P, index = A, A.argmax(axis=1)
    out = {names[0]: np.asarray(plan["classes"], dtype=object)[index]}
    out.update({name: P[:, k] for k, name in enumerate(names[1:])})
    return out


def predict(rows):
    """One dict of predict's columns per row; ``rows`` are dicts of column name -> value."""
    rows = list(rows)
    names = [c["name"] for c in PLAN["columns"]]
    for i, row in enumerate(rows, start=1):
        absent = [name for name in names if name not in row]
        if absent:
            raise ValueError(f"row {i} has no column {absent[0]!r}")
    columns = predict_columns({name: [row[name] for row in rows] for name in names})
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def _text(values):
    """Shortest decimal strings that read back as exactly ``values`` in their own dtype, as nncli writes."""
    if values.dtype == np.float64:
        return list(map(repr, values.tolist()))
    if values.dtype.kind == "f":
        return values.astype(str).tolist()
    return values.tolist()


def main(argv=None):
    """``python predict_model.py in.csv > out.csv``: predict's CSV columns for each row."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(f"usage: python {sys.argv[0]} DATA.csv > predictions.csv   (DATA may be - for stdin)", file=sys.stderr)
        return 2
    source = sys.stdin if args[0] == "-" else open(args[0], newline="", encoding="utf-8-sig")
    try:
        with source:
            reader, writer = csv.DictReader(source), csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(PLAN["outputs"])
            batch, first_row = [], 1
            for row in reader:
                batch.append(row)
                if len(batch) == BATCH_ROWS:
                    _write(writer, batch, first_row)
                    batch, first_row = [], first_row + len(batch)
            if batch:
                _write(writer, batch, first_row)
    except ValueError as exc:
        print(f"error: {args[0]}: {exc}", file=sys.stderr)
        return 2
    return 0


def _write(writer, rows, first_row):
    names = [c["name"] for c in PLAN["columns"]]
    if rows and any(name not in rows[0] for name in names):
        raise ValueError(f"no column {next(n for n in names if n not in rows[0])!r} in the header")
    columns = predict_columns({name: [row[name] for row in rows] for name in names}, first_row)
    writer.writerows(zip(*(_text(values) for values in columns.values())))


if __name__ == "__main__":
    sys.exit(main())
