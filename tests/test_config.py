"""Config loading: YAML 1.2 numbers, --set overrides, and a clear message for each mistake."""

import os

import pytest

from nncli.config import load_config, parse_yaml
from tests.conftest import DATASETS, IRIS_CONFIG


def test_yaml_12_numbers_and_words():
    assert parse_yaml("lr: 1e-3\nx: no\ny: 012\nz: .5\nw: true", "t") == {
        "lr": 0.001, "x": "no", "y": 12, "z": 0.5, "w": True}


def test_defaults_and_relative_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.csv").write_text("a,b\n1,2\n")
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(IRIS_CONFIG.replace(str(DATASETS / "iris.csv"), "sub/d.csv"))
    cfg = load_config(cfg_path)
    assert cfg.data.path == str(tmp_path / "sub" / "d.csv")
    assert (cfg.data.validation, cfg.training.batch_size, cfg.training.optimizer) == (0.2, 32, "sgd")
    assert (cfg.training.seed, cfg.training.dtype, cfg.data.missing) == (0, "float32", "error")


def test_set_overrides_beat_the_file(iris_config):
    cfg = load_config(iris_config, ["training.learning_rate=1e-2", "model.layers.0.units=4",
                                    "training.early_stopping={patience: 3}", "training.batch_size=full"])
    assert cfg.training.learning_rate == 0.01 and cfg.model.layers[0].units == 4
    assert cfg.training.early_stopping.patience == 3 and cfg.training.batch_size == "full"


def bad(text, key, value):
    """The iris config with ``key: old`` replaced by ``key: value`` (textual edit)."""
    lines = []
    for line in text.splitlines():
        if line.strip().startswith(f"{key}:"):
            line = line.split(":")[0] + f": {value}"
        lines.append(line)
    return "\n".join(lines)


CASES = [
    ("not yaml", "data: [unclosed", "not valid YAML"),
    ("empty", "", "is empty"),
    ("not a mapping", "- a\n- b", "must be a YAML mapping"),
    ("misspelt key", IRIS_CONFIG.replace("learning_rate", "learnin_rate"),
     "unknown key 'learnin_rate' in training (did you mean 'learning_rate'?)"),
    ("misspelt value", IRIS_CONFIG.replace("activation: relu", "activation: rellu"),
     "model.layers.0.activation: unknown activation 'rellu' (did you mean 'relu'?)"),
    ("misspelt loss", IRIS_CONFIG.replace("loss: cross_entropy", "loss: crossentropy"),
     "did you mean 'cross_entropy'?"),
    ("missing section", IRIS_CONFIG.replace("loss: cross_entropy", ""), "loss is required"),
    ("missing key", bad(IRIS_CONFIG, "epochs", "5").replace("  epochs: 5", ""), "training.epochs is required"),
    ("wrong type", bad(IRIS_CONFIG, "epochs", "ten"), "training.epochs"),
    ("zero epochs", bad(IRIS_CONFIG, "epochs", "0"), "training.epochs: must be greater than 0 (got 0)"),
    ("negative rate", bad(IRIS_CONFIG, "learning_rate", "-0.1"), "training.learning_rate"),
    ("zero units", IRIS_CONFIG.replace("units: 8", "units: 0"), "model.layers.0.units"),
    ("bad batch size", bad(IRIS_CONFIG, "learning_rate", "0.1\n  batch_size: half"),
     "training.batch_size: must be a positive integer or 'full'"),
    ("softmax not last", IRIS_CONFIG.replace("activation: relu", "activation: softmax"),
     "softmax is allowed only in the output"),
    ("sigmoid with cross_entropy", IRIS_CONFIG.replace("units: 3, activation: softmax", "units: 3, activation: sigmoid"),
     "cross_entropy needs a softmax output"),
    ("bce without one sigmoid", IRIS_CONFIG.replace("loss: cross_entropy", "loss: binary_cross_entropy"),
     "binary_cross_entropy needs an output layer of 1 unit with activation sigmoid"),
    ("alpha on relu", IRIS_CONFIG.replace("activation: relu", "activation: relu, alpha: 0.1"),
     "alpha applies to leaky_relu only"),
    ("python tag", "!!python/object/apply:os.system ['echo hacked']", "not valid YAML"),
    ("negative seed", bad(IRIS_CONFIG, "learning_rate", "0.1\n  seed: -1"),
     "training.seed: must be greater than or equal to 0 (got -1)"),
    ("infinite rate", bad(IRIS_CONFIG, "learning_rate", ".inf"), "training.learning_rate: must be a finite number"),
    ("nan alpha", IRIS_CONFIG.replace("activation: relu", "activation: leaky_relu, alpha: .nan"),
     "model.layers.0.alpha: must be a finite number"),
    ("feature twice", IRIS_CONFIG.replace("target: species", "target: species\n  features: [a, b, a]"),
     "data.features: column 'a' is listed twice; remove one"),
    ("target as a feature", IRIS_CONFIG.replace("target: species", "target: species\n  categorical: [species]"),
     "the target 'species' is also in data.categorical; remove it from there"),
    ("duplicate key", IRIS_CONFIG + "loss: mse\n",
     "not valid YAML (line 13, column 1): key 'loss' appears twice (first on line 9); remove one"),
]
# lr-sweep reads its config as train does; these options would make a sweep short.
COMMANDS = {"train": [], "lr-sweep": ["--num", "2", "--epochs", "1", "--jobs", "1"]}


def run(cli, command, config, tmp_path, *extra):
    output = ["-o", tmp_path / "m.npz"] if command == "train" else ["--write-config", tmp_path / "best.yaml"]
    return cli(command, config, *output, *COMMANDS[command], *extra)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name,text,message", CASES, ids=[c[0] for c in CASES])
def test_bad_config_exits_2_with_message(cli, write_config, tmp_path, name, text, message, command):
    result = run(cli, command, write_config(text), tmp_path)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]  # nothing written


@pytest.mark.parametrize("command", COMMANDS)
def test_a_network_too_large_for_memory_is_bad_input(cli, write_config, tmp_path, command):
    """Found when the weights are allocated (after the sweep's progress title), not a crash."""
    result = run(cli, command, write_config(IRIS_CONFIG.replace("units: 8", "units: 1000000000000000")), tmp_path)
    assert result.exit_code == 2
    assert "error: not enough memory (Unable to allocate " in result.stderr  # numpy's words, then the size
    assert "use smaller layers or batches" in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("make, message", [
    (lambda folder: folder / "nope.yaml", "config file {} does not exist; check the path"),
    (lambda folder: folder, "config file {} is a directory; give the path of a YAML file"),
    (lambda folder: folder / "latin1.yaml",
     "config file {} is not UTF-8 text (bad byte at offset 5); save it as UTF-8"),
], ids=["missing", "directory", "not UTF-8"])
def test_unusable_config_file(cli, tmp_path, command, make, message):
    (tmp_path / "latin1.yaml").write_bytes(b"# caf\xe9\n" + IRIS_CONFIG.encode())
    path = make(tmp_path)
    result = run(cli, command, path, tmp_path)
    assert result.exit_code == 2 and message.format(path) in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file whatever its mode")
@pytest.mark.parametrize("command", COMMANDS)
def test_unreadable_config_file(cli, iris_config, tmp_path, command):
    iris_config.chmod(0)
    result = run(cli, command, iris_config, tmp_path)
    assert result.exit_code == 2
    assert f"cannot read config file {iris_config}: Permission denied" in result.stderr


def test_output_layer_must_fit_the_classes(cli, write_config, tmp_path):
    result = cli("train", write_config(IRIS_CONFIG.replace("units: 3", "units: 4")), "-o", tmp_path / "m.npz")
    assert result.exit_code == 2
    assert "model.layers.1.units is 4, but target 'species' has 3 classes" in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("assignment,message", [
    ("training.learnin_rate=0.1", "no such key 'training.learnin_rate' (did you mean 'learning_rate'?)"),
    ("model.layers.5.units=3", "'5' is not an index of model.layers"),
    ("training", "expected KEY=VALUE"),
    ("training.epochs=[1", "not valid YAML"),
    ("training.epochs=0", "training.epochs: must be greater than 0 (got 0)"),
    ("loss=crossentropy", "did you mean 'cross_entropy'?"),
])
def test_bad_set_exits_2(cli, iris_config, tmp_path, assignment, message, command):
    result = run(cli, command, iris_config, tmp_path, "--set", assignment)
    assert result.exit_code == 2
    assert message in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("assignment,message", [
    ("training.epochs=100x", "--set training.epochs: expected an integer, got '100x'"),
    ("training.learning_rate=abc", "--set training.learning_rate: expected a number, got 'abc'"),
    ("data.standardize=maybe", "--set data.standardize: expected true or false, got 'maybe'"),
])
def test_a_bad_set_value_is_blamed_on_set_in_plain_words(cli, iris_config, tmp_path, assignment, message, command):
    result = run(cli, command, iris_config, tmp_path, "--set", assignment)
    assert result.exit_code == 2
    assert result.stderr == f"error: {message}\n"  # not the config file's fault, no pydantic wording


def test_a_misspelt_required_key_is_one_problem(cli, write_config, tmp_path):
    path = write_config(IRIS_CONFIG.replace("learning_rate", "learnin_rate"))
    result = run(cli, "train", path, tmp_path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: unknown key 'learnin_rate' in training "
                                    "(did you mean 'learning_rate'?)")
    assert "is required" not in result.stderr and result.stderr.count("\n") == 1


def test_problems_from_the_file_and_from_set_are_told_apart(cli, write_config, tmp_path):
    path = write_config(IRIS_CONFIG.replace("epochs: 5", "epochs: ten"))
    result = run(cli, "train", path, tmp_path, "--set", "training.learning_rate=abc")
    assert result.exit_code == 2
    assert f"  - {path}: training.epochs: expected an integer, got 'ten'" in result.stderr
    assert "  - --set training.learning_rate: expected a number, got 'abc'" in result.stderr
