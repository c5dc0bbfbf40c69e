"""nncli.io.npz reads .npz archives without NumPy: the same arrays as numpy.load, or a clear refusal."""

import io
import struct
import zipfile

import numpy as np
import pytest

from nncli.errors import ModelFileError
from nncli.io.npz import read_npz


def saved(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


ARRAYS = {
    "f4": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "f8_big_endian": (np.arange(6, dtype=">f8") - 2.5) * 1e300,
    "f2": np.array([0.5, -2.0, 65504.0], np.float16),
    "fortran": np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4) ** 1.5),
    "int": np.arange(5, dtype=np.int64),
    "empty": np.zeros((0, 3), np.float32),
    "scalar": np.float32(3.25),
    "text": np.array('{"a": "é ü 😀"}'),
}


def test_members_are_the_arrays_numpy_reads():
    members = read_npz(saved(**ARRAYS), "test.npz")
    assert set(members) == set(ARRAYS)
    for name, expected in ARRAYS.items():
        member = members[name]
        assert member.shape == np.shape(expected)
        assert member.dtype_name == np.asarray(expected).dtype.name or member.kind == "U"
        got = member.array()
        assert got.dtype == np.asarray(expected).dtype and np.array_equal(got, expected)
        assert got.flags.writeable
        if member.kind == "f":
            assert member.floats() == np.asarray(expected).ravel().tolist()
    assert members["text"].text() == str(ARRAYS["text"])


@pytest.mark.parametrize("values", [[0.0, 1.5, -2.0], [1e308, 1e308], [0.0, np.nan], [np.inf, 1.0], [-np.inf, np.inf]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_as_numpy_says(values, dtype):
    """[1e308, 1e308]: finite in float64 though their sum overflows; infinite in float32."""
    with np.errstate(over="ignore"):
        arr = np.array(values, dtype)
    assert read_npz(saved(a=arr), "t")["a"].all_finite() is bool(np.isfinite(arr).all())


def test_a_pickled_object_array_is_refused_unread():
    raw = saved(meta=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ModelFileError, match="holds object arrays"):
        read_npz(raw, "x.npz")


def test_npy_format_3_is_refused():
    member, buf = io.BytesIO(), io.BytesIO()
    np.lib.format.write_array(member, np.zeros(2, np.float32), version=(3, 0))
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("W1.npy", member.getvalue())
    with pytest.raises(ModelFileError, match=r"uses \.npy format \(3, 0\), which nncli models never use"):
        read_npz(buf.getvalue(), "x.npz")


@pytest.mark.parametrize("header", [b"{'descr': '<f4', 'fortran_order': False}", b"not a dict at all",
                                    b"{'descr': '<x9', 'fortran_order': False, 'shape': (2,)}",
                                    "{'descr': '<f\u00b2', 'fortran_order': False, 'shape': (2,)}".encode("latin1"),
                                    b"{'descr': '<f0', 'fortran_order': False, 'shape': (2,)}",
                                    b"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"])
def test_a_bad_header_is_damage(header):
    header = header + b" " * (-(len(header) + 11) % 64) + b"\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 8
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("W1.npy", data)
    with pytest.raises(ModelFileError, match="is damaged or not an nncli model: array 'W1'"):
        read_npz(buf.getvalue(), "x.npz")


def test_data_shorter_than_its_shape_is_damage():
    data = zipfile.ZipFile(io.BytesIO(saved(a=np.zeros(4, np.float64)))).read("a.npy")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.npy", data[:-8])  # 24 bytes of data left, 32 declared
    with pytest.raises(ModelFileError, match="array 'a' holds 24 bytes of data, 32 expected for shape"):
        read_npz(buf.getvalue(), "x.npz")


# --- fuzzing: a damaged model file is refused with ModelFileError, whatever the damage ------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.predict_helpers import tiny_iris_model  # noqa: E402


@pytest.fixture(scope="module")
def good_model(tmp_path_factory):
    return tiny_iris_model(tmp_path_factory.mktemp("npz"))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_damaged_model_files_are_refused_or_read(good_model, tmp_path_factory, edits, cut):
    """Bytes changed anywhere (headers, sizes, data, the zip directory), or the file cut short:
    read_model raises ModelFileError or reads a model that load_model can use; nothing else."""
    from nncli.io.modelfile import _build, read_model

    raw = bytearray(good_model.read_bytes())
    for where, value in edits:
        raw[int(where * len(raw))] = value
    if cut is not None:
        raw = raw[: int(cut * len(raw))]
    path = tmp_path_factory.mktemp("fuzz") / "m.npz"
    path.write_bytes(bytes(raw))
    try:
        checked = read_model(path)
    except ModelFileError:
        return
    _build(checked)  # a file that passes the checks must build


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(member=st.sampled_from(["W1.npy", "b2.npy", "x_mean.npy", "meta.npy"]),
       edits=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=4),
       cut=st.one_of(st.none(), st.integers(0, 400)))
def test_damaged_npy_members_are_refused_or_read(good_model, tmp_path_factory, member, edits, cut):
    """The same for damage inside one .npy member (its magic, header and data) under a valid
    zip checksum, which the test above mostly trips first."""
    from nncli.io.modelfile import _build, read_model

    buf = io.BytesIO()
    with zipfile.ZipFile(good_model) as src, zipfile.ZipFile(buf, "w") as dst:
        for name in src.namelist():
            data = bytearray(src.read(name))
            if name == member:
                for where, value in edits:
                    if where < len(data):
                        data[where] = value
                if cut is not None:
                    data = data[:cut]
            dst.writestr(name, bytes(data))
    path = tmp_path_factory.mktemp("fuzz") / "m.npz"
    path.write_bytes(buf.getvalue())
    try:
        checked = read_model(path)
    except ModelFileError:
        return
    _build(checked)
