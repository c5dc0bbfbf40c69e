"""nncli export: the ONNX graph (run with ONNX Runtime) and the standalone Python file give
predict's numbers on the raw rows, for every shipped config and for categorical inputs."""

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from tests.conftest import CONFIGS
from tests.predict_helpers import DATASETS, invoke, read_dataset, rows, train_model

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
    """Run an exported graph on raw CSV rows (strings): numbers parsed, text as is."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    for item in session.get_inputs():
        values = [row[header.index(item.name)] for row in body]
        if item.type == "tensor(string)":
            feeds[item.name] = np.array(values, dtype=object).reshape(-1, 1)
        else:
            dtype = np.float32 if item.type == "tensor(float)" else np.float64
            feeds[item.name] = np.array([float(v) for v in values], dtype).reshape(-1, 1)
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


# --- the steps the model file does not use yet (imputation, indicators, clipping, log1p target) ---
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
