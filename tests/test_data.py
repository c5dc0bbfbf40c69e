"""Data problems: each bad CSV gets one message naming the file, column and line; exit 2."""

import json
import os

import numpy as np
import pytest

CONFIG = """
data:
  path: data.csv
  target: y
model:
  layers:
    - {{units: 1, activation: {act}}}
loss: {loss}
training:
  learning_rate: 0.1
  epochs: 3
  batch_size: full
"""
REGRESSION = CONFIG.format(act="linear", loss="mse")
BINARY = CONFIG.format(act="sigmoid", loss="binary_cross_entropy")
GOOD = "x1,x2,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20))


def train(cli, tmp_path, csv, config=REGRESSION, *extra, command="train"):
    """Run ``command`` (train, or a short lr-sweep) on ``csv`` (text, bytes, or None: no file)."""
    data = tmp_path / "data.csv"
    if isinstance(csv, bytes):
        data.write_bytes(csv)
    elif csv is not None:
        data.write_text(csv)
    (tmp_path / "c.yaml").write_text(config)
    if command == "lr-sweep":
        return cli("lr-sweep", tmp_path / "c.yaml", "--num", "2", "--epochs", "1", "--jobs", "1", *extra)
    return cli("train", tmp_path / "c.yaml", "-o", tmp_path / "m.npz", *extra)


CASES = [
    ("missing file", None, REGRESSION, "does not exist"),
    ("empty file", "", REGRESSION, "is empty"),
    ("header only", "x1,x2,y\n", REGRESSION, "has a header but no data rows"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", REGRESSION, "not a CSV file (it holds binary data)"),
    ("duplicate columns", "x1,x1,y\n1,2,3\n4,5,6\n", REGRESSION, "column 'x1' appears more than once"),
    ("no target", "x1,x2,z\n1,2,3\n", REGRESSION, "target column 'y' not found"),
    ("mixed column", GOOD.replace("\n5,2,1\n", "\nfive,2,1\n"), REGRESSION,
     "column 'x1' holds numbers and text; value 'five' on line 7 is not a number"),
    ("missing value", GOOD.replace("\n5,2,1\n", "\n5,,1\n"), REGRESSION,
     "column 'x2' has a missing value on line 7"),
    ("infinite value", GOOD.replace("\n5,2,1\n", "\n5,inf,1\n"), REGRESSION,
     "column 'x2' must hold finite numbers, but line 7 holds 'inf'; fix that value, or remove that row"),
    ("infinite target", GOOD.replace("\n5,2,1\n", "\n5,2,-inf\n"), REGRESSION,
     "column 'y' must hold finite numbers, but line 7 holds '-inf'; fix that value, or remove that row"),
    ("text target for mse", GOOD.replace("\n5,2,1\n", "\n5,2,big\n"), REGRESSION,
     "loss mse needs a numeric target, but 'y' holds 'big' on line 7"),
    ("one class", "x,y\n1,a\n2,a\n3,a\n4,a\n5,a\n", BINARY, "has only one class (a)"),
    ("three classes for bce", "x,y\n1,a\n2,b\n3,c\n4,a\n5,b\n", BINARY, "exactly two values"),
    ("too few rows", "x,y\n1,2\n", REGRESSION, "too few to hold out a validation fraction"),
    ("extra field in first row", "x1,y\n,,0\n1,2\n", REGRESSION, "line 2 has more fields than the header's 2"),
    ("extra field later", GOOD.replace("\n5,2,1\n", "\n5,2,1,9\n"), REGRESSION,
     "could not be parsed as CSV: Expected 3 fields in line 7, saw 4; check the delimiter and the quoting"),
    ("not UTF-8", b"x1,y\n1,caf\xe9\n", REGRESSION, "is not UTF-8 text (bad byte at offset 10); save it as UTF-8"),
    ("feature not found", GOOD, REGRESSION.replace("target: y", "target: y\n  features: [x1, x3]"),
     "feature column 'x3' not found"),
    ("only the target", "y\n1\n2\n", REGRESSION, "no feature columns: the file holds only the target 'y'"),
    ("semicolons", GOOD.replace(",", ";"), REGRESSION,
     "target column 'y' not found; columns are: x1;x2;y (one column: nncli reads comma-separated files"),
    ("every row missing", "x1,y\n,1\n,2\n", REGRESSION.replace("target: y", "target: y\n  missing: drop"),
     "every row has a missing value in a used column"),
    ("output layer does not fit", "x,y\n" + "".join(f"{i},{'abc'[i % 3]}\n" for i in range(9)),
     CONFIG.format(act="softmax", loss="cross_entropy").replace("units: 1", "units: 2"),
     "model.layers.0.units is 2, but target 'y' has 3 classes (a, b, c); set it to 3"),
]
COMMANDS = ["train", "lr-sweep"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name,csv,config,message", CASES, ids=[c[0] for c in CASES])
def test_bad_data_exits_2(cli, tmp_path, name, csv, config, message, command):
    result = train(cli, tmp_path, csv, config, command=command)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1  # one line, before any progress output
    assert "--missing" not in result.stderr and "--unknown" not in result.stderr  # predict's options
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_directory_instead_of_file(cli, tmp_path, command):
    (tmp_path / "data.csv").mkdir()
    result = train(cli, tmp_path, None, command=command)
    assert result.exit_code == 2 and "is a directory, not a CSV file" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file whatever its mode")
@pytest.mark.parametrize("command", COMMANDS)
def test_unreadable_data_file(cli, tmp_path, command):
    (tmp_path / "data.csv").write_text(GOOD)
    (tmp_path / "data.csv").chmod(0)
    result = train(cli, tmp_path, None, command=command)
    assert result.exit_code == 2 and "cannot read data file" in result.stderr and "Permission denied" in result.stderr


def test_missing_feature_column_suggests_a_name(cli, tmp_path):
    config = REGRESSION.replace("target: y", "target: y\n  features: [x1, x3]")
    result = train(cli, tmp_path, GOOD.replace("x2", "x3x"), config)
    assert result.exit_code == 2 and "feature column 'x3' not found (did you mean 'x3x'?)" in result.stderr


def test_missing_drop_leaves_rows_out_with_a_warning(cli, tmp_path):
    config = REGRESSION.replace("target: y", "target: y\n  missing: drop")
    result = train(cli, tmp_path, GOOD.replace("\n5,2,1\n", "\n5,,1\n"), config)
    assert result.exit_code == 0, result.stderr
    assert "dropped 1 row(s) with a missing value" in result.stderr


def test_constant_feature_passes_through_centred(cli, tmp_path):
    csv = "x1,c,y\n" + "".join(f"{i},7,{2 * i}\n" for i in range(20))
    result = train(cli, tmp_path, csv)
    assert result.exit_code == 0, result.stderr
    assert "warning: 1 feature(s) constant in the training data, centred but not scaled: 'c'" in result.stderr
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        assert f["x_mean"][1] == 7 and f["x_std"][1] == 1 and np.isfinite(f["W1"]).all()


def test_batch_larger_than_data_warns(cli, tmp_path):
    config = REGRESSION.replace("batch_size: full", "batch_size: 500")
    result = train(cli, tmp_path, GOOD, config)
    assert result.exit_code == 0 and "batch_size 500 is larger than the 16 training rows" in result.stderr


def test_categorical_numbers_and_text_labels(cli, tmp_path):
    csv = "code,x,y\n" + "".join(f"{10 + i % 3},{i},{'yes' if i % 2 else 'no'}\n" for i in range(30))
    config = BINARY.replace("target: y", "target: y\n  categorical: [code]")
    result = train(cli, tmp_path, csv, config, "--json")
    assert result.exit_code == 0, result.stderr
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
    assert meta["features"] == ["code=10", "code=11", "code=12", "x"]
    assert meta["classes"] == ["no", "yes"] and meta["task"] == "binary"


def test_numeric_classes_sort_numerically(cli, tmp_path):
    csv = "x,y\n" + "".join(f"{i},{[2, 10, 1][i % 3]}\n" for i in range(30))
    config = CONFIG.format(act="softmax", loss="cross_entropy").replace("units: 1", "units: 3")
    assert train(cli, tmp_path, csv, config).exit_code == 0
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        assert json.loads(str(f["meta"]))["classes"] == ["1", "2", "10"]


def test_validation_from_a_second_file(cli, tmp_path):
    (tmp_path / "val.csv").write_text(GOOD)
    config = REGRESSION.replace("target: y", "target: y\n  validation: val.csv")
    result = train(cli, tmp_path, GOOD, config, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["val_loss"] is not None


def test_validation_file_with_a_category_not_in_the_training_file(cli, tmp_path):
    csv = "x,c,y\n" + "".join(f"{i},{'ab'[i % 2]},{i}\n" for i in range(10))
    (tmp_path / "val.csv").write_text("x,c,y\n1,a,1\n2,z,2\n")
    config = REGRESSION.replace("target: y", "target: y\n  validation: val.csv")
    result = train(cli, tmp_path, csv, config)
    assert result.exit_code == 2
    assert ("column 'c' has value 'z' on line 3, a category not seen in training (known: a, b); "
            "add rows with it to the training data, or remove those rows") in result.stderr


def test_values_too_large_to_standardise(cli, tmp_path):
    result = train(cli, tmp_path, GOOD.replace("\n5,2,1\n", "\n5,1e300,1\n"))
    assert result.exit_code == 2 and "column 'x2' holds values" in result.stderr
    result = train(cli, tmp_path, GOOD.replace("\n5,2,1\n", "\n5,1e200,1\n"))
    assert result.exit_code == 2 and "column 'x2' holds values" in result.stderr


@pytest.mark.parametrize("validation, message", [
    (None, "data file {val} does not exist; check the path (relative paths in a config are relative to "
           "the config file)"),
    ("x1,x2,y\n1,2,3\n\n4,five,6\n", "{val}: column 'x2' must be numeric, but line 4 holds 'five'; "
                                   "fix that value, or remove that row"),
    ("x1,y\n1,2\n", "{val}: feature column 'x2' not found"),
    ("x1,x2,y\n", "{val} (data.validation) has a header but no data rows"),
], ids=["missing", "bad value", "column missing", "header only"])
def test_a_validation_file_is_checked_as_the_training_file(cli, tmp_path, validation, message):
    val = tmp_path / "val.csv"
    if validation is not None:
        val.write_text(validation)
    config = REGRESSION.replace("target: y", "target: y\n  validation: val.csv")
    result = train(cli, tmp_path, GOOD, config)
    assert result.exit_code == 2
    assert message.format(val=val) in result.stderr


@pytest.mark.parametrize("dtype", [object, "str"])
@pytest.mark.parametrize("n_distinct", [5, 3000])
def test_category_codes_by_dict_by_index_and_by_pyarrow_agree(n_distinct, dtype):
    """Few distinct values are looked up in a dict, many in a pandas Index, text held by pyarrow
    (dtype str, where pyarrow is installed) by pyarrow: the same codes."""
    import pandas as pd

    from nncli.io.encoding import category_codes

    rng = np.random.default_rng(0)
    categories = [f"c{i}" for i in range(0, n_distinct, 2)]  # half of the values are unseen
    values = [f"c{i}" for i in rng.integers(0, n_distinct, 10_000)]
    values[::97] = [None] * len(values[::97])
    codes = category_codes(pd.Series(values, dtype=dtype), categories)
    expected = [categories.index(v) if v in categories else -1 for v in values]
    assert codes.tolist() == expected


@pytest.mark.parametrize("n_categories", [1, 4, 16, 17, 40])
def test_one_hot_by_column_and_by_scatter_agree(n_categories):
    """Few categories are filled column by column, many by a scatter: the same 0s and 1s, unseen all 0."""
    from nncli.io.encoding import one_hot

    codes = np.random.default_rng(0).integers(-1, n_categories, 1000)
    out = np.full((n_categories, 1000), np.nan).T  # Fortran order, as encode_chunk gives it
    one_hot(codes, out)
    expected = (codes[:, None] == np.arange(n_categories)).astype(np.float64)
    assert out.tobytes(order="F") == np.asfortranarray(expected).tobytes(order="F")
