"""nncli predict: exact predictions, columns by name, bad values, stdin/stdout, chunks."""

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from tests.predict_helpers import DATASETS, invoke, read_dataset, rows, train_model, write_rows

IRIS, CANCER, HOUSES = DATASETS / "iris.csv", DATASETS / "breast_cancer.csv", DATASETS / "house_prices.csv"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {
        "iris": train_model(folder, "iris", IRIS, "species",
                            [{"units": 8, "activation": "relu"}, {"units": 3, "activation": "softmax"}],
                            "cross_entropy"),
        "cancer": train_model(folder, "cancer", CANCER, "diagnosis",
                              [{"units": 6, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
                              "binary_cross_entropy", epochs=5),
        "houses": train_model(folder, "houses", HOUSES, "price",
                              [{"units": 8, "activation": "leaky_relu", "alpha": 0.1},
                               {"units": 1, "activation": "linear"}], "mse"),
        "houses64": train_model(folder, "houses64", HOUSES, "price",
                                [{"units": 6, "activation": "tanh"}, {"units": 5, "activation": "sigmoid"},
                                 {"units": 1, "activation": "linear"}], "mse", dtype="float64"),
    }


# --- an independent forward pass: the documented formulas on the npz arrays ----------
def _softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


REFERENCE_ACTIVATIONS = {
    "linear": lambda Z, layer: Z,
    "relu": lambda Z, layer: np.maximum(Z, 0),
    "leaky_relu": lambda Z, layer: np.where(Z > 0, Z, layer["alpha"] * Z),
    "tanh": lambda Z, layer: np.tanh(Z),
    "sigmoid": lambda Z, layer: 1 / (1 + np.exp(-Z)),
    "softmax": lambda Z, layer: _softmax(Z),
}


def reference(model_path, header, body):
    """Predictions from the npz alone: A0 = (X - x_mean)/x_std, Z = A W + b, g(Z), y*std + mean."""
    with np.load(model_path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays["meta"]))
    where = {name: i for i, name in enumerate(header)}
    X = []
    for row in body:
        x = []
        for column in meta["columns"]:
            value = row[where[column["name"]]]
            if column["kind"] == "numeric":
                x.append(float(value))
            else:
                x += [float(value == category) for category in column["categories"]]
        X.append(x)
    A = ((np.array(X) - arrays["x_mean"]) / arrays["x_std"]).astype(arrays["W1"].dtype)
    with np.errstate(over="ignore"):
        for l, layer in enumerate(meta["layers"], start=1):
            A = REFERENCE_ACTIVATIONS[layer["activation"]](A @ arrays[f"W{l}"] + arrays[f"b{l}"], layer)
    if meta["task"] == "regression":
        return meta, A[:, 0] * arrays["y_std"][0] + arrays["y_mean"][0]
    if meta["task"] == "binary":
        return meta, np.hstack([1 - A, A])
    return meta, A


@pytest.mark.parametrize("name, data", [("iris", IRIS), ("cancer", CANCER), ("houses", HOUSES),
                                        ("houses64", HOUSES)])
def test_predictions_equal_the_documented_forward_pass(models, name, data):
    result = invoke("predict", models[name], data)
    assert result.exit_code == 0, result.stderr
    header, body = read_dataset(data.name)
    meta, expected = reference(models[name], header, body)
    out_header, out = rows(result.stdout)
    assert len(out) == len(body)
    exact = np.dtype(meta["config"]["training"]["dtype"]) == np.float64
    tolerance = {"rtol": 1e-12, "atol": 1e-12} if exact else {"rtol": 1e-5, "atol": 1e-6}
    if meta["task"] == "regression":
        assert out_header == ["price"]
        np.testing.assert_allclose([float(r[0]) for r in out], expected, **tolerance)
        return
    assert out_header == [meta["target"]] + [f"prob_{c}" for c in meta["classes"]]
    P = np.array([[float(v) for v in r[1:]] for r in out])
    np.testing.assert_allclose(P, expected, **tolerance)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)
    assert [r[0] for r in out] == [meta["classes"][k] for k in P.argmax(axis=1)]


def test_numbers_read_back_exactly_as_computed(models):
    """float64 models write repr(): the text parses back to the exact float64 computed."""
    from nncli.io.encoding import encode_chunk
    from nncli.io.modelfile import forward, load_model, regression_values
    from nncli.io.reading import ChunkedCsv

    model = load_model(models["houses64"])
    with ChunkedCsv(HOUSES) as table:
        df = next(table.chunks(["neighbourhood"]))
    _, A = forward(model, encode_chunk(df, model.meta["columns"], "houses", table.place).X)
    _, out = rows(invoke("predict", models["houses64"], HOUSES).stdout)
    assert [float(r[0]) for r in out] == regression_values(model, A).tolist()


def test_columns_are_matched_by_name_not_position(models, tmp_path):
    header, body = read_dataset("iris.csv")
    order = [4, 2, 0, 3, 1]  # the target first, features shuffled, plus an extra column
    shuffled = write_rows(tmp_path / "shuffled.csv", [header[i] for i in order] + ["note"],
                          [[r[i] for i in order] + ["x"] for r in body])
    assert invoke("predict", models["iris"], shuffled).stdout == invoke("predict", models["iris"], IRIS).stdout


def test_target_column_is_not_needed(models, tmp_path):
    header, body = read_dataset("iris.csv")
    unlabelled = write_rows(tmp_path / "new.csv", header[:4], [r[:4] for r in body[:5]])
    result = invoke("predict", models["iris"], unlabelled)
    assert result.exit_code == 0
    assert len(rows(result.stdout)[1]) == 5


def test_missing_feature_column_is_named(models, tmp_path):
    header, body = read_dataset("iris.csv")
    data = write_rows(tmp_path / "no_petal.csv", header[:2] + header[3:], [r[:2] + r[3:] for r in body[:3]])
    result = invoke("predict", models["iris"], data)
    assert result.exit_code == 2
    assert "feature column 'petal_length' not found" in result.stderr
    assert result.stdout == ""


def test_stdin_and_stdout(models):
    from_file = invoke("predict", models["iris"], IRIS)
    from_stdin = invoke("predict", models["iris"], "-", "-o", "-", input=IRIS.read_text())
    assert from_stdin.exit_code == 0
    assert from_stdin.stdout == from_file.stdout


def test_output_file(models, tmp_path):
    out = tmp_path / "predictions.csv"
    result = invoke("predict", models["iris"], IRIS, "-o", out)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert out.read_text() == invoke("predict", models["iris"], IRIS).stdout
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.csv"]  # no temporary file left


def test_output_file_is_not_written_when_a_row_fails(models, tmp_path):
    header, body = read_dataset("iris.csv")
    body[140][0] = "oops"
    data = write_rows(tmp_path / "bad.csv", header, body)
    out = tmp_path / "predictions.csv"
    result = invoke("predict", models["iris"], data, "-o", out, "--chunk-size", "50")
    assert result.exit_code == 2
    assert not out.exists() and list(tmp_path.iterdir()) == [data]


def test_output_folder_must_exist(models, tmp_path):
    result = invoke("predict", models["iris"], IRIS, "-o", tmp_path / "nope" / "p.csv")
    assert result.exit_code == 2
    assert "folder" in result.stderr and "does not exist" in result.stderr


def test_with_input_copies_columns_as_spelled(models, tmp_path):
    data = write_rows(tmp_path / "in.csv", ["id", "sepal_length", "sepal_width", "petal_length", "petal_width"],
                      [["007", "5.10", "3.5", "1.4", "0.2"], ["NA", "6.3", "3.3", "6.0", "2.5"]])
    result = invoke("predict", models["iris"], data, "--with-input")
    header, out = rows(result.stdout)
    assert header[:5] == ["id", "sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert header[5:] == ["species", "prob_setosa", "prob_versicolor", "prob_virginica"]
    assert [r[:2] for r in out] == [["007", "5.10"], ["NA", "6.3"]]

def test_quoted_input_beside_a_classifiers_probabilities(models, tmp_path):
    """A copied field that needs quotes takes the csv module's path: the probabilities stay one field each."""
    data = write_rows(tmp_path / "in.csv", ["id", "sepal_length", "sepal_width", "petal_length", "petal_width"],
                      [['a,"b"', "5.1", "3.5", "1.4", "0.2"], ["line\nbreak", "6.3", "3.3", "6.0", "2.5"],
                       ["plain", "5.9", "3.0", "5.1", "1.8"]])
    result = invoke("predict", models["iris"], data, "--id-column", "id")
    assert result.exit_code == 0, result.stderr
    header, out = rows(result.stdout)
    assert header == ["id", "species", "prob_setosa", "prob_versicolor", "prob_virginica"]
    assert [r[0] for r in out] == ['a,"b"', "line\nbreak", "plain"]
    assert all(len(r) == 5 and abs(sum(map(float, r[2:])) - 1) < 1e-5 for r in out)
    plain = invoke("predict", models["iris"], data).stdout.splitlines()[1:]
    assert [",".join(r[1:]) for r in out] == plain  # the same numbers as without the id column



def test_with_input_renames_a_clashing_prediction_column(models):
    result = invoke("predict", models["iris"], IRIS, "--with-input")
    header, out = rows(result.stdout)
    assert header[:5] == ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    assert header[5] == "predicted_species"
    assert "prediction column is named 'predicted_species'" in result.stderr
    assert sum(r[4] == r[5] for r in out) > 100  # true and predicted labels side by side


def test_id_column(models, tmp_path):
    header, body = read_dataset("iris.csv")
    data = write_rows(tmp_path / "ids.csv", header + ["id"], [r + [f"r{i:03d}"] for i, r in enumerate(body)])
    out_header, out = rows(invoke("predict", models["iris"], data, "--id-column", "id").stdout)
    assert out_header == ["id", "species", "prob_setosa", "prob_versicolor", "prob_virginica"]
    assert [r[0] for r in out] == [f"r{i:03d}" for i in range(150)]
    missing = invoke("predict", models["iris"], data, "--id-column", "ident")
    assert missing.exit_code == 2
    assert "--id-column column 'ident' not found" in missing.stderr


def test_non_numeric_value_names_column_value_and_line(models, tmp_path):
    header, body = read_dataset("iris.csv")
    body[99][2] = "n/a?"  # line 101: the header is line 1
    data = write_rows(tmp_path / "bad.csv", header, body)
    result = invoke("predict", models["iris"], data, "--chunk-size", "7")  # in a later chunk
    assert result.exit_code == 2
    assert ("column 'petal_length' must be numeric, but line 101 holds 'n/a?'" in result.stderr)
    assert "Traceback" not in result.stderr


def test_missing_value_is_an_error_naming_its_line(models, tmp_path):
    header, body = read_dataset("iris.csv")
    body[9][1] = ""
    result = invoke("predict", models["iris"], write_rows(tmp_path / "gap.csv", header, body))
    assert result.exit_code == 2
    assert "column 'sepal_width' has a missing value on line 11" in result.stderr
    assert "--missing drop" in result.stderr


def test_first_problem_in_the_file_is_reported(models, tmp_path):
    header, body = read_dataset("iris.csv")
    body[30][3], body[20][0] = "", "abc"
    result = invoke("predict", models["iris"], write_rows(tmp_path / "two.csv", header, body))
    assert "line 22" in result.stderr and "'sepal_length'" in result.stderr


def test_missing_drop_leaves_rows_out_and_counts_them(models, tmp_path):
    header, body = read_dataset("iris.csv")
    ids = [str(i) for i in range(len(body))]
    body[3][0], body[77][2], body[120][1] = "", "NA", "twelve"
    data = write_rows(tmp_path / "gaps.csv", header + ["id"], [r + [i] for r, i in zip(body, ids)])
    result = invoke("predict", models["iris"], data, "--missing", "drop", "--id-column", "id", "--chunk-size", "16")
    assert result.exit_code == 0
    out_header, out = rows(result.stdout)  # stdout is pure CSV
    assert [r[0] for r in out] == [i for i in ids if i not in ("3", "77", "120")]
    assert "left out 3 of 150 row(s)" in result.stderr
    assert "2 with a missing value, 1 with a non-numeric value" in result.stderr
    assert "lines 5, 79, 122" in result.stderr  # the header is line 1; chunks of 16 rows


@pytest.mark.parametrize("stdin", [False, True], ids=["file", "stdin"])
def test_missing_drop_names_the_first_lines_left_out(models, tmp_path, stdin):
    header, body = read_dataset("iris.csv")
    for i in (1, 2, 40, 41, 99):
        body[i][0] = ""
    data = write_rows(tmp_path / "gaps.csv", header, body)
    args = ["-", "--missing", "drop"] if stdin else [data, "--missing", "drop"]
    result = invoke("predict", models["iris"], *args, input=data.read_text() if stdin else None)
    assert result.exit_code == 0
    assert "left out 5 of 150 row(s)" in result.stderr
    assert "lines 3, 4, 42 and 2 more" in result.stderr


def test_with_input_and_id_column_is_a_usage_error(models):
    result = invoke("predict", models["iris"], IRIS, "--with-input", "--id-column", "species")
    assert result.exit_code == 2
    assert "--with-input already copies every column; drop --id-column" in result.stderr


def test_unknown_category_is_an_error_or_all_zeros(models, tmp_path):
    header, body = read_dataset("house_prices.csv")
    body[41][3] = "harbour"
    data = write_rows(tmp_path / "new_place.csv", header, body)
    result = invoke("predict", models["houses"], data)
    assert result.exit_code == 2
    assert ("column 'neighbourhood' has value 'harbour' on line 43, a category not seen in training"
            in result.stderr)
    assert "known: centre, rural, suburb" in result.stderr

    ignored = invoke("predict", models["houses"], data, "--unknown", "ignore")
    assert ignored.exit_code == 0
    assert "1 value(s)" in ignored.stderr and "all zeros" in ignored.stderr
    _, expected = reference(models["houses"], header, body)  # the reference encodes 'harbour' as zeros too
    np.testing.assert_allclose([float(r[0]) for r in rows(ignored.stdout)[1]], expected, rtol=1e-5)


@pytest.mark.parametrize("value", ["1e39", "-3e39", "1e300"])
def test_values_too_large_for_float32_name_their_line(models, tmp_path, value):
    header, body = read_dataset("iris.csv")
    body[4][2] = value
    result = invoke("predict", models["iris"], write_rows(tmp_path / "huge.csv", header, body))
    assert result.exit_code == 2
    assert "line 6 are too large for this float32 model (column 'petal_length' holds" in result.stderr
    assert "Warning" not in result.stderr


@pytest.mark.parametrize("name, data", [("houses", HOUSES), ("iris", IRIS)])
def test_chunk_size_does_not_change_the_output(models, name, data):
    """Equal to float rounding: BLAS may sum in another order for another block of rows."""
    header, whole = rows(invoke("predict", models[name], data).stdout)
    for size in ("1", "7", "149", "299", "300"):
        chunked_header, chunked = rows(invoke("predict", models[name], data, "--chunk-size", size).stdout)
        assert chunked_header == header and len(chunked) == len(whole)
        if name == "iris":
            assert [r[0] for r in chunked] == [r[0] for r in whole]
        numbers = slice(0, None) if name == "houses" else slice(1, None)
        np.testing.assert_allclose(np.array([r[numbers] for r in chunked], float),
                                   np.array([r[numbers] for r in whole], float), rtol=1e-6, atol=1e-7)


def test_labels_as_spelled_in_training(tmp_path):
    rng = random.Random(0)
    body = []
    for _ in range(60):
        label = rng.choice(["1", "2", "10"])
        body.append([f"{int(label) + rng.random():.3f}", label])
    data = write_rows(tmp_path / "levels.csv", ["x", "level"], body)
    model = train_model(tmp_path, "levels", data, "level",
                        [{"units": 3, "activation": "softmax"}], "cross_entropy", epochs=3)
    header, out = rows(invoke("predict", model, data).stdout)
    assert header == ["level", "prob_1", "prob_2", "prob_10"]  # natural order, as spelled
    assert {r[0] for r in out} <= {"1", "2", "10"}


def test_header_only_gives_header_only(models, tmp_path):
    data = tmp_path / "empty.csv"
    data.write_text("sepal_length,sepal_width,petal_length,petal_width\n")
    result = invoke("predict", models["iris"], data)
    assert result.exit_code == 0
    assert result.stdout == "species,prob_setosa,prob_versicolor,prob_virginica\n"


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"\x00\x01\x02binary", "binary data"),
    (b"a,b\n\xff\xfe,1\n", "not UTF-8"),
    (b"a,a\n1,2\n", "appears more than once"),
])
def test_unusable_files(models, tmp_path, content, message):
    data = tmp_path / "data.csv"
    data.write_bytes(content)
    result = invoke("predict", models["iris"], data)
    assert result.exit_code == 2
    assert message in result.stderr


def test_ragged_row_names_its_line(models, tmp_path):
    text = IRIS.read_text().splitlines()
    text[5] += ",9"
    data = tmp_path / "ragged.csv"
    data.write_text("\n".join(text) + "\n")
    result = invoke("predict", models["iris"], data)
    assert result.exit_code == 2
    assert "line 6" in result.stderr


def test_missing_data_file(models, tmp_path):
    result = invoke("predict", models["iris"], tmp_path / "nope.csv")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_closed_pipe_ends_quietly(models, tmp_path):
    header, body = read_dataset("iris.csv")
    data = write_rows(tmp_path / "big.csv", header, body * 200)  # more output than a pipe holds
    proc = subprocess.Popen([sys.executable, "-m", "nncli", "predict", str(models["iris"]), str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"species,")
    proc.stdout.close()  # like `| head -1`
    stderr = proc.stderr.read().decode()
    assert proc.wait() == 141
    assert "Traceback" not in stderr and "error" not in stderr


def test_missing_value_strings_are_those_of_training():
    """Training reads CSVs with pandas' default NA strings; predict must see the same cells as missing."""
    parsers = pytest.importorskip("pandas._libs.parsers")
    from nncli.io.reading import NA_STRINGS

    assert set(NA_STRINGS) == set(parsers.STR_NA_VALUES)


def test_a_predicted_label_that_needs_quotes_is_quoted(tmp_path):
    """A class label with a comma or a quote is written as the csv module quotes it."""
    data = tmp_path / "labels.csv"
    quoted = ['"big, red"', '"say ""hi"""']  # as CSV spells them
    lines = ["x,label"] + [f"{i % 10},{quoted[i % 2]}" for i in range(40)]
    data.write_text("\n".join(lines) + "\n")
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{path: {data}, target: label, validation: 0}}\n"
                      "model: {layers: [{units: 1, activation: sigmoid}]}\nloss: binary_cross_entropy\n"
                      "training: {learning_rate: 0.1, epochs: 2}\n")
    assert invoke("train", config, "-o", tmp_path / "m.npz", "--quiet").exit_code == 0
    out = invoke("predict", tmp_path / "m.npz", data)
    assert out.exit_code == 0, out.stderr
    header, body = rows(out.stdout)
    assert header[0] == "label" and {r[0] for r in body} <= {"big, red", 'say "hi"'} and len(body) == 40
