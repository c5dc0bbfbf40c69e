"""Parquet files: training, predict and evaluate give what they give on the same data as CSV;
predict reads in batches, row group by row group; -o *.parquet writes Parquet."""

import json
import sys

import numpy as np
import pytest

from tests.predict_helpers import DATASETS, invoke, rows, train_model

pd = pytest.importorskip("pandas")
pq = pytest.importorskip("pyarrow.parquet")

HOUSES, IRIS = DATASETS / "house_prices.csv", DATASETS / "iris.csv"
HOUSE_LAYERS = [{"units": 6, "activation": "relu"}, {"units": 1, "activation": "linear"}]


def to_parquet(csv_path, path, row_group_size=None, **read_options):
    pd.read_csv(csv_path, **read_options).to_parquet(path, row_group_size=row_group_size)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parquet")
    # bedrooms as text in the CSV read, so that Parquet holds it as a string column (categorical by type)
    return {"houses": to_parquet(HOUSES, folder / "houses.parquet", 64),
            "iris": to_parquet(IRIS, folder / "iris.parquet", 40),
            "folder": folder}


def arrays(model):
    with np.load(model, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def test_training_on_parquet_equals_training_on_csv(files):
    folder = files["folder"]
    train_csv, val_csv = folder / "train.csv", folder / "val.csv"
    df = pd.read_csv(HOUSES)
    df[:250].to_csv(train_csv, index=False)
    df[250:].to_csv(val_csv, index=False)
    df[:250].to_parquet(folder / "train.parquet")
    df[250:].to_parquet(folder / "val.parquet")
    from_csv = train_model(folder, "csv", train_csv, "price", HOUSE_LAYERS, "mse", epochs=3, validation=str(val_csv))
    from_parquet = train_model(folder, "pq", folder / "train.parquet", "price", HOUSE_LAYERS, "mse", epochs=3,
                               validation=str(folder / "val.parquet"))
    a, b = arrays(from_csv), arrays(from_parquet)
    meta_a, meta_b = json.loads(str(a.pop("meta"))), json.loads(str(b.pop("meta")))
    assert meta_a["columns"] == meta_b["columns"] and meta_a["metrics"] == meta_b["metrics"]
    assert all(np.array_equal(a[name], b[name]) for name in a)


def test_a_string_column_is_categorical_by_its_parquet_type(tmp_path):
    df = pd.read_csv(HOUSES)
    df["bedrooms"] = df["bedrooms"].astype(str)  # digits, but stored as strings
    df.to_parquet(tmp_path / "h.parquet")
    model = train_model(tmp_path, "h", tmp_path / "h.parquet", "price", HOUSE_LAYERS, "mse", epochs=1)
    info = json.loads(invoke("inspect", model, "--json").stdout)
    assert {c["name"]: c["kind"] for c in info["columns"]} == {
        "size_sqm": "numeric", "bedrooms": "categorical", "age_years": "numeric", "neighbourhood": "categorical"}


@pytest.mark.parametrize("name, csv_path, target, layers, loss", [
    ("houses", HOUSES, "price", HOUSE_LAYERS, "mse"),
    ("iris", IRIS, "species", [{"units": 5, "activation": "tanh"}, {"units": 3, "activation": "softmax"}],
     "cross_entropy"),
])
def test_predict_and_evaluate_on_parquet_equal_csv(files, name, csv_path, target, layers, loss):
    model = train_model(files["folder"], f"m_{name}", csv_path, target, layers, loss, epochs=3)
    for options in ([], ["--id-column", target], ["--with-input"]):
        from_csv = invoke("predict", model, csv_path, "--chunk-size", "50", *options)
        from_parquet = invoke("predict", model, files[name], "--chunk-size", "50", *options)
        assert from_parquet.exit_code == 0, from_parquet.stderr
        assert from_parquet.stdout == from_csv.stdout
    assert (invoke("evaluate", model, files[name], "--json", "--chunk-size", "30").stdout
            == invoke("evaluate", model, csv_path, "--json", "--chunk-size", "30").stdout)


def test_batches_are_read_row_group_by_row_group(files):
    from nncli.io.parquet import ChunkedParquet

    with ChunkedParquet(files["iris"]) as table:
        assert table.row_groups == 4  # 150 rows in groups of 40
        chunks = list(table.chunks(["species"], ["sepal_length"], chunksize=25))
    assert len(chunks) > 4 and all(len(df) <= 25 for df in chunks)
    assert list(chunks[0].columns) == ["sepal_length", "species"]  # only the columns asked for
    whole = pd.concat(chunks)
    assert whole.index.tolist() == list(range(150))
    assert whole["species"].tolist() == pd.read_csv(IRIS)["species"].tolist()


def test_predict_writes_parquet(files, tmp_path):
    model = train_model(files["folder"], "iris_out", IRIS, "species",
                        [{"units": 4, "activation": "relu"}, {"units": 3, "activation": "softmax"}],
                        "cross_entropy", epochs=2)
    out = tmp_path / "predictions.parquet"
    result = invoke("predict", model, IRIS, "-o", out, "--chunk-size", "60")
    assert result.exit_code == 0, result.stderr
    table = pq.read_table(out)
    assert [str(t) for t in table.schema.types] == ["string", "float", "float", "float"]
    header, body = rows(invoke("predict", model, IRIS).stdout)
    assert table.column_names == header
    assert table.column("species").to_pylist() == [row[0] for row in body]
    probs = np.column_stack([table.column(n).to_numpy() for n in header[1:]])
    assert np.array_equal(probs, np.array([row[1:] for row in body], dtype=np.float32))


def test_a_missing_value_in_parquet_is_named_by_its_row(files, tmp_path):
    model = train_model(files["folder"], "h_missing", HOUSES, "price", HOUSE_LAYERS, "mse", epochs=1)
    df = pd.read_csv(HOUSES).head(5)
    df.loc[3, "age_years"] = None
    df.to_parquet(tmp_path / "m.parquet")
    result = invoke("predict", model, tmp_path / "m.parquet")
    assert result.exit_code == 2
    assert "m.parquet: column 'age_years' has a missing value on row 4;" in result.stderr
    assert invoke("predict", model, tmp_path / "m.parquet", "--missing", "drop").stdout.count("\n") == 5


def test_without_pyarrow_one_line_says_how_to_install(files, monkeypatch):
    model = train_model(files["folder"], "h_nopa", HOUSES, "price", HOUSE_LAYERS, "mse", epochs=1)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    result = invoke("predict", model, files["houses"])
    assert result.exit_code == 2
    assert result.stderr == ("error: reading and writing Parquet files needs pyarrow; install it with: "
                             "pip install 'nncli[parquet]'\n")


def test_a_file_that_is_not_parquet(files, tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_text("a,b\n1,2\n")
    model = train_model(files["folder"], "h_bad", HOUSES, "price", HOUSE_LAYERS, "mse", epochs=1)
    result = invoke("predict", model, bad)
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {bad} is not a Parquet file")
