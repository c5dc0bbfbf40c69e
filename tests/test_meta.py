"""The model file's ``meta`` JSON is checked in full on load: wrong contents are exit 2 with a
message naming the key, never an internal error (70) or a silently accepted model."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.predict_helpers import DATASETS, MODEL_COMMANDS, invoke, model_arrays, tiny_iris_model

IRIS = DATASETS / "iris.csv"
COMMANDS = MODEL_COMMANDS


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return tiny_iris_model(tmp_path_factory.mktemp("meta"))


arrays_of = model_arrays


def meta_of(path):
    return json.loads(str(arrays_of(path)["meta"]))


def write_with_meta(good, path, meta):
    arrays = arrays_of(good)
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _column(meta, i, **changes):
    meta["columns"][i] = {**meta["columns"][i], **changes}
    return meta


def _drop(meta, i, key):
    del meta["columns"][i][key]
    return meta


# case -> (change to a valid meta, part of the message)
CASES = {
    "columns not a list": (lambda m: {**m, "columns": 5}, "meta.columns must be a list"),
    "column without kind": (lambda m: _drop(m, 0, "kind"), "meta.columns[0] has no 'kind'"),
    "column of unknown kind": (lambda m: _column(m, 1, kind="date"), "meta.columns[1].kind"),
    "column name not text": (lambda m: _column(m, 0, name=3), "meta.columns[0].name"),
    "categories not a list": (lambda m: _column(m, 0, kind="categorical", categories="abc"),
                              "meta.columns[0].categories"),
    "features disagree with columns": (lambda m: {**m, "features": ["a", "b", "c", "d"]},
                                       "meta.features do not match meta.columns"),
    "one-hot features disagree": (lambda m: _column(m, 0, kind="categorical", categories=["x"]),
                                  "meta.features do not match meta.columns"),
    "features not a list": (lambda m: {**m, "features": "sepal_length"}, "meta.features must be a list"),
    "unknown task": (lambda m: {**m, "task": "ranking"}, "meta.task"),
    "unknown loss": (lambda m: {**m, "loss": "hinge"}, "meta.loss"),
    "loss of another task": (lambda m: {**m, "loss": "mse"}, "meta.loss"),
    "layers not a list": (lambda m: {**m, "layers": {"units": 3}}, "meta.layers must be a list"),
    "layer without units": (lambda m: {**m, "layers": [{"activation": "relu"}, m["layers"][1]]},
                            "meta.layers[0] has no 'units'"),
    "units not a number": (lambda m: {**m, "layers": [{"units": "4", "activation": "relu"}, m["layers"][1]]},
                           "meta.layers[0].units"),
    "output layer does not fit the loss": (
        lambda m: {**m, "layers": [m["layers"][0], {"units": 3, "activation": "sigmoid"}]}, "meta.layers"),
    "classes not strings": (lambda m: {**m, "classes": [1, 2, 3]}, "meta.classes"),
    "classes not a list": (lambda m: {**m, "classes": "setosa"}, "meta.classes"),
    "target not text": (lambda m: {**m, "target": ["species"]}, "meta.target"),
    "config not a mapping": (lambda m: {**m, "config": []}, "meta.config"),
    "metrics not numbers": (lambda m: {**m, "metrics": {"train_loss": "low"}}, "meta.metrics"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES)
def test_wrong_meta_contents_are_bad_input(good, tmp_path, case, command):
    change, message = CASES[case]
    path = write_with_meta(good, tmp_path / "bad.npz", change(meta_of(good)))
    result = invoke(*COMMANDS[command](path))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {path}: ") and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_extra_meta_keys_are_allowed(good, tmp_path):
    """A later format may add keys: unknown keys pass (version 2's preprocessing is checked itself)."""
    path = write_with_meta(good, tmp_path / "extra.npz", {**meta_of(good), "notes": {"x": 1}})
    assert invoke("inspect", path).exit_code == 0


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=6), st.sampled_from(["relu", "softmax", "numeric", "categorical", "mse",
                                                    "regression", "binary", "setosa", "sepal_length"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8)


def _paths(node, prefix=()):
    yield prefix
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield from _paths(child, prefix + (key,))


@st.composite
def mutated_metas(draw, base):
    meta = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(meta) if p and p[0] not in ("format", "version")]
        path = draw(st.sampled_from(paths))
        parent = meta
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["drop", "replace", "type"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(json_values)
        else:  # the same value as another JSON type
            value = parent[path[-1]]
            parent[path[-1]] = draw(st.sampled_from([str(value), [value], {"v": value}, None, 1]))
    return meta


@pytest.fixture(scope="module")
def base_meta(good):
    return meta_of(good)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), command=st.sampled_from(sorted(COMMANDS)))
def test_fuzzed_meta_never_crashes(good, base_meta, tmp_path_factory, data, command):
    meta = data.draw(mutated_metas(base_meta))
    path = write_with_meta(good, tmp_path_factory.mktemp("fuzz") / "m.npz", meta)
    result = invoke(*COMMANDS[command](path))  # invoke asserts there is no traceback
    assert result.exit_code in (0, 2), result.output
    assert "internal error" not in result.stderr
