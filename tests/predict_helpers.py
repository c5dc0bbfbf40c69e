"""Helpers shared by the predict, evaluate, inspect and model-file tests.

Models are trained through the real CLI on the shipped datasets, with few epochs.
"""

import csv
import io
from pathlib import Path

import numpy as np
import yaml

from tests.conftest import DATASETS, run_cli

__all__ = ["DATASETS", "invoke", "train_model", "tiny_iris_model", "rows", "write_rows", "read_dataset"]

invoke = run_cli  # nncli ARGS in-process; exit_code, stdout, stderr; never a traceback


def train_model(folder, name, data, target, layers, loss, epochs=15, dtype="float32", **data_options):
    """Train a model from a config written into ``folder``; returns the model path."""
    config = {
        "data": {"path": str(data), "target": target, **data_options},
        "model": {"layers": layers},
        "loss": loss,
        "training": {"learning_rate": 0.01, "epochs": epochs, "optimizer": "adam", "dtype": dtype,
                     "batch_size": 32, "seed": 1},
    }
    config_path = Path(folder) / f"{name}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    model = Path(folder) / f"{name}.npz"
    result = invoke("train", config_path, "-o", model, "--quiet")
    assert result.exit_code == 0, result.stderr
    return model



def tiny_iris_model(folder):
    """A 4-4-3 iris classifier trained for one epoch: quick, for tests of inputs, not quality."""
    return train_model(folder, "iris", DATASETS / "iris.csv", "species",
                       [{"units": 4, "activation": "relu"}, {"units": 3, "activation": "softmax"}],
                       "cross_entropy", epochs=1)


# The three commands that read a model file, and what each is given (tests of model files).
MODEL_COMMANDS = {
    "predict": lambda model: ["predict", model, DATASETS / "iris.csv"],
    "evaluate": lambda model: ["evaluate", model, DATASETS / "iris.csv"],
    "inspect": lambda model: ["inspect", model],
}


def model_arrays(path):
    """Every array of an .npz model file, by name (read with allow_pickle=False)."""
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}

def rows(text):
    """The rows of CSV text as a header list and a list of row lists."""
    table = list(csv.reader(io.StringIO(text)))
    return table[0], table[1:]


def write_rows(path, header, body):
    """Write a CSV file from a header and rows of strings; returns the path."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
    return Path(path)


def read_dataset(name):
    """(header, rows) of a shipped dataset (by name) or a CSV file (a Path), values as strings."""
    return rows((name if isinstance(name, Path) else DATASETS / name).read_text())
