"""Files can hold data only: no YAML tag or model file runs code, and nncli writes only
the files it is told to write. (Model files with pickled objects: test_modelfile.py.)"""

import shutil

import pytest

from tests.conftest import DATASETS, run_cli

CONFIG = """
data: {path: ../data/iris.csv, target: species}
model: {layers: [{units: 4, activation: relu}, {units: 3, activation: softmax}]}
loss: cross_entropy
training: {learning_rate: 0.05, epochs: 2}
"""
SHORT_SWEEP = ["--num", "2", "--epochs", "1", "--jobs", "1"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with configs/iris.yaml (data path relative to it) and data/iris.csv; cwd = a third folder."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "work").mkdir()
    shutil.copy(DATASETS / "iris.csv", tmp_path / "data" / "iris.csv")
    (tmp_path / "configs" / "iris.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path


def files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("command", ["train", "lr-sweep"])
@pytest.mark.parametrize("where", ["file", "--set"])
def test_a_python_tag_in_yaml_runs_nothing(project, command, where):
    marker = project / "pwned"
    payload = f"!!python/object/apply:os.system ['touch {marker}']"
    config = project / "configs" / "iris.yaml"
    extra = ["--set", f"training.epochs={payload}"] if where == "--set" else []
    if where == "file":
        config.write_text(CONFIG.replace("epochs: 2", f"epochs: {payload}"))
    result = run_cli(command, config, *extra, *(SHORT_SWEEP if command == "lr-sweep" else []))
    assert result.exit_code == 2
    assert "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'" \
        in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("args, written", [
    (["train", "../configs/iris.yaml"], ["work/model.npz"]),
    (["train", "../configs/iris.yaml", "-o", "m.npz", "--history", "h.csv"], ["work/h.csv", "work/m.npz"]),
    (["lr-sweep", "../configs/iris.yaml", *SHORT_SWEEP], []),
    (["lr-sweep", "../configs/iris.yaml", *SHORT_SWEEP, "--write-config", "best.yaml"], ["work/best.yaml"]),
    (["lr-sweep", "../configs/iris.yaml", "--mode", "range", "--steps", "20"], []),
], ids=["train", "train -o --history", "lr-sweep", "lr-sweep --write-config", "lr-sweep range"])
def test_only_the_named_files_are_written(project, args, written):
    """Data paths in a config are relative to the config, wherever nncli runs from; and
    nothing appears anywhere but the files named (or model.npz, train's default)."""
    before = files(project)
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    assert files(project) == sorted(before + written)


def test_predict_evaluate_inspect_write_nothing_but_the_named_output(project):
    assert run_cli("train", "../configs/iris.yaml", "-q").exit_code == 0
    before = files(project)
    data = project / "data" / "iris.csv"
    for args in (["predict", "model.npz", data], ["evaluate", "model.npz", data], ["inspect", "model.npz"]):
        assert run_cli(*args).exit_code == 0
    assert files(project) == before
    assert run_cli("predict", "model.npz", data, "-o", "p.csv").exit_code == 0
    assert files(project) == sorted(before + ["work/p.csv"])


def test_the_yaml_payload_would_run_code_if_loaded_unsafely(tmp_path):
    import yaml

    marker = tmp_path / "pwned"
    yaml.unsafe_load(f"!!python/object/apply:os.system ['touch {marker}']")
    assert marker.exists()
