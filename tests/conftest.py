"""Shared fixtures: the real CLI, invoked in-process, and tiny data files."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nncli.cli import app

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "datasets"
CONFIGS = ROOT / "configs"


def run_cli(*args, input=None):
    """Run ``nncli ARGS`` in-process; the result has exit_code, stdout and stderr apart."""
    result = CliRunner().invoke(app, [str(a) for a in args], input=input)
    assert "Traceback" not in result.stdout + result.stderr
    return result


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config (text) into tmp_path and return its path."""

    def write(text, name="config.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


IRIS_CONFIG = f"""
data:
  path: {DATASETS / 'iris.csv'}
  target: species
model:
  layers:
    - {{units: 8, activation: relu}}
    - {{units: 3, activation: softmax}}
loss: cross_entropy
training:
  learning_rate: 0.05
  epochs: 5
"""


@pytest.fixture
def iris_config(write_config):
    return write_config(IRIS_CONFIG)
