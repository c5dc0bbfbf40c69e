"""predict's numbers: orjson's fast path writes exactly what Python's repr (float64) and NumPy's
str (float32) write, and the values it would write otherwise fall back to them."""

import sys
import types

import numpy as np
import pytest

from nncli.commands import scoring
from nncli.commands.scoring import _usable_orjson, _same_form, _shortest, format_numbers

EDGES = [0.0, -0.0, 1.0, -2.0, 0.5, 1e-3, 1e-4, 9.999e-5, 0.001000001, 99999.99, 1e5, 100000.5, 999999.9,
         1e6, 1e15, 1e16, 1.2345e15, 1e-7, 5e-324, 1.7976931348623157e308, 0.1, 0.30000000000000004,
         float("inf"), float("-inf"), float("nan"), 123456789.123, 2.5, 1 / 3, 1e-5, 2.5e-7, 1e22]


def mixed(dtype, n=10_000, seed=0):
    """EDGES, their neighbours and random values over many decades, as ``dtype``."""
    rng = np.random.default_rng(seed)
    finite = np.array([e for e in EDGES if abs(e) < 1e308]).astype(dtype)
    with np.errstate(over="ignore"):
        return np.concatenate([
            np.array(EDGES).astype(dtype), np.nextafter(finite, dtype(np.inf)), np.nextafter(finite, dtype(-np.inf)),
            (rng.normal(size=n) * 10.0 ** rng.integers(-8, 20, n)).astype(dtype),
            np.round(rng.random(n) * 1000, 1).astype(dtype), np.round(rng.random(n), 4).astype(dtype),
            rng.random(n).astype(dtype), rng.integers(-10**6, 10**6, n).astype(dtype)])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numbers_are_written_as_python_and_numpy_write_them(dtype):
    values = mixed(dtype)
    assert _usable_orjson() is not None  # else this compares the slow path with itself
    assert _same_form(values).mean() > 0.6  # most values take the fast path
    assert format_numbers(values) == _shortest(values)


def test_forms_at_the_edges_of_orjsons_range():
    assert format_numbers(np.array([1e-4, 9.999e-5, 1e-5, 1e16, 100.0, -0.0, 0.25, np.nan, np.inf])) == [
        "0.0001", "9.999e-05", "1e-05", "1e+16", "100.0", "-0.0", "0.25", "nan", "inf"]
    assert format_numbers(np.array([1e-4, 0.25, 999999.94, 1e6, 1 / 3, 0], np.float32)) == [
        "1e-04", "0.25", "999999.94", "1e+06", "0.33333334", "0.0"]


def test_a_column_of_a_matrix_and_empty_columns():
    P = np.random.default_rng(1).dirichlet(np.ones(3), size=500).astype(np.float32)
    assert format_numbers(P[:, 1]) == _shortest(P[:, 1])  # not contiguous
    assert format_numbers(np.array([])) == []


def test_an_orjson_that_writes_otherwise_is_not_used(monkeypatch):
    """The form is checked once per process: an orjson writing 1e16 as 1e16 (not 1e+16) is left unused."""
    real = sys.modules.get("orjson") or __import__("orjson")
    fake = types.SimpleNamespace(OPT_SERIALIZE_NUMPY=real.OPT_SERIALIZE_NUMPY,
                                 dumps=lambda v, option: real.dumps(v, option=option).replace(b"e+", b"e"))
    monkeypatch.setitem(sys.modules, "orjson", fake)
    monkeypatch.setattr(scoring, "_ORJSON_CHECKED", [])
    assert _usable_orjson() is None
    values = np.array([1e16, 2.5, 1e20])
    assert format_numbers(values) == ["1e+16", "2.5", "1e+20"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [1, 3])
def test_rows_are_the_columns_numbers_joined(dtype, k):
    """format_rows writes each row as format_numbers writes its values, rows with tiny values included."""
    values = mixed(dtype, n=3_000)
    M = values[: len(values) // k * k].reshape(-1, k)
    expected = [",".join(row) for row in zip(*[_shortest(M[:, j]) for j in range(k)])]
    assert not _same_form(M).all(axis=1).all()  # some rows fall back
    assert scoring.format_rows(M) == expected
    assert scoring.format_rows(M[:0]) == []
