"""The workflow around train: init, check, schema, completion, plot, run folders and runs."""

import csv
import hashlib
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import CONFIGS, DATASETS, ROOT, run_cli
from nncli.config import parse_yaml

# dataset -> (target, task, validation metric, floor the init config reaches as it is)
# The recipe nncli init writes, on each shipped dataset: floors a little below what it reaches
# (iris 0.967, wine 1.0, digits 0.989, breast_cancer 0.982, diabetes R² 0.407, house_prices R² 0.947).
SHIPPED = {
    "iris": ("species", "multiclass", "val_accuracy", 0.93),
    "wine": ("cultivar", "multiclass", "val_accuracy", 0.97),
    "digits": ("digit", "multiclass", "val_accuracy", 0.97),
    "breast_cancer": ("diagnosis", "binary", "val_accuracy", 0.96),
    "diabetes": ("progression", "regression", "val_r2", 0.35),
    "house_prices": ("price", "regression", "val_r2", 0.92),
}
LOSS_OF = {"multiclass": "cross_entropy", "binary": "binary_cross_entropy", "regression": "mse"}


@pytest.fixture
def messy_csv(tmp_path):
    """A row-index column, an ID text column, a text category and missing values."""
    rng = np.random.default_rng(0)
    path = tmp_path / "customers.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "customer_id", "age", "income", "plan", "churned"])
        for i in range(300):
            age, income = rng.integers(18, 80), rng.normal(50, 15)
            plan = ["basic", "plus", "pro"][i % 3]
            churned = "yes" if income + rng.normal(0, 5) < 45 else "no"
            w.writerow([i, f"C{100000 + 7 * i}", "" if i % 37 == 5 else age,
                        "" if i % 41 == 3 else round(income, 2), plan, churned])
    return path


# --- init -> check -> train -> predict --------------------------------------------------
def _through_the_workflow(tmp_path, data, target):
    config = tmp_path / "config.yaml"
    assert run_cli("init", data, "--target", target, "-o", config).exit_code == 0
    checked = run_cli("check", config, "--json")
    assert checked.exit_code == 0, checked.stderr
    trained = run_cli("train", config, "-o", tmp_path / "m.npz", "--json", "--quiet")
    assert trained.exit_code == 0, trained.stderr
    return config, json.loads(checked.stdout), json.loads(trained.stdout)


@pytest.mark.parametrize("name", SHIPPED)
def test_init_check_train_predict_on_every_shipped_dataset(tmp_path, name):
    target, task, metric, floor = SHIPPED[name]
    data = DATASETS / f"{name}.csv"
    config, report, summary = _through_the_workflow(tmp_path, data, target)
    text = config.read_text()
    assert f"loss: {LOSS_OF[task]}" in text and "exclude" not in text and "missing now" not in text
    assert report["data"]["task"] == task and report["valid"]
    assert summary[metric] >= floor, summary  # trains well as it is
    predicted = run_cli("predict", tmp_path / "m.npz", data)
    assert predicted.exit_code == 0, predicted.stderr
    assert len(predicted.stdout.splitlines()) == report["data"]["rows"] + 1


def test_init_excludes_identifiers_and_notes_missing_values(tmp_path, messy_csv):
    config, report, summary = _through_the_workflow(tmp_path, messy_csv, "churned")
    text = config.read_text()
    assert "exclude:" in text
    assert "- row   # looks like a row index (0..299)" in text
    assert "- customer_id   # looks like text with a distinct value in 300 of 300 rows" in text
    assert "missing: impute" in text and "missing now: age (8), income (8)" in text
    assert "loss: binary_cross_entropy" in text and "units: 1, activation: sigmoid" in text
    used = [c["name"] for c in report["data"]["columns"]]
    assert used == ["age", "income", "plan"]
    assert report["data"]["missing"] == {"age": 8, "income": 8}
    assert report["data"]["rows"] == 300 and report["data"]["rows_used"] == 300  # imputed, not dropped
    assert summary["val_accuracy"] > 0.8
    predicted = run_cli("predict", tmp_path / "m.npz", messy_csv)  # imputes: one row per input row
    assert predicted.exit_code == 0, predicted.stderr
    assert len(predicted.stdout.splitlines()) == 301 and "imputed 16 missing value(s)" in predicted.stderr


def test_init_refuses_to_overwrite_without_force_and_writes_to_stdout(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("mine\n")
    args = ["init", DATASETS / "iris.csv", "--target", "species", "-o", config]
    refused = run_cli(*args)
    assert refused.exit_code == 2 and "already exists; give --force" in refused.stderr
    assert config.read_text() == "mine\n"
    assert run_cli(*args, "--force").exit_code == 0 and "target: species" in config.read_text()
    out = run_cli("init", DATASETS / "iris.csv", "--target", "species", "-o", "-")
    assert out.exit_code == 0 and out.stdout.startswith("# Written by nncli init")
    assert parse_yaml(out.stdout, "stdout")["loss"] == "cross_entropy"


def test_init_recipe_is_one_function():
    from nncli.commands.init import recipe

    r = recipe("multiclass", n_rows=150, n_features=4, n_classes=3)
    assert r["model"]["layers"][-1] == {"units": 3, "activation": "softmax"}
    assert r["model"]["layers"][0]["activation"] == "relu" and r["training"]["optimizer"] == "adam"
    assert r["training"]["early_stopping"]["patience"] > 0


# --- data.exclude -----------------------------------------------------------------------
def test_exclude_leaves_columns_out(tmp_path, write_config):
    config = write_config(f"""
data: {{path: {DATASETS / 'iris.csv'}, target: species, exclude: [sepal_width]}}
model: {{layers: [{{units: 3, activation: softmax}}]}}
loss: cross_entropy
training: {{learning_rate: 0.1, epochs: 1}}
""")
    report = json.loads(run_cli("check", config, "--json").stdout)
    assert [c["name"] for c in report["data"]["columns"]] == ["sepal_length", "petal_length", "petal_width"]
    bad = run_cli("check", config, "--set", "data.exclude=[sepal_widht]")
    assert bad.exit_code == 2 and "excluded column 'sepal_widht' not found (did you mean 'sepal_width'?)" in bad.stderr
    both = run_cli("train", config, "--set", "data.features=[petal_length]")
    assert both.exit_code == 2 and "data.features and data.exclude are both given" in both.stderr


# --- check ------------------------------------------------------------------------------
def test_check_shows_sources_data_and_network(tmp_path):
    out = run_cli("check", CONFIGS / "iris.yaml", "--set", "training.epochs=7", "--json")
    assert out.exit_code == 0, out.stderr
    report = json.loads(out.stdout)
    config = report["config"]
    assert config["training.epochs"] == {"value": 7, "source": "--set"}
    assert config["training.learning_rate"]["source"] == "file"
    assert config["training.optimizer"] == {"value": "sgd", "source": "default"}
    assert report["data"]["classes"] == {"setosa": 50, "versicolor": 50, "virginica": 50}
    assert report["data"]["train_rows"] == 120 and report["data"]["validation_rows"] == 30
    assert report["network"]["parameters"] == (4 + 1) * 16 + (16 + 1) * 3
    assert report["network"]["layers"][0]["W"] == [4, 16]
    table = run_cli("check", CONFIGS / "iris.yaml")
    assert table.exit_code == 0 and "is valid" in table.stdout and "default" in table.stdout


def test_check_warns_about_risky_choices(tmp_path, messy_csv, write_config):
    deep = "\n".join(["    - {units: 8, activation: sigmoid}"] * 3)
    config = write_config(f"""
data: {{path: {messy_csv}, target: churned, missing: drop, standardize: false, validation: 0.1}}
model:
  layers:
{deep}
    - {{units: 1, activation: sigmoid}}
loss: binary_cross_entropy
training: {{learning_rate: 50, epochs: 1, batch_size: 1000}}
""")
    out = run_cli("check", config, "--json")
    assert out.exit_code == 0, out.stderr
    warnings = "\n".join(json.loads(out.stdout)["warnings"])
    for expected in ("sigmoid/tanh in a network of 3 hidden layers",
                     "far outside the usual range for sgd", "batch_size 1000 is larger",
                     "feature 'row' looks like a row index", "feature 'customer_id' looks like text",
                     "validation rows (fewer than 50)"):
        assert expected in warnings
    regression = run_cli("check", CONFIGS / "linear_regression.yaml", "--set", "data.standardize_target=false")
    assert "data.standardize_target is false" in regression.stderr
    scales = run_cli("check", CONFIGS / "logistic_regression.yaml", "--set", "data.standardize=false")
    assert "data.standardize is false, but the features' scales differ" in scales.stderr
    assert run_cli("check", CONFIGS / "logistic_regression.yaml").stderr == ""


@pytest.mark.parametrize("override, message", [
    ("training.learnin_rate=1", "did you mean 'learning_rate'?"),
    ("model.layers.1.units=5", "model.layers.1.units is 5, but target 'species' has 3 classes"),
    ("data.target=specis", "target column 'specis' not found (did you mean 'species'?)"),
])
def test_check_fails_with_the_message_train_gives(override, message):
    checked = run_cli("check", CONFIGS / "iris.yaml", "--set", override)
    trained = run_cli("train", CONFIGS / "iris.yaml", "--set", override, "-o", os.devnull)
    assert checked.exit_code == trained.exit_code == 2
    assert message in checked.stderr and checked.stderr == trained.stderr


# --- schema -----------------------------------------------------------------------------
def test_committed_schema_is_current():
    out = run_cli("schema")
    committed = (ROOT / "nncli.schema.json").read_text()
    assert out.stdout == committed, "regenerate it: nncli schema > nncli.schema.json"


def test_schema_validates_shipped_configs_and_rejects_a_misspelt_key():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "nncli.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in sorted(CONFIGS.glob("*.yaml")):
        assert path.read_text().startswith("# yaml-language-server: $schema=../nncli.schema.json\n")
        jsonschema.validate(parse_yaml(path.read_text(), str(path)), schema)
    config = parse_yaml((CONFIGS / "iris.yaml").read_text(), "iris")
    config["training"]["learnin_rate"] = 0.1
    with pytest.raises(jsonschema.ValidationError, match="learnin_rate"):
        jsonschema.validate(config, schema)
    config = parse_yaml((CONFIGS / "iris.yaml").read_text(), "iris")
    config["model"]["layers"][0]["activation"] = "rellu"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, schema)


def test_schema_describes_every_key_and_lists_choices():
    schema = json.loads(run_cli("schema").stdout)
    models = [schema] + list(schema["$defs"].values())
    for model in models:
        for key, prop in model["properties"].items():
            assert prop.get("description"), key
    layer = schema["$defs"]["LayerConfig"]["properties"]
    assert "leaky_relu" in layer["activation"]["enum"]
    training = schema["$defs"]["TrainingConfig"]["properties"]
    assert training["optimizer"]["enum"] == ["sgd", "momentum", "adam"]
    assert training["dtype"]["enum"] == ["float32", "float64"]
    name, mapping = schema["properties"]["loss"]["anyOf"]  # loss: NAME or {name, label_smoothing}
    assert set(name["enum"]) == {"mse", "binary_cross_entropy", "cross_entropy"}
    assert set(mapping["properties"]) == {"name", "label_smoothing"}


# --- shell completion -------------------------------------------------------------------
def _complete(words, cword):
    env = dict(os.environ, _NNCLI_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword))
    return subprocess.run([sys.executable, "-m", "nncli"], env=env, capture_output=True, text=True).stdout.split()


def test_completion_of_commands_options_and_choices():
    assert {"init", "check", "train", "plot", "runs", "schema"} <= set(_complete("nncli ", 1))
    assert "--run-dir" in _complete("nncli train c.yaml --", 3)
    assert _complete("nncli lr-sweep c.yaml --mode ", 4) == ["grid", "range", "halving"]
    assert "best_val_loss" in _complete("nncli runs --sort ", 3)
    out = run_cli("--show-completion", "bash")
    assert out.exit_code == 0 and "complete" in out.stdout


# --- plot -------------------------------------------------------------------------------
def _history(path, losses):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "train_loss", "val_loss", "val_accuracy", "seconds"])
        for epoch, (train, val) in enumerate(losses, start=1):
            w.writerow([epoch, train, val, 0.5 + epoch / 100, 0.01])
    return path


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_in_the_terminal_compares_runs(tmp_path):
    a = _history(tmp_path / "a.csv", [(1.0 / e, 1.2 / e) for e in range(1, 21)])
    b = _history(tmp_path / "b.csv", [(2.0 / e, 2.2 / e) for e in range(1, 31)])
    out = run_cli("plot", a, b)
    assert out.exit_code == 0, out.stderr
    assert "loss (log scale)" in out.stdout and "a train" in out.stdout and "b validation" in out.stdout
    metric = run_cli("plot", a, "--metric", "accuracy", "--linear")
    assert metric.exit_code == 0 and "accuracy" in metric.stdout and "log scale" not in metric.stdout
    unknown = run_cli("plot", a, "--metric", "rmse")
    assert unknown.exit_code == 2 and "choose one of: accuracy, loss" in unknown.stderr


def test_plot_a_sweep_marks_diverged_runs(tmp_path):
    sweep = {"runs": [{"learning_rate": lr, "train_loss": 1 / (1 + 10 * lr), "val_loss": 1 / (1 + 10 * lr),
                       "best_epoch": 5, "diverged": False} for lr in (0.001, 0.01, 0.1)]
             + [{"learning_rate": 1.0, "train_loss": None, "val_loss": None, "best_epoch": 1, "diverged": True}],
             "best": {"learning_rate": 0.1, "val_loss": 0.5}, "judged_on": "val_loss"}
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(sweep))
    out = run_cli("plot", path)
    assert out.exit_code == 0 and "learning rate (log scale)" in out.stdout and "diverged" in out.stdout
    image = run_cli("plot", path, "-o", tmp_path / "s.png", "--size", "300x200")
    assert image.exit_code == 0, image.stderr
    assert _png_size(tmp_path / "s.png") == (300, 200)


def test_plot_writes_png_of_the_stated_size_and_svg(tmp_path):
    pytest.importorskip("matplotlib")
    a = _history(tmp_path / "a.csv", [(1.0 / e, 1.2 / e) for e in range(1, 11)])
    out = run_cli("plot", a, "-o", tmp_path / "x.png", "--size", "320x240")
    assert out.exit_code == 0, out.stderr
    assert _png_size(tmp_path / "x.png") == (320, 240)
    assert run_cli("plot", a, "-o", tmp_path / "x.svg", "--size", "320x240").exit_code == 0
    svg = (tmp_path / "x.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg and 'width="230.4pt"' in svg  # 320 px at 100 dpi
    bad = run_cli("plot", a, "-o", tmp_path / "x.jpg")
    assert bad.exit_code == 2 and "end it in .png or .svg" in bad.stderr


def test_plot_without_matplotlib_says_how_to_get_it(tmp_path, monkeypatch):
    a = _history(tmp_path / "a.csv", [(1.0, 1.0), (0.5, 0.6)])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    out = run_cli("plot", a, "-o", tmp_path / "x.png")
    assert out.exit_code == 2
    assert out.stderr == ("error: writing an image needs matplotlib, which is not installed: "
                          "pip install 'nncli[plot]'\n")
    assert not (tmp_path / "x.png").exists()


# --- run folders ------------------------------------------------------------------------
def test_run_folders_are_never_shared_and_repeat_bit_for_bit(tmp_path, iris_config):
    from nncli.io.runs import make_run_dir, utc_now

    now = utc_now()
    assert make_run_dir(tmp_path / "r", "c.yaml", now) != make_run_dir(tmp_path / "r", "c.yaml", now)

    runs = tmp_path / "runs"
    for _ in range(2):
        out = run_cli("train", iris_config, "--run-dir", runs, "--set", "training.seed=3", "--quiet")
        assert out.exit_code == 0, out.stderr
    folders = sorted(runs.iterdir())
    assert len(folders) == 2 and folders[0] != folders[1]
    for folder in folders:
        assert {p.name for p in folder.iterdir()} >= {"config.yaml", "model.npz", "history.csv", "summary.json"}
    first = folders[0]
    summary = json.loads((first / "summary.json").read_text())
    assert summary["command_line"] == ["nncli", "train", str(iris_config), "--run-dir", str(runs),
                                       "--set", "training.seed=3", "--quiet"]
    iris = DATASETS / "iris.csv"
    assert summary["data_files"] == [{"path": str(iris), "bytes": iris.stat().st_size,
                                      "sha256": hashlib.sha256(iris.read_bytes()).hexdigest()}]
    assert summary["nncli_version"] and summary["status"] == "completed"
    assert "seed: 3" in (first / "config.yaml").read_text()

    again = run_cli("train", first / "config.yaml", "-o", tmp_path / "again.npz", "--quiet")
    assert again.exit_code == 0, again.stderr
    with np.load(first / "model.npz") as a, np.load(tmp_path / "again.npz") as b:
        weights = [k for k in a.files if k.startswith(("W", "b"))]
        assert weights and all(np.array_equal(a[k], b[k]) for k in weights)

    both = run_cli("train", iris_config, "--run-dir", runs, "-o", tmp_path / "m.npz")
    assert both.exit_code == 2 and "--run-dir keeps the model" in both.stderr


def test_runs_lists_train_and_sweep_runs_newest_first(tmp_path, iris_config):
    runs = tmp_path / "runs"
    assert run_cli("train", iris_config, "--run-dir", runs, "-q").exit_code == 0
    sweep = run_cli("lr-sweep", iris_config, "--run-dir", runs, "--num", "3", "--epochs", "3", "-j", "1", "-q")
    assert sweep.exit_code == 0, sweep.stderr
    sweep_dir = next(p for p in runs.iterdir() if (p / "sweep.json").exists())
    assert {p.name for p in sweep_dir.iterdir()} == {"config.yaml", "sweep.json", "summary.json"}
    listed = json.loads(run_cli("runs", runs, "--json").stdout)
    assert [r["command"] for r in listed] == ["lr-sweep", "train"]  # newest first
    trained = listed[1]
    assert trained["status"] == "completed" and trained["epochs"] == 5 and trained["config"] == "config.yaml"
    assert trained["best_val_loss"] <= trained["final_val_loss"] and trained["metric"] == "val_accuracy"
    by_loss = json.loads(run_cli("runs", runs, "--json", "--sort", "best_val_loss").stdout)
    assert by_loss[0]["best_val_loss"] <= by_loss[1]["best_val_loss"]
    table = run_cli("runs", runs)
    assert table.exit_code == 0 and "2 run(s)" in table.stdout
    plotted = run_cli("plot", runs / trained["run"])
    assert plotted.exit_code == 0 and "validation" in plotted.stdout
    assert run_cli("runs", tmp_path / "nothing").exit_code == 2


def test_run_dir_keeps_the_log_when_there_is_no_terminal(tmp_path, iris_config):
    runs = tmp_path / "runs"
    out = run_cli("train", iris_config, "--run-dir", runs)
    assert out.exit_code == 0, out.stderr
    (folder,) = runs.iterdir()
    log = (folder / "log.txt").read_text()
    assert "epoch 5/5" in log and "epoch 5/5" in out.stderr


# --- start-up: commands import their heavy modules only when they run ----------------------
HEAVY = ("numpy", "pandas", "rich", "pydantic", "yaml", "matplotlib")


def test_commands_load_no_heavy_module_at_import():
    code = ("import sys, nncli.cli; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize("args, allowed", [
    (["schema"], {"numpy", "pydantic", "yaml"}),
    (["runs", "{tmp}"], {"rich"}),
    (["plot", "{tmp}/h.csv"], {"rich"}),
])
def test_which_heavy_modules_a_command_imports(tmp_path, args, allowed):
    _history(tmp_path / "h.csv", [(1.0, 1.0), (0.5, 0.6)])
    args = [a.format(tmp=tmp_path) for a in args]
    code = ("import sys; from typer.testing import CliRunner; from nncli.cli import app; "
            f"r = CliRunner().invoke(app, {args!r}); assert r.exit_code == 0, r.output; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert set(eval(out.stdout.strip().splitlines()[-1])) <= allowed
