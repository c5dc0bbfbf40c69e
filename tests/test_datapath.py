"""predict and evaluate give the same bytes with pyarrow (its CSV encoding paths) and without it."""

import random
import threading

import pytest

from nncli.io import reading
from tests.predict_helpers import DATASETS, invoke, read_dataset, train_model, write_rows

pyarrow = pytest.importorskip("pyarrow")


@pytest.fixture(params=["pyarrow", "pandas"])
def path(request, monkeypatch):
    """Run the test once with pyarrow and once without (the pandas path)."""
    monkeypatch.setattr(reading, "_ARROW", [] if request.param == "pyarrow" else [None])
    return request.param


def with_path(monkeypatch, name):
    monkeypatch.setattr(reading, "_ARROW", [] if name == "pyarrow" else [None])


# --- predict: the same bytes, pyarrow or pandas, chunk size 7 or 50,000 ------------------
@pytest.fixture(scope="module")
def houses(tmp_path_factory):
    """A houses model (one categorical column, regression) and a 3,000-row file with missing values,
    NA strings, an unseen category and values written in several ways."""
    folder = tmp_path_factory.mktemp("datapath")
    model = train_model(folder, "houses", DATASETS / "house_prices.csv", "price",
                        [{"units": 8, "activation": "relu"}, {"units": 1, "activation": "linear"}], "mse",
                        epochs=3)
    header, body = read_dataset("house_prices.csv")
    rng = random.Random(0)
    rows = []
    for i in range(3000):
        row = list(rng.choice(body))
        if i % 97 == 5:
            row[rng.randrange(4)] = rng.choice(["", "NA", "nan", "NULL"])
        if i % 131 == 7:
            row[3] = "seaside"  # unseen
        if i % 11 == 3:
            row[0] = f"{float(row[0]):.6e}"
        rows.append(row)
    return model, header, rows, folder


def predict_bytes(monkeypatch, name, model, data, *options):
    with_path(monkeypatch, name)
    result = invoke("predict", model, data, "--missing", "drop", "--unknown", "ignore", *options)
    assert result.exit_code == 0, result.stderr
    return result.stdout, result.stderr


@pytest.mark.parametrize("late", [None, '"quoted, with a comma"', "inf", "12abc", "x\r"])
@pytest.mark.parametrize("options", [(), ("--with-input",), ("--id-column", "neighbourhood")])
def test_predict_is_byte_identical_with_and_without_pyarrow(houses, monkeypatch, late, options):
    """Also with a quote, inf, text among numbers or a CR late in the file."""
    model, header, rows, folder = houses
    rows = [list(r) for r in rows]
    if late is not None:
        rows[2500][0 if late != '"quoted, with a comma"' else 3] = late
    data = write_rows(folder / "data.csv", header, rows)
    outputs = {(name, size): predict_bytes(monkeypatch, name, model, data, "--chunk-size", size, *options)
               for name in ("pyarrow", "pandas") for size in ("7", "50000")}
    for size in ("7", "50000"):  # (across sizes, float32 GEMMs of other row counts may round otherwise)
        assert outputs["pyarrow", size] == outputs["pandas", size]


def test_predict_of_a_classifier_is_byte_identical(monkeypatch, tmp_path):
    """float32 probabilities, labels; chunk sizes 7 and 50,000."""
    model = train_model(tmp_path, "iris", DATASETS / "iris.csv", "species",
                        [{"units": 8, "activation": "relu"}, {"units": 3, "activation": "softmax"}],
                        "cross_entropy", epochs=3)
    header, body = read_dataset("iris.csv")
    data = write_rows(tmp_path / "many.csv", header, body * 20)
    for size in ("7", "50000"):
        outputs = {predict_bytes(monkeypatch, name, model, data, "--chunk-size", size, "--with-input")
                   for name in ("pyarrow", "pandas")}
        assert len(outputs) == 1


@pytest.mark.parametrize("bad, message", [
    ("1,2,3,4,5,6", "could not be parsed as CSV: Expected 5 fields in line 2502, saw 6"),
    ("inf", "column 'size_sqm' must hold finite numbers, but line 2502 holds 'inf'"),
    ("huge", "column 'size_sqm' must be numeric, but line 2502 holds 'huge'"),
])
def test_errors_late_in_the_file_are_pandas_messages(houses, monkeypatch, path, bad, message):
    model, header, rows, folder = houses
    lines = [",".join(header)] + [",".join(r) for r in read_dataset("house_prices.csv")[1] * 12]
    lines[2501] = bad if "," in bad else bad + lines[2501][lines[2501].index(","):]
    data = folder / f"bad_{path}.csv"
    data.write_text("\n".join(lines) + "\n")
    result = invoke("predict", model, data, "--chunk-size", "1000")
    assert result.exit_code == 2
    assert message in result.stderr


def test_evaluate_is_identical_with_and_without_pyarrow(houses, monkeypatch):
    model, header, rows, folder = houses
    data = write_rows(folder / "eval.csv", header, rows)
    results = set()
    for name in ("pyarrow", "pandas"):
        with_path(monkeypatch, name)
        result = invoke("evaluate", model, data, "--missing", "drop", "--unknown", "ignore", "--json")
        assert result.exit_code == 0, result.stderr
        results.add(result.stdout)
    assert len(results) == 1


@pytest.mark.parametrize("newline, bom", [("\r\n", ""), ("\n", "\ufeff"), ("\r", "")])
def test_line_ends_and_byte_order_mark(houses, monkeypatch, newline, bom):
    model, header, rows, folder = houses
    data = folder / "ends.csv"
    data.write_bytes((bom + newline.join(",".join(r) for r in [header] + rows) + newline).encode())
    outputs = {predict_bytes(monkeypatch, name, model, data, "--chunk-size", "1000") for name in ("pyarrow", "pandas")}
    assert len(outputs) == 1


# --- reading ahead ---------------------------------------------------------------------
def test_read_ahead_keeps_order_and_stays_at_most_one_item_ahead():
    made = []

    def items():
        for i in range(20):
            made.append(i)
            yield i

    seen = []
    for item in reading.read_ahead(items()):
        threading.Event().wait(0.002)  # the producer is faster: it must wait, not run ahead
        assert len(made) <= item + 3  # this item, the one queued, the one being made
        seen.append(item)
    assert seen == list(range(20))


def test_read_ahead_raises_the_producers_error_in_its_place():
    def items():
        yield 1
        yield 2
        raise reading.DataError("line 9: bad")

    got = []
    with pytest.raises(reading.DataError, match="line 9: bad"):
        for item in reading.read_ahead(items()):
            got.append(item)
    assert got == [1, 2]


def test_read_ahead_stops_its_thread_when_closed_early():
    made = []

    def items():
        for i in range(1000):
            made.append(i)
            yield i

    before = set(threading.enumerate())
    ahead = reading.read_ahead(items())
    assert next(ahead) == 0
    (worker,) = set(threading.enumerate()) - before
    ahead.close()
    worker.join(timeout=2)
    assert not worker.is_alive()
    assert len(made) < 10


def test_read_ahead_closes_its_source_and_ends_even_when_the_source_fails_after_the_caller_left():
    closed = []

    def items():
        try:
            yield 0
            yield 1
            raise reading.DataError("late")
        finally:
            closed.append(True)

    before = set(threading.enumerate())
    ahead = reading.read_ahead(items())
    assert next(ahead) == 0
    (worker,) = set(threading.enumerate()) - before
    threading.Event().wait(0.3)  # the thread queues 1, then fails with the queue full
    ahead.close()
    worker.join(timeout=2)
    assert not worker.is_alive() and closed == [True]
