"""nncli evaluate: the loss as in training, metrics in the target's units, per-class scores."""

import json

import numpy as np
import pytest

from tests.predict_helpers import invoke, read_dataset, rows, train_model, write_rows


def split(tmp_path, name):
    """Write every 4th row of a dataset to a validation file and the rest to a training file."""
    header, body = read_dataset(name)
    train = write_rows(tmp_path / f"train_{name}", header, [r for i, r in enumerate(body) if i % 4])
    val = write_rows(tmp_path / f"val_{name}", header, [r for i, r in enumerate(body) if not i % 4])
    return train, val


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Models trained with a held-out validation file, so evaluate can be checked against training."""
    folder = tmp_path_factory.mktemp("evaluate")
    out = {}
    for name, target, layers, loss in [
        ("iris.csv", "species", [{"units": 8, "activation": "relu"}, {"units": 3, "activation": "softmax"}],
         "cross_entropy"),
        ("breast_cancer.csv", "diagnosis", [{"units": 1, "activation": "sigmoid"}], "binary_cross_entropy"),
        ("house_prices.csv", "price", [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "linear"}],
         "mse"),
    ]:
        train, val = split(folder, name)
        model = train_model(folder, name.removesuffix(".csv"), train, target, layers, loss, validation=str(val))
        out[name] = (model, val)
    return out


def evaluate_json(*args):
    result = invoke("evaluate", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", ["iris.csv", "breast_cancer.csv", "house_prices.csv"])
def test_loss_and_metrics_match_training_on_the_same_data(trained, name):
    model, val = trained[name]
    metrics = json.loads(invoke("inspect", model, "--json").stdout)["metrics"]
    result = evaluate_json(model, val, "--chunk-size", "13")
    assert result["n_rows"] == len(read_dataset(val)[1])
    assert result["loss"] == pytest.approx(metrics["val_loss"], rel=1e-6)
    for key in ("accuracy", "rmse", "mae", "r2"):
        if f"val_{key}" in metrics:
            assert result[key] == pytest.approx(metrics[f"val_{key}"], rel=1e-5)


def test_classification_json_fields(trained):
    model, val = trained["iris.csv"]
    result = evaluate_json(model, val)
    assert list(result) == ["n_rows", "loss", "accuracy", "balanced_accuracy", "macro_f1", "per_class",
                            "confusion_matrix"]
    labels = ["setosa", "versicolor", "virginica"]
    assert list(result["per_class"]) == labels
    assert all(list(s) == ["precision", "recall", "f1", "support"] for s in result["per_class"].values())
    assert result["confusion_matrix"]["labels"] == labels
    C = np.array(result["confusion_matrix"]["matrix"])
    assert C.shape == (3, 3) and C.sum() == result["n_rows"]
    assert [s["support"] for s in result["per_class"].values()] == C.sum(axis=1).tolist()


def test_scores_agree_with_the_predictions(trained):
    """Accuracy, precision, recall and F1 recomputed by hand from `nncli predict`."""
    model, val = trained["iris.csv"]
    header, body = read_dataset(val)
    truth = [r[header.index("species")] for r in body]
    predicted = [r[0] for r in rows(invoke("predict", model, val).stdout)[1]]
    result = evaluate_json(model, val)
    pairs = list(zip(truth, predicted))
    assert result["accuracy"] == pytest.approx(sum(t == p for t, p in pairs) / len(pairs))
    for label, s in result["per_class"].items():
        tp = sum(t == p == label for t, p in pairs)
        precision = tp / max(1, sum(p == label for _, p in pairs))
        recall = tp / sum(t == label for t, _ in pairs)
        assert s["precision"] == pytest.approx(precision)
        assert s["recall"] == pytest.approx(recall)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        assert s["f1"] == pytest.approx(f1)
    for i, t in enumerate(result["confusion_matrix"]["labels"]):
        for j, p in enumerate(result["confusion_matrix"]["labels"]):
            assert result["confusion_matrix"]["matrix"][i][j] == pairs.count((t, p))


def test_regression_json_fields_and_units(trained):
    model, val = trained["house_prices.csv"]
    result = evaluate_json(model, val)
    assert list(result) == ["n_rows", "loss", "rmse", "mae", "r2"]
    header, body = read_dataset(val)
    truth = np.array([float(r[header.index("price")]) for r in body])
    predicted = np.array([float(r[0]) for r in rows(invoke("predict", model, val).stdout)[1]])
    assert result["rmse"] == pytest.approx(np.sqrt(np.mean((predicted - truth) ** 2)), rel=1e-9)
    assert result["mae"] == pytest.approx(np.mean(np.abs(predicted - truth)), rel=1e-9)
    r2 = 1 - np.sum((predicted - truth) ** 2) / np.sum((truth - truth.mean()) ** 2)
    assert result["r2"] == pytest.approx(r2, rel=1e-9)


def test_chunk_size_only_changes_rounding(trained):
    model, val = trained["house_prices.csv"]
    whole, chunked = evaluate_json(model, val), evaluate_json(model, val, "--chunk-size", "1")
    assert whole["n_rows"] == chunked["n_rows"]
    for key in ("loss", "rmse", "mae", "r2"):
        assert chunked[key] == pytest.approx(whole[key], rel=1e-6)


def test_binary_model_reports_both_classes(trained):
    model, val = trained["breast_cancer.csv"]
    result = evaluate_json(model, val)
    assert list(result["per_class"]) == ["benign", "malignant"]
    assert np.array(result["confusion_matrix"]["matrix"]).shape == (2, 2)


def test_tables(trained):
    model, val = trained["iris.csv"]
    result = invoke("evaluate", model, val)
    assert result.exit_code == 0
    for text in ("Evaluation", "accuracy", "Per class", "Precision", "Confusion matrix", "virginica",
                 "rows: true class"):
        assert text in result.stdout
    regression = invoke("evaluate", *trained["house_prices.csv"])
    assert "RMSE" in regression.stdout and "R²" in regression.stdout
    assert "Confusion" not in regression.stdout


def test_target_column_is_required(trained, tmp_path):
    model, val = trained["iris.csv"]
    header, body = read_dataset(val)
    unlabelled = write_rows(tmp_path / "x.csv", header[:4], [r[:4] for r in body])
    result = invoke("evaluate", model, unlabelled)
    assert result.exit_code == 2
    assert "target column 'species' not found" in result.stderr


def test_unknown_class_names_its_line(trained, tmp_path):
    model, val = trained["iris.csv"]
    header, body = read_dataset(val)
    body[7][4] = "Setosa"
    result = invoke("evaluate", model, write_rows(tmp_path / "x.csv", header, body), "--chunk-size", "5")
    assert result.exit_code == 2
    assert "target 'species' has class 'Setosa' on line 9, not among the training classes" in result.stderr


def test_missing_target_error_or_drop(trained, tmp_path):
    model, val = trained["house_prices.csv"]
    header, body = read_dataset(val)
    body[2][4] = ""
    data = write_rows(tmp_path / "x.csv", header, body)
    result = invoke("evaluate", model, data)
    assert result.exit_code == 2
    assert "column 'price' has a missing value on line 4" in result.stderr
    dropped = invoke("evaluate", model, data, "--missing", "drop", "--json")
    assert dropped.exit_code == 0
    assert json.loads(dropped.stdout)["n_rows"] == len(body) - 1
    assert f"left out 1 of {len(body)} row(s)" in dropped.stderr


def test_constant_target_gives_null_r2(trained, tmp_path):
    model, val = trained["house_prices.csv"]
    header, body = read_dataset(val)
    for r in body:
        r[4] = "300"
    result = evaluate_json(model, write_rows(tmp_path / "flat.csv", header, body))
    assert result["r2"] is None


def test_no_rows(trained, tmp_path):
    model, val = trained["iris.csv"]
    data = tmp_path / "empty.csv"
    data.write_text(val.read_text().splitlines()[0] + "\n")
    result = invoke("evaluate", model, data)
    assert result.exit_code == 2
    assert "no rows to evaluate" in result.stderr


def test_stdin(trained):
    model, val = trained["iris.csv"]
    result = invoke("evaluate", model, "-", "--json", input=val.read_text())
    assert json.loads(result.stdout) == evaluate_json(model, val)
