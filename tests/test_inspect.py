"""nncli inspect: what a model file holds, as tables and as JSON."""

import json

import numpy as np
import pytest

from tests.predict_helpers import DATASETS, invoke, train_model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inspect")
    return {
        "iris": train_model(folder, "iris", DATASETS / "iris.csv", "species",
                            [{"units": 5, "activation": "leaky_relu", "alpha": 0.2},
                             {"units": 3, "activation": "softmax"}], "cross_entropy", epochs=2),
        "houses": train_model(folder, "houses", DATASETS / "house_prices.csv", "price",
                              [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "linear"}],
                              "mse", epochs=2, categorical=["bedrooms"]),
    }


def inspect_json(model):
    result = invoke("inspect", model, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_json_holds_the_meta_plus_parameters_and_shapes(models):
    info = inspect_json(models["iris"])
    with np.load(models["iris"], allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        sizes = sum(npz[name].size for name in npz.files if name[0] in "Wb")
    # meta["preprocessing"] (format version 2) is shown with the arrays x_mean, x_std, x_clip added to it.
    assert {k: info[k] for k in meta if k != "preprocessing"} == {k: v for k, v in meta.items() if k != "preprocessing"}
    assert {k: info["preprocessing"][k] for k in meta["preprocessing"]} == meta["preprocessing"]
    assert info["parameters"] == sizes == 4 * 5 + 5 + 5 * 3 + 3
    assert info["layer_shapes"] == [{"W": [4, 5], "b": [5], "parameters": 25},
                                    {"W": [5, 3], "b": [3], "parameters": 18}]
    assert info["layers"][0] == {"units": 5, "activation": "leaky_relu", "alpha": 0.2}
    assert info["classes"] == ["setosa", "versicolor", "virginica"]
    assert info["dtype"] == "float32"
    assert len(info["preprocessing"]["x_mean"]) == 4 and "y_mean" not in info["preprocessing"]


def test_json_of_a_regression_model(models):
    info = inspect_json(models["houses"])
    assert info["task"] == "regression" and info["classes"] == []
    assert info["loss"] == "mse"
    assert info["features"][:2] == ["size_sqm", "bedrooms=1"]
    assert len(info["preprocessing"]["y_mean"]) == 1 and len(info["preprocessing"]["y_std"]) == 1
    assert info["config"]["data"]["categorical"] == ["bedrooms"]
    assert set(info["metrics"]) >= {"train_loss", "val_loss", "val_rmse", "val_r2"}


def test_tables(models):
    result = invoke("inspect", models["iris"])
    assert result.exit_code == 0
    out = result.stdout
    for text in ("target 'species': multiclass classification, 3 classes: setosa, versicolor, virginica",
                 "loss cross_entropy", "Architecture (43 parameters, float32)", "leaky_relu (alpha 0.2)",
                 "4 × 5", "Features", "petal_width", "Training config", "training.learning_rate",
                 "Final metrics", "accuracy"):
        assert text in out, text


def test_tables_show_one_hot_columns_and_target_scaling(models):
    out = invoke("inspect", models["houses"]).stdout
    assert "one-hot" in out and "bedrooms=1" in out and "neighbourhood=suburb" in out
    assert "target 'price': regression, predicted as z and returned as z *" in out
