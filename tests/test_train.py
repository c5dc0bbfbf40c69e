"""nncli train through the real CLI: shipped configs, model file, history, output modes."""

import json

import numpy as np
import pytest

from tests.conftest import CONFIGS

# Each shipped config and the quality it must reach with its own settings.
QUALITY = {
    "linear_regression.yaml": ("val_r2", 0.8),
    "linear_regression_multi.yaml": ("val_r2", 0.93),
    "logistic_regression.yaml": ("val_accuracy", 0.95),
    "iris.yaml": ("val_accuracy", 0.9),
    "digits.yaml": ("val_accuracy", 0.95),
    "activation_sigmoid.yaml": ("val_accuracy", 0.9),
    "activation_tanh.yaml": ("val_accuracy", 0.9),
    "activation_relu.yaml": ("val_accuracy", 0.9),
    "activation_leaky_relu.yaml": ("val_accuracy", 0.9),
    "full_batch.yaml": ("val_r2", 0.25),
    "mini_batch.yaml": ("val_r2", 0.25),
}


def test_every_shipped_config_is_checked():
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == sorted(QUALITY)


@pytest.mark.parametrize("name", sorted(QUALITY))
def test_shipped_config_trains_to_quality(cli, tmp_path, name):
    model = tmp_path / "model.npz"
    result = cli("train", CONFIGS / name, "-o", model, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    metric, floor = QUALITY[name]
    assert summary[metric] >= floor, summary
    assert summary["model"] == str(model) and model.exists()


def test_model_file_format(cli, tmp_path):
    model = tmp_path / "m.npz"
    assert cli("train", CONFIGS / "linear_regression_multi.yaml", "-o", model, "-q").exit_code == 0
    with np.load(model, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    assert meta["format"] == "nncli-model" and meta["version"] == 2
    assert meta["task"] == "regression" and meta["target"] == "price" and meta["loss"] == "mse"
    assert meta["features"] == ["size_sqm", "bedrooms", "age_years",
                                "neighbourhood=centre", "neighbourhood=rural", "neighbourhood=suburb"]
    assert meta["columns"][3] == {"name": "neighbourhood", "kind": "categorical",
                                  "categories": ["centre", "rural", "suburb"]}
    assert meta["layers"] == [{"units": 1, "activation": "linear"}]
    assert arrays["W1"].shape == (6, 1) and arrays["b1"].shape == (1,)
    # One-hot columns pass through unscaled; numeric ones are z-scored.
    assert list(arrays["x_mean"][3:]) == [0, 0, 0] and list(arrays["x_std"][3:]) == [1, 1, 1]
    assert arrays["x_std"][0] > 10 and arrays["y_std"][0] > 10
    assert set(meta["metrics"]) >= {"train_loss", "val_loss", "val_rmse", "val_mae", "val_r2"}
    assert meta["config"]["training"]["learning_rate"] == 0.1


def test_predictions_from_the_file_reproduce_the_reported_metric(cli, tmp_path):
    # Decode the file by hand (the documented forward pass) and recompute R^2 on all rows.
    import pandas as pd

    model = tmp_path / "m.npz"
    cli("train", CONFIGS / "linear_regression.yaml", "-o", model, "-q", "--set", "data.validation=0")
    with np.load(model, allow_pickle=False) as f:
        W, b, xm, xs, ym, ys = (f[k] for k in ("W1", "b1", "x_mean", "x_std", "y_mean", "y_std"))
        meta = json.loads(str(f["meta"]))
    df = pd.read_csv(CONFIGS.parent / "datasets" / "house_prices.csv")
    y_hat = (((df[["size_sqm"]].to_numpy() - xm) / xs) @ W + b) * ys + ym
    y = df["price"].to_numpy()
    r2 = 1 - ((y - y_hat[:, 0]) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert r2 == pytest.approx(meta["metrics"]["train_r2"], abs=1e-5)


def test_same_seed_gives_identical_weights(cli, tmp_path):
    paths = [tmp_path / f"{i}.npz" for i in range(3)]
    for path, seed in zip(paths, (7, 7, 8)):
        assert cli("train", CONFIGS / "iris.yaml", "-o", path, "-q", "--set", "training.epochs=20",
                   "--set", f"training.seed={seed}").exit_code == 0
    a, b, c = (np.load(p, allow_pickle=False) for p in paths)
    for key in ("W1", "b1", "W2", "b2"):
        assert np.array_equal(a[key], b[key])
    assert not np.array_equal(a["W1"], c["W1"])


def test_history_and_plain_output(cli, tmp_path):
    history = tmp_path / "h.csv"
    result = cli("train", CONFIGS / "iris.yaml", "-o", tmp_path / "m.npz", "--history", history,
                 "--set", "training.epochs=30")
    assert result.exit_code == 0 and result.stdout == ""
    assert "\x1b" not in result.stderr
    epoch_lines = [line for line in result.stderr.splitlines() if line.startswith("epoch")]
    assert 9 <= len(epoch_lines) <= 11 and epoch_lines[-1].startswith("epoch 30/30")
    assert "model saved to" in result.stderr
    rows = history.read_text().splitlines()
    assert rows[0] == "epoch,train_loss,val_loss,val_accuracy,val_balanced_accuracy,val_macro_f1,seconds"
    assert len(rows) == 31 and rows[30].startswith("30,")


def test_quiet_prints_nothing(cli, tmp_path):
    result = cli("train", CONFIGS / "iris.yaml", "-o", tmp_path / "m.npz", "-q", "--set", "training.epochs=3")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


def test_early_stopping_saves_the_best_epoch(cli, tmp_path):
    history = tmp_path / "h.csv"
    result = cli("train", CONFIGS / "iris.yaml", "-o", tmp_path / "m.npz", "--json", "--history", history,
                 "--set", "training.early_stopping={patience: 5}", "--set", "training.learning_rate=0.5",
                 "--set", "training.epochs=300")
    summary = json.loads(result.stdout)
    assert summary["status"] == "early_stopped"
    assert summary["epochs_run"] == summary["best_epoch"] + 5
    val_losses = [float(r.split(",")[2]) for r in history.read_text().splitlines()[1:]]
    assert summary["val_loss"] == pytest.approx(min(val_losses), rel=1e-6)


def test_json_summary_writes_undefined_metrics_as_null(cli, tmp_path):
    # A constant validation target leaves R^2 undefined (nan); JSON has no nan: null.
    (tmp_path / "train.csv").write_text("x,y\n" + "".join(f"{i},{i % 4}\n" for i in range(12)))
    (tmp_path / "val.csv").write_text("x,y\n1,2\n2,2\n")
    (tmp_path / "c.yaml").write_text(
        "data: {path: train.csv, target: y, validation: val.csv}\n"
        "model: {layers: [{units: 1, activation: linear}]}\nloss: mse\n"
        "training: {learning_rate: 0.1, epochs: 2}\n")
    result = cli("train", tmp_path / "c.yaml", "-o", tmp_path / "m.npz", "--json")
    assert result.exit_code == 0, result.stderr
    assert "NaN" not in result.stdout
    assert json.loads(result.stdout)["val_r2"] is None


def test_json_when_training_diverges(cli, tmp_path):
    """--json always prints the summary on stdout: a diverged run too, with exit code 1."""
    model = tmp_path / "m.npz"
    result = cli("train", CONFIGS / "linear_regression.yaml", "-o", model, "--json",
                 "--set", "training.learning_rate=1e6")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["status"] == "diverged" and summary["learning_rate"] == 1e6
    assert summary["diverged_epoch"] >= 1 and summary["epochs_run"] == summary["diverged_epoch"] - 1
    assert summary["model"] is None and not model.exists()
    assert result.stderr.startswith("error: training diverged")


def test_json_means_no_progress_on_stderr(cli, tmp_path, iris_config):
    result = cli("train", iris_config, "-o", tmp_path / "m.npz", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["status"] == "completed"
    assert result.stderr == ""
