"""The Python API: nncli.load_model(...).predict(...) and nncli.train(...), through the CLI's functions."""

import warnings

import numpy as np
import pytest

import nncli
from nncli.errors import ConfigError, DataError
from tests.conftest import CONFIGS, IRIS_CONFIG
from tests.predict_helpers import DATASETS, invoke, rows

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(model, summary, path): iris, trained through the API and saved."""
    model, summary = nncli.train(CONFIGS / "iris.yaml", training__epochs=5)
    path = tmp_path_factory.mktemp("api") / "iris.npz"
    model.save(path)
    return model, summary, path


def test_train_returns_the_model_and_trains_summary(trained, tmp_path):
    model, summary, path = trained
    assert summary["status"] == "completed" and summary["epochs_run"] == 5 and summary["model"] is None
    assert set(summary) >= {"train_loss", "val_loss", "train_accuracy", "val_accuracy", "seconds"}
    # the same weights as nncli train with the same overrides
    cli_path = tmp_path / "cli.npz"
    assert invoke("train", CONFIGS / "iris.yaml", "-o", cli_path, "--quiet", "--set", "training.epochs=5").exit_code == 0
    with np.load(path) as a, np.load(cli_path) as b:
        assert all(np.array_equal(a[n], b[n]) for n in a.files if n != "meta")
    assert repr(model) == "<nncli.Model multiclass of 'species', layers 4-16-3>"


def test_predict_a_dataframe_gives_predicts_numbers(trained):
    model, _, path = trained
    df = pd.read_csv(DATASETS / "iris.csv")
    got = nncli.load_model(path).predict(df)
    header, body = rows(invoke("predict", path, DATASETS / "iris.csv").stdout)
    assert list(got.columns) == header
    assert got["species"].tolist() == [row[0] for row in body]
    assert got["prob_setosa"].dtype == np.float32
    assert got["prob_virginica"].to_numpy().astype(str).tolist() == [row[3] for row in body]
    assert got.index.equals(df.index)


def test_predict_a_dict_a_row_or_a_file(trained):
    model, _, path = trained
    row = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    one = model.predict(row)
    columns = model.predict({k: [v, v] for k, v in row.items()})
    assert len(one) == 1 and len(columns) == 2 and one["species"][0] == columns["species"][1]
    from_file = model.predict(DATASETS / "iris.csv")
    assert len(from_file) == 150


def test_predict_errors_and_drops_as_the_cli(trained):
    model = trained[0]
    df = pd.DataFrame({"sepal_length": [5.1, None], "sepal_width": [3.5, 3.0], "petal_length": [1.4, 1.0],
                       "petal_width": [0.2, 0.1]}, index=["a", "b"])
    with pytest.raises(DataError, match="column 'sepal_length' has a missing value on row 'b'"):
        model.predict(df)
    assert model.predict(df, missing="drop").index.tolist() == ["a"]
    with pytest.raises(DataError, match="feature column 'petal_width' not found"):
        model.predict(df.drop(columns="petal_width"))


def test_evaluate_equals_the_cli(trained):
    model, _, path = trained
    import json
    expected = json.loads(invoke("evaluate", path, DATASETS / "iris.csv", "--json").stdout)
    assert model.evaluate(pd.read_csv(DATASETS / "iris.csv")) == expected


def test_train_from_a_dict_with_dotted_overrides():
    import yaml
    config = yaml.safe_load(IRIS_CONFIG)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warnings for this config
        model, summary = nncli.train(config, {"training.epochs": 2, "model.layers.0.units": 3})
    assert summary["epochs_run"] == 2 and model.model.network.sizes == [4, 3, 3]
    assert config["training"]["epochs"] == 5  # the caller's dict is left as it was
    with pytest.raises(ConfigError, match="no such key 'training.epoch'"):
        nncli.train(config, training__epoch=2)


def test_the_readme_example_runs(tmp_path, monkeypatch):
    readme = (CONFIGS.parent / "README.md").read_text()
    example = readme.split("### Python API")[1].split("```python")[1].split("```")[0]
    (tmp_path / "configs").symlink_to(CONFIGS)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["predictions"]["species"].tolist() == ["setosa", "virginica"]
    assert (tmp_path / "iris.npz").exists()
