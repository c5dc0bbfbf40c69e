"""Faults: divergence, interruption, unwritable outputs. Nothing is lost or half-written."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from nncli.modelfile import load_model
from tests.conftest import CONFIGS, ROOT


def test_divergence_exits_1_and_keeps_the_old_model(cli, tmp_path):
    model = tmp_path / "m.npz"
    model.write_bytes(b"previous good model")
    result = cli("train", CONFIGS / "linear_regression.yaml", "-o", model, "--set", "training.learning_rate=1e6")
    assert result.exit_code == 1
    assert "training diverged at epoch" in result.stderr and "Lower training.learning_rate" in result.stderr
    assert "nncli lr-sweep" in result.stderr
    assert model.read_bytes() == b"previous good model"
    assert not [p for p in tmp_path.iterdir() if p.name != "m.npz"]  # no temporary files left


def test_missing_output_folder_is_caught_before_training(cli, tmp_path):
    result = cli("train", CONFIGS / "iris.yaml", "-o", tmp_path / "nope" / "m.npz")
    assert result.exit_code == 2 and "folder" in result.stderr and "does not exist" in result.stderr
    assert "epoch" not in result.stderr


def test_output_that_is_a_directory(cli, tmp_path):
    result = cli("train", CONFIGS / "iris.yaml", "-o", tmp_path)
    assert result.exit_code == 2 and "is a directory" in result.stderr


def _start_long_training(tmp_path, model):
    cmd = [sys.executable, "-m", "nncli", "train", str(CONFIGS / "digits.yaml"), "-o", str(model),
           "--set", "training.epochs=100000", "--set", "training.early_stopping=null",
           "--history", str(tmp_path / "h.csv")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "100"})
    # Plain mode (not a terminal) prints a header line when training begins.
    line = proc.stderr.readline()
    while line and not line.startswith("training"):
        line = proc.stderr.readline()
    assert line.startswith("training"), "training never started"
    time.sleep(0.5)
    return proc


def test_sigint_saves_the_model_so_far_and_exits_130(tmp_path):
    model = tmp_path / "m.npz"
    proc = _start_long_training(tmp_path, model)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted after" in err and "saved to" in err and "Traceback" not in err
    loaded = load_model(model)
    assert loaded.meta["task"] == "multiclass"
    X = np.zeros((2, len(loaded.meta["features"])), np.float32)
    assert np.allclose(loaded.network.predict(X).sum(axis=1), 1, atol=1e-5)
    rows = (tmp_path / "h.csv").read_text().splitlines()
    assert len(rows) >= 2 and rows[0].startswith("epoch,train_loss")


def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    model = tmp_path / "m.npz"
    proc = _start_long_training(tmp_path, model)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert json.loads(str(np.load(model, allow_pickle=False)["meta"]))["format"] == "nncli-model"
