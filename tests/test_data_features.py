"""Data preprocessing keys: scaling, clip, missing/impute/indicator, target_transform, stratify, weight.

Each model is trained through the real CLI; its predictions are recomputed from the .npz
with plain NumPy, following the README's forward pass from raw columns:
impute -> indicator -> one-hot -> (X - x_mean) / x_std -> clip -> network -> inverse target transform.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nncli.commands.pipeline import prepare_data
from nncli.config.loading import load_config_dict
from nncli.core.preprocessing import soft_clip
from nncli.io import dataset, parallel
from nncli.io.encoding import Features
from tests.predict_helpers import DATASETS, invoke, rows, write_rows

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HOUSES = DATASETS / "house_prices.csv"


def train(folder, data, target, layers, loss, name="m", expect=0, **data_options):
    """Train through the CLI; returns the model path (or the result when ``expect`` is not 0)."""
    config = {"data": {"path": str(data), "target": target, **data_options}, "model": {"layers": layers},
              "loss": loss, "training": {"learning_rate": 0.01, "epochs": 8, "optimizer": "adam", "seed": 2}}
    path = Path(folder) / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    model = Path(folder) / f"{name}.npz"
    result = invoke("train", path, "-o", model, "--quiet")
    assert result.exit_code == expect, result.stderr
    return model if expect == 0 else result


def numpy_forward(model_path, df):
    """Predictions for the raw columns of ``df``, from the model file's arrays and meta only."""
    with np.load(model_path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    prep = meta["preprocessing"]
    features = []
    for column, p in zip(meta["columns"], prep["columns"]):
        raw = df[column["name"]]
        missing = raw.isna().to_numpy()
        if column["kind"] == "numeric":
            x = pd.to_numeric(raw).to_numpy(np.float64, copy=True)
            x[missing] = p["impute"] if p["impute"] is not None else np.nan       # impute
            features.append(x[:, None])
        else:
            text = raw.astype(object).where(~raw.isna(), p["impute"]).astype(str).to_numpy()
            features.append((text[:, None] == np.array(column["categories"])[None, :]).astype(float))  # one-hot
        if p["indicator"]:
            features.append(missing[:, None].astype(float))                      # indicator
    X = np.hstack(features)
    A = (X - arrays["x_mean"]) / arrays["x_std"]                                # scale
    c = arrays["x_clip"]
    A = np.where(c > 0, A / np.sqrt(1 + (A / np.where(c > 0, c, 1)) ** 2), A)   # clip
    A = A.astype(arrays["W1"].dtype)
    layers = meta["layers"]
    for l, layer in enumerate(layers, start=1):                                 # network
        Z = A @ arrays[f"W{l}"] + arrays[f"b{l}"]
        A = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
             "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
             "softmax": lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True),
             }[layer["activation"]](Z)
    if meta["task"] == "regression":                                            # inverse target transform
        y = A[:, 0] * arrays["y_std"][0] + arrays["y_mean"][0]
        return np.expm1(y) if prep["target"]["transform"] == "log1p" else y
    return A


def predict(model, data):
    result = invoke("predict", model, data)
    assert result.exit_code == 0, result.stderr
    return rows(result.stdout)


def with_missing(tmp_path, name, every=7, columns=("sepal_width",), seed=0):
    """iris.csv with some values of ``columns`` blanked out; returns the path."""
    header, body = rows((DATASETS / "iris.csv").read_text())
    rng = np.random.default_rng(seed)
    for row in body:
        for col in columns:
            if rng.integers(every) == 0:
                row[header.index(col)] = ""
    return write_rows(tmp_path / name, header, body)


# --- round trips through the model file -------------------------------------------------
def test_robust_scaling_and_clip_round_trip(tmp_path):
    model = train(tmp_path, HOUSES, "price", [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "linear"}],
                  "mse", scaling="robust", clip=1.5)
    with np.load(model, allow_pickle=False) as npz:
        meta, x_mean, x_std, x_clip = json.loads(str(npz["meta"])), npz["x_mean"], npz["x_std"], npz["x_clip"]
    df = pd.read_csv(HOUSES)
    size = meta["features"].index("size_sqm")
    assert meta["version"] == 2 and meta["preprocessing"]["scaling"] == "robust"
    assert meta["preprocessing"]["clip"] == 1.5
    q25, median, q75 = np.percentile(df["size_sqm"], [25, 50, 75])
    # Learnt on the training split (80% of the rows): close to the whole file's median and IQR.
    assert x_mean[size] == pytest.approx(median, rel=0.1) and x_std[size] == pytest.approx(q75 - q25, rel=0.2)
    onehot = [j for j, f in enumerate(meta["features"]) if "=" in f]
    assert list(x_clip[onehot]) == [0] * len(onehot) and list(x_mean[onehot]) == [0] * len(onehot)
    assert x_clip[size] == 1.5
    _, out = predict(model, HOUSES)
    assert [float(r[0]) for r in out] == pytest.approx(numpy_forward(model, df).tolist(), rel=1e-5)


def test_impute_and_indicator_round_trip_with_missing_values_in_predict_input(tmp_path):
    data = with_missing(tmp_path, "train.csv")
    model = train(tmp_path, data, "species", [{"units": 5, "activation": "relu"}, {"units": 3, "activation": "softmax"}],
                  "cross_entropy", missing="impute", missing_indicator=True)
    with np.load(model, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
    assert meta["features"] == ["sepal_length", "sepal_width", "sepal_width.missing", "petal_length", "petal_width"]
    by_name = {p["name"]: p for p in meta["preprocessing"]["columns"]}
    assert by_name["sepal_width"]["indicator"] == "sepal_width.missing"
    assert by_name["petal_length"]["indicator"] is None and by_name["petal_length"]["impute"] is not None
    # At predict time, petal_length (complete in training) has missing values too: imputed, no row lost.
    new = with_missing(tmp_path, "new.csv", every=4, columns=("sepal_width", "petal_length"), seed=5)
    result = invoke("predict", model, new)
    assert result.exit_code == 0, result.stderr
    assert "imputed" in result.stderr and "missing value(s)" in result.stderr
    header, out = rows(result.stdout)
    df = pd.read_csv(new)
    assert len(out) == len(df) == 150 and df["petal_length"].isna().any()
    P = np.array([[float(v) for v in r[1:]] for r in out])
    assert P == pytest.approx(numpy_forward(model, df), abs=1e-6)
    evaluation = invoke("evaluate", model, new, "--json")
    assert evaluation.exit_code == 0 and json.loads(evaluation.stdout)["n_rows"] == 150


def test_categorical_missing_values_take_the_most_frequent_training_category(tmp_path):
    header, body = rows(HOUSES.read_text())
    col = header.index("neighbourhood")
    for i in range(0, len(body), 9):
        body[i][col] = ""
    data = write_rows(tmp_path / "houses.csv", header, body)
    model = train(tmp_path, data, "price", [{"units": 1, "activation": "linear"}], "mse",
                  missing="impute", impute="mean", validation=0)
    with np.load(model, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
    column = next(p for p in meta["preprocessing"]["columns"] if p["name"] == "neighbourhood")
    counts = pd.read_csv(data)["neighbourhood"].value_counts()
    assert column["impute"] == counts.index[0] and column["indicator"] is None
    assert meta["preprocessing"]["impute"] == "mean"
    _, out = predict(model, data)
    assert [float(r[0]) for r in out] == pytest.approx(numpy_forward(model, pd.read_csv(data)).tolist(), rel=1e-5)


def test_impute_values_are_learnt_on_the_training_rows_only(tmp_path):
    train_csv = write_rows(tmp_path / "t.csv", ["x", "y"], [[str(v), str(2 * v)] for v in (1, 2, 3, "", 5)])
    val_csv = write_rows(tmp_path / "v.csv", ["x", "y"], [["1000", "1"], ["2000", "2"], ["", "3"]])
    model = train(tmp_path, train_csv, "y", [{"units": 1, "activation": "linear"}], "mse",
                  missing="impute", validation=str(val_csv))
    with np.load(model, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
    assert meta["preprocessing"]["columns"][0]["impute"] == 2.5  # the median of 1, 2, 3, 5


def test_log1p_target_round_trip_and_metrics_in_the_targets_units(tmp_path):
    model = train(tmp_path, HOUSES, "price", [{"units": 4, "activation": "relu"}, {"units": 1, "activation": "linear"}],
                  "mse", target_transform="log1p", validation=0)
    df = pd.read_csv(HOUSES)
    _, out = predict(model, HOUSES)
    y_hat = np.array([float(r[0]) for r in out])
    assert y_hat == pytest.approx(numpy_forward(model, df), rel=1e-5)
    with np.load(model, allow_pickle=False) as npz:
        meta, y_mean = json.loads(str(npz["meta"])), npz["y_mean"][0]
    assert y_mean == pytest.approx(np.log1p(df["price"]).mean())  # fitted on log1p(target)
    assert meta["preprocessing"]["target"]["transform"] == "log1p"
    result = json.loads(invoke("evaluate", model, HOUSES, "--json").stdout)
    y = df["price"].to_numpy()
    assert result["rmse"] == pytest.approx(np.sqrt(np.mean((y_hat - y) ** 2)), rel=1e-6)
    assert result["mae"] == pytest.approx(np.mean(np.abs(y_hat - y)), rel=1e-6)
    assert result["rmse"] == pytest.approx(meta["metrics"]["train_rmse"], rel=1e-4)
    info = json.loads(invoke("inspect", model, "--json").stdout)
    assert info["preprocessing"]["target"]["transform"] == "log1p"
    assert "expm1" in invoke("inspect", model).stdout


# --- the validation split -------------------------------------------------------------------
def load(tmp_path, data, target, loss, units, **data_options):
    from nncli.commands.pipeline import prepare_data
    from nncli.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({
        "data": {"path": str(data), "target": target, **data_options},
        "model": {"layers": [{"units": units, "activation": "softmax" if units > 1 else "sigmoid"}]},
        "loss": loss, "training": {"learning_rate": 0.1, "epochs": 1}}))
    return prepare_data(load_config(path, []))


@pytest.mark.parametrize("data,target,loss,units", [
    ("iris.csv", "species", "cross_entropy", 3), ("breast_cancer.csv", "diagnosis", "binary_cross_entropy", 1)])
def test_stratified_split_keeps_class_proportions(tmp_path, data, target, loss, units):
    ds = load(tmp_path, DATASETS / data, target, loss, units)
    counts = lambda Y: np.bincount(Y[:, 0].astype(int) if Y.shape[1] == 1 else Y.argmax(1), minlength=max(units, 2))
    whole, val = counts(ds.Y_train) + counts(ds.Y_val), counts(ds.Y_val)
    assert val.sum() == round(0.2 * whole.sum())
    assert np.abs(val - 0.2 * whole).max() < 1  # each class held out in proportion, to the row
    unstratified = load(tmp_path, DATASETS / data, target, loss, units, stratify=False)
    assert len(unstratified.Y_val) == len(ds.Y_val)


def test_split_is_seeded_and_rows_stay_shuffled(tmp_path):
    a, b = (load(tmp_path, DATASETS / "iris.csv", "species", "cross_entropy", 3) for _ in range(2))
    assert np.array_equal(a.X_val, b.X_val) and np.array_equal(a.X_train, b.X_train)
    assert not (np.diff(a.Y_train.argmax(1)) >= 0).all()  # not sorted by class


# --- sample weights -----------------------------------------------------------------------------
def test_weight_column_is_read_and_is_not_a_feature(tmp_path):
    header, body = rows((DATASETS / "iris.csv").read_text())
    data = write_rows(tmp_path / "w.csv", header + ["w"], [r + [str(i % 3)] for i, r in enumerate(body)])
    ds = load(tmp_path, data, "species", "cross_entropy", 3, weight="w")
    assert "w" not in ds.features and len(ds.features) == 4
    assert ds.sample_weight_train.shape == (120,) and ds.sample_weight_val.shape == (30,)
    assert ds.sample_weight_train.dtype == np.float64
    assert set(ds.sample_weight_train) | set(ds.sample_weight_val) == {0.0, 1.0, 2.0}
    assert load(tmp_path, DATASETS / "iris.csv", "species", "cross_entropy", 3).sample_weight_train is None


# --- version 1 model files --------------------------------------------------------------------------
def test_version_1_file_predicts_and_evaluates_exactly_as_before():
    # Written, with its predictions and evaluation, by nncli at commit 5c70cb5 (format version 1).
    model = FIXTURES / "v1_houses.npz"
    with np.load(model, allow_pickle=False) as npz:
        assert json.loads(str(npz["meta"]))["version"] == 1 and "x_clip" not in npz.files
    result = invoke("predict", model, HOUSES)
    assert result.exit_code == 0 and result.stdout == (FIXTURES / "v1_houses_predictions.csv").read_text()
    evaluation = invoke("evaluate", model, HOUSES, "--json")
    assert json.loads(evaluation.stdout) == json.loads((FIXTURES / "v1_houses_evaluation.json").read_text())
    info = invoke("inspect", model, "--json")
    assert info.exit_code == 0 and json.loads(info.stdout)["version"] == 1


# --- bad values -------------------------------------------------------------------------------------
BAD = [
    ("negative weight", "x,w,y\n1,1,1\n2,-0.5,2\n3,1,3\n4,1,4\n5,1,5\n", {"weight": "w"},
     "weight column 'w' (data.weight) must hold finite numbers >= 0, but line 3 holds '-0.5'"),
    ("infinite weight", "x,w,y\n1,1,1\n2,1,2\n3,inf,3\n4,1,4\n5,1,5\n", {"weight": "w"}, "but line 4 holds 'inf'"),
    ("log1p target", "x,y\n1,1\n2,2\n3,-1\n4,4\n5,5\n", {"target_transform": "log1p"},
     "data.target_transform: log1p needs target values above -1, but 'y' holds -1 on line 4"),
    ("unknown scaling", "x,y\n1,1\n", {"scaling": "robustt"},
     "data.scaling: unknown scaling 'robustt' (did you mean 'robust'?); choose one of: standard, robust, none"),
    ("standardize contradicts scaling", "x,y\n1,1\n", {"standardize": False, "scaling": "robust"},
     "data.standardize: false contradicts data.scaling: robust"),
    ("bad clip", "x,y\n1,1\n", {"clip": -1}, "data.clip: must be true, false or a positive number c"),
    ("indicator without impute", "x,y\n1,1\n", {"missing_indicator": True},
     "data.missing_indicator applies only with data.missing: impute"),
    ("unknown impute", "x,y\n1,1\n", {"missing": "impute", "impute": "mode"}, "data.impute: unknown impute strategy"),
    ("weight is the target", "x,y\n1,1\n", {"weight": "y"}, "data.weight 'y' is the target"),
    ("weight is a feature", "x,y\n1,1\n", {"weight": "x", "features": ["x"]}, "data.weight 'x' is also in data.features"),
    ("stratify for mse", "x,y\n1,1\n", {"stratify": True}, "data.stratify applies to classification only"),
    ("empty column to impute", "x,z,y\n1,,1\n2,,2\n3,,3\n", {"missing": "impute", "validation": 0},
     "column 'z' has no values in the training rows"),
]


@pytest.mark.parametrize("name,text,options,message", BAD, ids=[b[0] for b in BAD])
def test_bad_values_exit_2_naming_the_key_or_line(tmp_path, name, text, options, message):
    data = tmp_path / "d.csv"
    data.write_text(text)
    result = train(tmp_path, data, "y", [{"units": 1, "activation": "linear"}], "mse", expect=2, **options)
    assert message in result.stderr and result.stderr.startswith("error: ")


def test_log1p_model_refuses_a_target_at_minus_1_in_evaluate(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x,y\n" + "".join(f"{i},{i * 3}\n" for i in range(10)))
    model = train(tmp_path, data, "y", [{"units": 1, "activation": "linear"}], "mse", target_transform="log1p")
    data.write_text("x,y\n1,2\n2,-3\n")
    result = invoke("evaluate", model, data)
    assert result.exit_code == 2 and "target 'y' holds -3 on line 3" in result.stderr


@pytest.mark.parametrize("policy", ["error", "ignore"])
def test_a_model_keeps_its_unknown_category_policy(tmp_path, policy):
    """data.unknown is stored in the model: predict and evaluate follow it without --unknown."""
    layers = [{"units": 4, "activation": "relu"}, {"units": 1, "activation": "linear"}]
    model = train(tmp_path, HOUSES, "price", layers, "mse", unknown=policy)
    df = pd.read_csv(HOUSES).head(5)
    df.loc[2, "neighbourhood"] = "atlantis"
    data = tmp_path / "new.csv"
    df.to_csv(data, index=False)
    for command in ("predict", "evaluate"):
        result = invoke(command, model, data)
        if policy == "error":
            assert result.exit_code == 2 and "'atlantis' on line 4, a category not seen in training" in result.stderr
            assert invoke(command, model, data, "--unknown", "ignore").exit_code == 0  # the option wins
        else:
            assert result.exit_code == 0, result.stderr
            assert "1 value(s) in" in result.stderr and "encoded as all zeros" in result.stderr
    if policy == "ignore":
        assert len(rows(invoke("predict", model, data).stdout)[1]) == 5
        assert invoke("predict", model, data, "--unknown", "error").exit_code == 2


# --- scaling in blocks of rows ------------------------------------------------------------------------
def some_features(m, rng):
    """Features of m rows: numeric columns of very different scales (one with a missing-value
    indicator, one holding 1e39 on row 700) and a categorical one (code -1: unseen)."""
    columns = [{"name": "a", "kind": "numeric", "categories": []},
               {"name": "b", "kind": "numeric", "categories": [], "indicator": True},
               {"name": "c", "kind": "categorical", "categories": ["x", "y", "z"]},
               {"name": "d", "kind": "numeric", "categories": []}]
    values = [rng.normal(size=m), rng.normal(size=m) * 1e3, rng.integers(-1, 3, m), rng.normal(size=m) * 1e36]
    values[3][700] = 1e39  # scaled (by 1) and clipped (at 1e39): 7e38, beyond float32 (inf) but not float64
    missing = [np.zeros(m, bool), rng.random(m) < 0.1, np.zeros(m, bool), np.zeros(m, bool)]
    return Features(columns, values, missing)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("every_row", [True, False])
@pytest.mark.parametrize("clip", [None, np.array([3.0, 1.5, 0, 0, 0, 0, 1e39])])
def test_scaling_in_blocks_gives_the_bits_of_the_whole_array(monkeypatch, dtype, every_row, clip):
    monkeypatch.setattr(dataset, "BLOCK_ELEMENTS", 70)  # 10 rows of 7 features: many blocks,
    monkeypatch.setattr(parallel, "THREADED_ROWS", 1)    # on two threads
    rng = np.random.default_rng(0)
    features = some_features(1001, rng)
    rows = slice(None) if every_row else rng.permutation(1001)  # a permutation: row 700 is in
    X = features.array()[rows]
    mean, std = X.mean(axis=0), X.std(axis=0)
    mean[-1], std[-1] = 0.0, 1.0
    with np.errstate(all="ignore"):
        expected = (X - mean) / std
        expected = (expected if clip is None else soft_clip(expected, clip)).astype(dtype)
    scaled, finite = dataset.scale_rows(features, rows, mean, std, dtype, clip)
    assert scaled.tobytes() == expected.tobytes() and scaled.flags.c_contiguous
    assert finite is bool(np.isfinite(expected).all()) is (dtype is np.float64)  # 1e39 overflows float32


def test_features_fill_and_column_are_the_rows_and_columns_of_x():
    rng = np.random.default_rng(0)
    features = some_features(1001, rng)
    X = features.array()
    assert X.shape == features.shape == (1001, 7) and X.flags.f_contiguous
    assert X[3, 2:6].tolist() == [float(features.missing[1][3])] + [float(features.values[2][3] == k) for k in range(3)]
    rows = rng.permutation(1001)[:300]
    out = np.empty((300, 7))
    features.fill(out, rows)
    assert np.array_equal(out, X[rows])
    for j in range(7):
        assert np.array_equal(features.column(j, rows), X[rows, j]) and np.array_equal(features.column(j), X[:, j])
    assert np.shares_memory(features.column(0), features.values[0])  # every row of a numeric feature: a view


def test_a_value_too_large_in_a_late_block_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset, "BLOCK_ELEMENTS", 8)  # 4 rows of 2 features a block, on two threads
    monkeypatch.setattr(parallel, "THREADED_ROWS", 1)
    data = tmp_path / "big.csv"
    data.write_text("x1,x2,y\n" + "".join(f"{i},{1e39 if i == 93 else -i},{i % 3}\n" for i in range(100)))
    layers = [{"units": 1, "activation": "linear"}]
    result = train(tmp_path, data, "y", layers, "mse", expect=2, scaling="none", clip=1e39)
    assert "column 'x2' holds values such as 1e+39, too large to standardise in float32" in result.stderr


def test_statistics_overflowing_on_two_threads_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "THREADED_ROWS", 1)  # each column's statistics on its own thread
    data = tmp_path / "big.csv"
    data.write_text("x1,x2,y\n" + "".join(f"{i},{1e200 * (-1) ** i},{i % 3}\n" for i in range(20)))
    result = train(tmp_path, data, "y", [{"units": 1, "activation": "linear"}], "mse", expect=2)
    assert "column 'x2' holds values too large to standardise" in result.stderr


@pytest.mark.parametrize("validation", [0, 0.2])
def test_prepare_data_gives_the_same_arrays_in_small_blocks(monkeypatch, validation):
    config = load_config_dict({
        "data": {"path": str(HOUSES), "target": "price", "validation": validation, "clip": 2.0},
        "model": {"layers": [{"units": 1, "activation": "linear"}]}, "loss": "mse",
        "training": {"learning_rate": 0.01, "epochs": 1}})
    monkeypatch.setattr(dataset, "BLOCK_ELEMENTS", 1 << 40)  # one block: the whole arrays at once
    whole = prepare_data(config)
    monkeypatch.setattr(dataset, "BLOCK_ELEMENTS", 50)
    monkeypatch.setattr(parallel, "THREADED_ROWS", 1)  # and the statistics too on two threads
    blocks = prepare_data(config)
    for name in ("X_train", "Y_train", "X_val", "Y_val", "x_mean", "x_std", "y_mean", "y_std", "x_clip"):
        a, b = getattr(whole, name), getattr(blocks, name)
        assert (a is None and b is None) or a.tobytes() == b.tobytes(), name
