"""Crafted bad model files: every command refuses them with one clear line and exit code 2.

No traceback, and never code execution: a pickled object that would create a file
when unpickled is refused unread.
"""

import io
import json
import zipfile

import numpy as np
import pytest

from tests.predict_helpers import DATASETS, MODEL_COMMANDS, invoke, model_arrays, tiny_iris_model

IRIS = DATASETS / "iris.csv"
COMMANDS = MODEL_COMMANDS


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return tiny_iris_model(tmp_path_factory.mktemp("modelfile"))


arrays_of = model_arrays


def with_meta(arrays, **changes):
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes)
    return {**arrays, "meta": np.array(json.dumps(meta))}


class Payload:
    """Unpickling this object creates the file ``marker``: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def huge_header(arrays):
    """An npz whose W1 header declares an array of 36 TiB."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "W1.npy":
                header = io.BytesIO()
                np.lib.format.write_array_header_1_0(
                    header, {"descr": "<f4", "fortran_order": False, "shape": (10**7, 10**6)})
                data = header.getvalue() + b"\0" * 64
            dst.writestr(name, data)
    return out.getvalue()


def craft(case, good, folder):
    """Write the bad model file for ``case``; returns (path, expected message part, marker)."""
    path, arrays, marker = folder / "bad.npz", arrays_of(good), folder / "pwned"
    raw = good.read_bytes()
    if case == "text file":
        path.write_text("sepal_length,species\n5.1,setosa\n")
        return path, "looks like CSV data, not a model file; the model comes first", None
    if case == "other text file":
        path.write_text("hello\n")
        return path, "not an nncli model file (not an .npz archive)", None
    if case == "random zip-like bytes":
        path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
        return path, "truncated or damaged", None
    if case == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
        return path, "truncated or damaged", None
    if case == "missing":
        return folder / "nope.npz", "does not exist", None
    if case == "directory":
        return folder, "is a directory", None
    if case == "object array as meta":
        arrays["meta"] = np.array([Payload(marker)], dtype=object)
        message = "holds object arrays"
    elif case == "object array as weights":
        arrays["W1"] = np.array([Payload(marker)], dtype=object)
        message = "holds object arrays"
    elif case == "no meta":
        del arrays["meta"]
        message = "no 'meta' entry"
    elif case == "other format":
        arrays = with_meta(arrays, format="keras")
        message = "not an nncli model file (meta.format is not 'nncli-model')"
    elif case == "unknown version":
        arrays = with_meta(arrays, version=99)
        message = "has model format version 99; this nncli reads versions 1, 2"
    elif case == "meta not JSON":
        arrays["meta"] = np.array("{not json")
        message = "'meta' is not valid JSON"
    elif case == "meta not a string":
        arrays["meta"] = np.zeros(3)
        message = "'meta' must be a 0-d string array"
    elif case == "meta lacks keys":
        meta = json.loads(str(arrays["meta"]))
        del meta["classes"], meta["layers"]
        arrays["meta"] = np.array(json.dumps(meta))
        message = "meta lacks classes, layers"
    elif case == "bad layers":
        arrays = with_meta(arrays, layers=[{"units": 4, "activation": "swish"}, {"units": 3, "activation": "softmax"}])
        message = "meta.layers[0].activation must be one of"
    elif case == "wrong shape":
        arrays["W1"] = np.zeros((5, 4), np.float32)
        message = "array 'W1' has shape (5, 4)"
    elif case == "integer weights":
        arrays["b2"] = np.zeros(3, np.int64)
        message = "array 'b2' has shape (3,) and dtype int64"
    elif case == "non-finite weights":
        arrays["b1"] = np.array([0, np.nan, 0, 0], np.float32)
        message = "array 'b1' holds non-finite values"
    elif case == "missing weights":
        del arrays["W2"]
        message = "array 'W2' is missing"
    elif case == "extra weights":
        arrays["W3"], arrays["b3"] = np.zeros((3, 3), np.float32), np.zeros(3, np.float32)
        message = "more weight arrays than meta.layers describes"
    elif case == "classes do not fit":
        arrays = with_meta(arrays, classes=["a", "b"])
        message = "2 classes do not fit an output layer of 3 unit(s)"
    elif case == "huge array header":
        path.write_bytes(huge_header(arrays))
        return path, "declares shape (10000000, 1000000) but the file holds less data", None
    elif case == "zip bomb":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("W1.npy", b"\0" * 200 * 2**20)  # 200 MiB of zeros in ~200 KiB
        return path, "expands to 200 MiB", None
    else:
        raise AssertionError(case)
    with open(path, "wb") as f:
        np.savez(f, **arrays)  # np.savez pickles object arrays; nncli must refuse to unpickle them
    return path, message, marker


CASES = ["text file", "other text file", "random zip-like bytes", "truncated", "missing", "directory", "object array as meta",
         "object array as weights", "no meta", "other format", "unknown version", "meta not JSON",
         "meta not a string", "meta lacks keys", "bad layers", "wrong shape", "integer weights",
         "non-finite weights", "missing weights", "extra weights", "classes do not fit", "huge array header",
         "zip bomb"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES)
def test_bad_model_file(good, tmp_path, case, command):
    path, message, marker = craft(case, good, tmp_path)
    result = invoke(*COMMANDS[command](path))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1  # one line
    assert "Traceback" not in result.output and result.stdout == ""
    if marker is not None:
        assert not marker.exists(), "unpickling ran code"


def test_payload_would_run_code_if_unpickled(good, tmp_path):
    """The crafted object array really is dangerous: loading it with pickles allowed runs code."""
    path, _, marker = craft("object array as meta", good, tmp_path)
    with np.load(path, allow_pickle=True) as npz:
        npz["meta"]
    assert marker.exists()


def test_the_good_model_loads(good):
    assert invoke("inspect", good).exit_code == 0
