"""Property-based tests: mutated configs and random CSVs end in exit 0 or 2, never a traceback."""

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DATASETS, run_cli
from tests.predict_helpers import train_model

BASE = {
    "data": {"path": str(DATASETS / "iris.csv"), "target": "species", "validation": 0.2},
    "model": {"layers": [{"units": 4, "activation": "relu"}, {"units": 3, "activation": "softmax"}]},
    "loss": "cross_entropy",
    "training": {"learning_rate": 0.05, "epochs": 2, "batch_size": 32},
}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 40), st.floats(-2, 2, allow_nan=True),
    st.sampled_from(["full", "relu", "softmax", "sigmoid", "mse", "species", "adam", "", "0.5", "he"]),
    st.text(max_size=8),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=6), scalars, max_size=2))


def paths(node, prefix=()):
    """Every key path in a nested dict/list config."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield prefix + (key,)
        yield from paths(child, prefix + (key,))


ALL_PATHS = list(paths(BASE))


@st.composite
def mutated_configs(draw):
    config = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = config
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(values)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed or replaced this path
    return config


@SETTINGS
@given(mutated_configs())
def test_mutated_configs_never_crash(tmp_path_factory, config):
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "c.yaml").write_text(yaml.safe_dump(config))
    # Keep every run short whatever the mutation did to the epochs.
    result = run_cli("train", folder / "c.yaml", "-o", folder / "m.npz", "-q", "--set", "training.epochs=2")
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr, config)
    if result.exit_code == 2:
        assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) <= 25


@settings(SETTINGS, max_examples=40)
@given(mutated_configs())
def test_mutated_configs_never_crash_lr_sweep(tmp_path_factory, config):
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "c.yaml").write_text(yaml.safe_dump(config))
    result = run_cli("lr-sweep", folder / "c.yaml", "--num", "2", "--epochs", "2", "--jobs", "1", "-q",
                     "--write-config", folder / "best.yaml")
    # 1: every rate diverged, a documented outcome
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr, config)
    if result.exit_code != 0:
        assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) <= 25
        assert not (folder / "best.yaml").exists()


cells = st.one_of(
    st.integers(-5, 5).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "a", "b", "NA", "nan", "inf", "-inf", "1e999", '"x,y"', " ", "é"]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=4),
)


@st.composite
def csv_texts(draw):
    n_cols = draw(st.integers(1, 4))
    header = draw(st.lists(st.sampled_from(["x1", "x2", "y", "z", ""]), min_size=n_cols, max_size=n_cols))
    rows = draw(st.lists(st.lists(cells, min_size=n_cols, max_size=n_cols), max_size=12))
    return "\n".join(",".join(r) for r in [header] + rows)


CONFIG = """
data: {path: data.csv, target: y, validation: 0.25}
model: {layers: [{units: 1, activation: linear}]}
loss: mse
training: {learning_rate: 0.01, epochs: 2, batch_size: full}
"""


@SETTINGS
@given(st.one_of(csv_texts(), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_random_csvs_never_crash(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("csv")
    (folder / "data.csv").write_bytes(text.encode("utf-8", "surrogatepass"))
    (folder / "c.yaml").write_text(CONFIG)
    result = run_cli("train", folder / "c.yaml", "-o", folder / "m.npz", "-q")
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr, text)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A regression model on x1 (numeric) and x2 (categorical: a, b)."""
    folder = tmp_path_factory.mktemp("fuzz_model")
    data = folder / "data.csv"
    data.write_text("x1,x2,y\n" + "".join(f"{i},{'ab'[i % 2]},{i % 5}\n" for i in range(20)))
    return train_model(folder, "m", data, "y", [{"units": 1, "activation": "linear"}], "mse", epochs=2,
                       categorical=["x2"])


@settings(SETTINGS, max_examples=100)
@given(text=st.one_of(csv_texts(), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))),
       command=st.sampled_from(["predict", "evaluate"]), stdin=st.booleans(),
       options=st.lists(st.sampled_from(["--missing=drop", "--unknown=ignore", "--chunk-size=3"]), unique=True))
def test_random_csvs_never_crash_predict_or_evaluate(tmp_path_factory, small_model, text, command, stdin, options):
    raw = text.encode("utf-8", "surrogatepass")
    if stdin:
        result = run_cli(command, small_model, "-", *options, input=raw)
    else:
        folder = tmp_path_factory.mktemp("data")
        (folder / "data.csv").write_bytes(raw)
        result = run_cli(command, small_model, folder / "data.csv", *options)
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr, text)
    if result.exit_code == 2:
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
