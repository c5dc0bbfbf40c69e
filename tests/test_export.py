"""nncli export: the ONNX graph (run with ONNX Runtime) and the standalone Python file give
predict's numbers on the raw rows, for every shipped config and for categorical inputs."""

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from tests.conftest import CONFIGS
from tests.predict_helpers import DATASETS, invoke, read_dataset, rows, train_model, write_rows

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

SHIPPED = sorted(p.stem for p in CONFIGS.glob("*.yaml"))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A model per shipped config (3 epochs: fit does not matter here), plus categorical and float64 ones."""
    folder = tmp_path_factory.mktemp("export")
    out = {}
    for name in SHIPPED:
        path = folder / f"{name}.npz"
        result = invoke("train", CONFIGS / f"{name}.yaml", "-o", path, "--quiet", "--set", "training.epochs=3")
        assert result.exit_code == 0, result.stderr
        out[name] = path
    houses = DATASETS / "house_prices.csv"
    out["houses_categorical"] = train_model(folder, "houses_cat", houses, "price",
                                            [{"units": 8, "activation": "leaky_relu", "alpha": 0.1},
                                             {"units": 1, "activation": "linear"}], "mse", epochs=3,
                                            categorical=["bedrooms"])
    out["neighbourhood_classifier"] = train_model(folder, "hood", houses, "neighbourhood",
                                                  [{"units": 6, "activation": "tanh"},
                                                   {"units": 3, "activation": "softmax"}], "cross_entropy",
                                                  epochs=3, categorical=["bedrooms"])
    out["iris64"] = train_model(folder, "iris64", DATASETS / "iris.csv", "species",
                                [{"units": 5, "activation": "sigmoid"}, {"units": 3, "activation": "softmax"}],
                                "cross_entropy", epochs=3, dtype="float64")
    return out


def data_of(model):
    with np.load(model, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
    return meta, meta["config"]["data"]["path"]


def run_onnx(path, header, body):
    """Run an exported graph on raw CSV rows (strings): numbers parsed (an empty cell as NaN),
    text as is (an empty cell as "", the graph's missing string)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    for item in session.get_inputs():
        values = [row[header.index(item.name)] for row in body]
        if item.type == "tensor(string)":
            feeds[item.name] = np.array(values, dtype=object).reshape(-1, 1)
        else:
            dtype = np.float32 if item.type == "tensor(float)" else np.float64
            feeds[item.name] = np.array([float(v) if v else np.nan for v in values], dtype).reshape(-1, 1)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds)))


@pytest.mark.parametrize("name", SHIPPED + ["houses_categorical", "neighbourhood_classifier", "iris64"])
def test_onnx_gives_predicts_numbers(models, name, tmp_path):
    model = models[name]
    meta, data = data_of(model)
    out = tmp_path / "model.onnx"
    result = invoke("export", model, "-o", out)
    assert result.exit_code == 0, result.stderr
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)

    header, body = read_dataset(DATASETS / data.split("/")[-1])
    got = run_onnx(out, header, body)
    predicted = invoke("predict", model, DATASETS / data.split("/")[-1])
    names, expected = rows(predicted.stdout)
    assert list(got) == names
    for j, column in enumerate(names):
        want, have = [row[j] for row in expected], got[column][:, 0]
        assert have.shape == (len(body),)
        if j == 0 and meta["task"] != "regression":
            assert have.tolist() == want  # identical labels
        elif j == 0:
            scale = np.std([float(v) for v in want])
            np.testing.assert_allclose(have, np.array(want, float), rtol=1e-5, atol=1e-5 * scale)
        else:
            np.testing.assert_allclose(have, np.array(want, float), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", SHIPPED + ["houses_categorical", "neighbourhood_classifier", "iris64"])
def test_python_file_prints_predicts_digits(models, name, tmp_path):
    model = models[name]
    _, data = data_of(model)
    script = tmp_path / "predict_model.py"
    assert invoke("export", model, "--format", "python", "-o", script).exit_code == 0
    text = script.read_text()
    imports = {line.split()[1] for line in text.splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"base64", "csv", "json", "sys", "numpy"}  # no nncli, no pickle
    csv_path = DATASETS / data.split("/")[-1]
    done = subprocess.run([sys.executable, "-I", str(script), str(csv_path)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == invoke("predict", model, csv_path).stdout


def test_python_file_predict_function(models, tmp_path):
    script = tmp_path / "iris_model.py"
    invoke("export", models["iris"], "-f", "python", "-o", script)
    sys.path.insert(0, str(tmp_path))
    try:
        import iris_model
    finally:
        sys.path.remove(str(tmp_path))
    [row] = iris_model.predict([{"sepal_length": "5.1", "sepal_width": 3.5, "petal_length": 1.4,
                                 "petal_width": 0.2, "species": "ignored"}])
    _, [expected] = rows(invoke("predict", models["iris"], "-", input="sepal_length,sepal_width,petal_length,"
                                "petal_width\n5.1,3.5,1.4,0.2\n").stdout)
    assert [row["species"]] + [str(row[f"prob_{c}"]) for c in ("setosa", "versicolor", "virginica")] == expected
    with pytest.raises(ValueError, match="column 'sepal_width' has a missing value in row 1"):
        iris_model.predict([{"sepal_length": 1, "sepal_width": "NA", "petal_length": 1, "petal_width": 1}])


def test_inspect_lists_the_exports_inputs_and_outputs(models, tmp_path):
    for name in ("houses_categorical", "neighbourhood_classifier"):
        out = tmp_path / f"{name}.onnx"
        invoke("export", models[name], "-o", out)
        graph = onnx.load(str(out)).graph
        info = json.loads(invoke("inspect", models[name], "--json").stdout)["export"]
        type_names = {onnx.TensorProto.FLOAT: "float", onnx.TensorProto.DOUBLE: "double",
                      onnx.TensorProto.STRING: "string"}
        for role, values in (("inputs", graph.input), ("outputs", graph.output)):
            assert [(i["name"], i["type"], i["shape"]) for i in info[role]] == [
                (v.name, type_names[v.type.tensor_type.elem_type],
                 [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]) for v in values]
    assert [i["type"] for i in info["inputs"]] == ["float", "string", "float", "float"]  # price is a feature here
    assert "ONNX export" in invoke("inspect", models["iris"]).stdout


def test_unseen_category_is_all_zeros_as_unknown_ignore(models, tmp_path):
    model, out = models["houses_categorical"], tmp_path / "m.onnx"
    invoke("export", model, "-o", out)
    header = ["size_sqm", "bedrooms", "age_years", "neighbourhood"]
    body = [["100", "99", "10", "nowhere"]]
    got = run_onnx(out, header, body)
    text = ",".join(header) + "\n" + ",".join(body[0]) + "\n"
    expected = rows(invoke("predict", model, "-", "--unknown", "ignore", input=text).stdout)[1]
    np.testing.assert_allclose(got["price"][:, 0], [float(expected[0][0])], rtol=1e-5)


def test_opset_option(models, tmp_path):
    out = tmp_path / "m.onnx"
    assert invoke("export", models["iris"], "-o", out, "--opset", "13").exit_code == 0
    assert {o.domain: o.version for o in onnx.load(str(out)).opset_import} == {"": 13, "ai.onnx.ml": 3}
    result = invoke("export", models["iris"], "-o", out, "--opset", "9")
    assert result.exit_code == 2 and "--opset 9: nncli exports opsets 13 to" in result.stderr
    result = invoke("export", models["iris"], "-o", tmp_path / "m.py", "-f", "python", "--opset", "13")
    assert result.exit_code == 2 and "--opset is for --format onnx only" in result.stderr


def test_without_onnx_one_line_says_how_to_install(models, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    result = invoke("export", models["iris"], "-o", tmp_path / "m.onnx")
    assert result.exit_code == 2
    assert result.stderr == ("error: exporting to ONNX needs the onnx package; install it with: "
                             "pip install 'nncli[onnx]'\n")
    assert not (tmp_path / "m.onnx").exists()


# --- the steps with a plan built by hand: imputation, indicators, clipping, log1p target ---
def test_every_step_agrees_between_onnx_python_and_numpy(models, tmp_path):
    """The houses model with its plan changed: size_sqm imputed, scaled and clipped, age_years
    replaced by its missing indicator, the output expm1'd; ONNX and Python give the formulas."""
    from nncli.export.onnx_graph import build_graph
    from nncli.export.plan import Step, build_plan
    from nncli.export.python_file import plan_source
    from nncli.io.modelfile import load_model

    plan = build_plan(load_model(models["houses_categorical"]))
    size, bedrooms, age, hood = plan.columns
    assert [c.name for c in plan.columns] == ["size_sqm", "bedrooms", "age_years", "neighbourhood"]
    scale = size.branches[0][0]
    columns = [replace(size, imputed=True, branches=[[Step("impute", {"value": 120.0}), scale,
                                                      Step("clip", {"c": 0.5})]]),
               bedrooms, replace(age, imputed=True, branches=[[Step("indicator")]]), hood]
    # A log1p target: unscaled to log units (small, so that expm1 stays finite), then expm1'd.
    plan = replace(plan, columns=columns, output_steps=[Step("unscale", {"center": [1.0], "scale": [0.01]}),
                                                        Step("expm1")])

    onnx_path, script = tmp_path / "m.onnx", tmp_path / "m.py"
    onnx_path.write_bytes(build_graph(plan, 17, onnx).SerializeToString())
    script.write_text(plan_source(plan))
    header = ["size_sqm", "bedrooms", "age_years", "neighbourhood"]
    body = [["nan", "2", "nan", "rural"], ["80", "3", "10", "centre"], ["300", "1", "nan", "suburb"]]
    got = run_onnx(onnx_path, header, body)["price"][:, 0]

    namespace = {"__name__": "standalone"}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    python = namespace["predict_columns"]({h: [r[j] for r in body] for j, h in enumerate(header)})["price"]

    x = np.array([120.0, 80, 300])
    z = (x - scale.params["center"][0]) / scale.params["scale"][0]
    clipped = z / np.sqrt(1 + (z / 0.5) ** 2)
    X = np.column_stack([clipped, [[b == c for c in bedrooms.branches[0][0].params["categories"]] for b in "231"],
                         [1.0, 0.0, 1.0], [[h == c for c in hood.branches[0][0].params["categories"]]
                                           for h in ("rural", "centre", "suburb")]]).astype(np.float32)
    for layer in plan.layers:
        Z = X @ layer["W"] + layer["b"]
        X = np.where(Z > 0, Z, Z * layer["alpha"]) if layer["activation"] == "leaky_relu" else Z
    unscale = plan.output_steps[0].params
    expected = np.expm1(X[:, 0] * unscale["scale"][0] + unscale["center"][0])
    np.testing.assert_allclose(python, expected, rtol=1e-6)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


# --- version-2 preprocessing from the model file: scaling, clip, impute, indicators, log1p ---
def with_blanks(path, every, seed):
    """house_prices.csv with cells blanked at random (about one in ``every`` per column in
    ``every``: {column: n}); returns the path."""
    header, body = read_dataset("house_prices.csv")
    rng = np.random.default_rng(seed)
    for column, n in every.items():
        j = header.index(column)
        for row in body:
            if rng.integers(n) == 0:
                row[j] = ""
    return write_rows(path, header, body)


def v2_model(folder, kind):
    """(model, rows to predict) of one kind of version-2 preprocessing, on house_prices.csv."""
    houses = DATASETS / "house_prices.csv"
    hidden = [{"units": 8, "activation": "tanh"}]
    classifier = hidden + [{"units": 3, "activation": "softmax"}]
    regressor = hidden + [{"units": 1, "activation": "linear"}]
    if kind == "robust_clip":
        model = train_model(folder, kind, houses, "neighbourhood", classifier, "cross_entropy", epochs=4,
                            categorical=["bedrooms"], scaling="robust", clip=True)
        return model, houses
    if kind == "impute_indicator":  # missing numbers and categories in training and in the rows predicted
        data = with_blanks(folder / "train_missing.csv", {"size_sqm": 6, "bedrooms": 8}, seed=1)
        model = train_model(folder, kind, data, "neighbourhood", classifier, "cross_entropy", epochs=4,
                            categorical=["bedrooms"], missing="impute", missing_indicator=True, impute="mean")
        # age_years and price had no missing value in training: imputed, without an indicator.
        rows_ = with_blanks(folder / "predict_missing.csv",
                            {"size_sqm": 5, "bedrooms": 5, "age_years": 7, "price": 9}, seed=2)
        return model, rows_
    if kind == "log1p":
        data = with_blanks(folder / "train_missing_hood.csv", {"neighbourhood": 7, "age_years": 9}, seed=3)
        model = train_model(folder, kind, data, "price", regressor, "mse", epochs=4, target_transform="log1p",
                            missing="impute", missing_indicator=True, impute="most_frequent", clip=2.5)
        rows_ = with_blanks(folder / "predict_missing_hood.csv",
                            {"neighbourhood": 4, "age_years": 6, "size_sqm": 8}, seed=4)
        return model, rows_
    raise ValueError(kind)


V2_KINDS = ["robust_clip", "impute_indicator", "log1p"]


@pytest.fixture(scope="module")
def v2_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export_v2")
    return {kind: v2_model(folder, kind) for kind in V2_KINDS}


def compare_onnx_with_predict(model, data, tmp_path):
    """Export ``model`` to ONNX, run it on the raw rows of ``data`` and check it against
    nncli predict; returns the largest difference per output (relative for a regression)."""
    meta, _ = data_of(model)
    out = tmp_path / "model.onnx"
    result = invoke("export", model, "-o", out)
    assert result.exit_code == 0, result.stderr
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    header, body = read_dataset(data)
    got = run_onnx(out, header, body)
    predicted = invoke("predict", model, data)
    assert predicted.exit_code == 0, predicted.stderr
    names, expected = rows(predicted.stdout)
    assert list(got) == names and len(expected) == len(body)
    differences = {}
    for j, column in enumerate(names):
        want, have = [row[j] for row in expected], got[column][:, 0]
        if j == 0 and meta["task"] != "regression":
            assert have.tolist() == want  # identical labels
            continue
        want = np.array(want, float)
        if j == 0:
            differences[column] = float(np.max(np.abs(have - want) / np.abs(want)))
            np.testing.assert_allclose(have, want, rtol=1e-5, atol=0)
        else:
            differences[column] = float(np.max(np.abs(have - want)))
            np.testing.assert_allclose(have, want, rtol=0, atol=1e-5)
    return differences


@pytest.mark.parametrize("kind", V2_KINDS)
def test_onnx_of_version_2_preprocessing_gives_predicts_numbers(v2_models, kind, tmp_path):
    model, data = v2_models[kind]
    if kind != "robust_clip":
        assert "" in {v for row in read_dataset(data)[1] for v in row}  # missing values reach the graph
    compare_onnx_with_predict(model, data, tmp_path)


@pytest.mark.parametrize("kind", V2_KINDS)
def test_python_file_of_version_2_preprocessing_prints_predicts_digits(v2_models, kind, tmp_path):
    model, data = v2_models[kind]
    script = tmp_path / "predict_model.py"
    assert invoke("export", model, "--format", "python", "-o", script).exit_code == 0
    done = subprocess.run([sys.executable, "-I", str(script), str(data)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == invoke("predict", model, data).stdout


def test_plan_of_version_2_holds_every_step(v2_models):
    from nncli.export.plan import build_plan
    from nncli.io.modelfile import load_model

    ops = lambda column: [[s.op for s in branch] for branch in column.branches]  # noqa: E731
    plan = build_plan(load_model(v2_models["impute_indicator"][0]))
    by_name = {c.name: c for c in plan.columns}
    assert ops(by_name["size_sqm"]) == [["impute", "scale"], ["indicator"]]
    assert ops(by_name["bedrooms"]) == [["impute", "one_hot"], ["indicator"]]
    assert ops(by_name["age_years"]) == [["impute", "scale"]] and by_name["age_years"].imputed
    plan = build_plan(load_model(v2_models["log1p"][0]))
    by_name = {c.name: c for c in plan.columns}
    assert ops(by_name["size_sqm"]) == [["impute", "scale", "clip"]]
    assert ops(by_name["neighbourhood"]) == [["impute", "one_hot"], ["indicator"]]
    assert by_name["neighbourhood"].branches[0][0].params["value"] in ("centre", "rural", "suburb")
    assert [s.op for s in plan.output_steps] == ["unscale", "expm1"]
    plan = build_plan(load_model(v2_models["robust_clip"][0]))
    assert [ops(c) for c in plan.columns][0] == [["scale", "clip"]]
    assert not any(c.imputed for c in plan.columns)


def test_missing_category_in_the_graph_is_the_imputed_one(v2_models, tmp_path):
    """"" in a string input is a missing value: with impute, the imputed category (and its
    indicator 1), exactly as predict with an empty cell."""
    model, _ = v2_models["log1p"]
    out = tmp_path / "m.onnx"
    invoke("export", model, "-o", out)
    header = ["size_sqm", "bedrooms", "age_years", "neighbourhood"]
    body = [["100", "3", "10", ""], ["", "2", "", "rural"], ["90", "1", "5", "centre"]]
    got = run_onnx(out, header, body)["price"][:, 0]
    text = "\n".join(",".join(row) for row in [header] + body) + "\n"
    expected = np.array([float(r[0]) for r in rows(invoke("predict", model, "-", input=text).stdout)[1]])
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_inspect_shows_how_missing_values_reach_the_graph(v2_models):
    info = json.loads(invoke("inspect", v2_models["log1p"][0], "--json").stdout)["export"]
    by_name = {i["name"]: i for i in info["inputs"]}
    assert by_name["size_sqm"]["missing"] == "NaN" and isinstance(by_name["size_sqm"]["imputed"], float)
    assert by_name["neighbourhood"]["missing"] == "" and by_name["neighbourhood"]["imputed"] in (
        "centre", "rural", "suburb")
    assert [o["name"] for o in info["outputs"]] == ["price"] and info["outputs"][0]["type"] == "double"
    text = invoke("inspect", v2_models["log1p"][0]).stdout
    assert "Missing" in text and "NaN" in text


def test_onnx_expm1_keeps_its_digits_near_zero():
    """exp(y) - 1 would lose most digits for tiny y; the graph's expm1 keeps 1e-10 relative."""
    from nncli.export.onnx_graph import OUTPUT_STEPS, _Graph
    from nncli.export.plan import Step

    g = _Graph(onnx)
    y = OUTPUT_STEPS["expm1"](g, "y", Step("expm1"))
    g.op("Identity", y, output="out")
    info = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph(g.nodes, "expm1", [info("y", onnx.TensorProto.DOUBLE, ["N"])],
                                   [info("out", onnx.TensorProto.DOUBLE, ["N"])], initializer=g.constants)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    values = np.array([-1e-7, 1e-12, 0.0, 3e-6, -9.9e-6, 1e-5, 0.5, -3.0, 20.0])
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    [got] = session.run(None, {"y": values})
    np.testing.assert_allclose(got, np.expm1(values), rtol=1e-10, atol=0)
