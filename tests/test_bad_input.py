"""Bad input to every command: exit code 2, one line on stderr saying what, where and how
to fix it, no traceback (run_cli checks), and no work done before the check.

Config and training-data problems are in test_config.py and test_data.py (for train and
lr-sweep), model-file problems in test_modelfile.py (for predict, evaluate and inspect),
values too large for a float32 model in test_predict.py, line numbers in test_lines.py.
"""

import os
import subprocess
import sys

import pytest

from tests.conftest import IRIS_CONFIG, ROOT
from tests.predict_helpers import DATASETS, invoke, tiny_iris_model, train_model

IRIS = DATASETS / "iris.csv"
HEADER = "sepal_length,sepal_width,petal_length,petal_width,species\n"
ROW = "5.1,3.5,1.4,0.2,setosa\n"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_iris_model(tmp_path_factory.mktemp("bad_input"))


# --- data for predict and evaluate ----------------------------------------------------
DATA_CASES = [
    # name, file content (None: no file; "dir": a directory), message part, evaluate only
    ("missing", None, "data file {} does not exist; check the path", False),
    ("directory", "dir", "data file {} is a directory, not a CSV file", False),
    ("empty", b"", "{} is empty: expected a header row of column names", False),
    ("blank lines only", b"\n\n\n", "{} is empty: expected a header row of column names", False),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "{} is not a CSV file (it holds binary data)", False),
    ("not UTF-8", (HEADER + "5.1,3.5,1.4,0.2,caf\xe9\n").encode("latin-1"), "{} is not UTF-8 text", False),
    ("duplicate column", (HEADER.replace("sepal_width", "sepal_length") + ROW).encode(),
     "{}: column 'sepal_length' appears more than once in the header; rename one of them", False),
    ("feature missing", (HEADER.replace("petal_width", "petal_wide") + ROW).encode(),
     "{}: feature column 'petal_width' not found (did you mean 'petal_wide'?)", False),
    ("target missing", (HEADER.replace(",species", "") + ROW.replace(",setosa", "")).encode(),
     "{}: target column 'species' not found", True),
    ("header only", HEADER.encode(), "{} has no rows to evaluate", True),
    ("text in a number column", (HEADER + ROW + ROW.replace("3.5", "wide")).encode(),
     "{}: column 'sepal_width' must be numeric, but line 3 holds 'wide'; fix that value, or use --missing drop",
     False),
    ("missing value", (HEADER + ROW.replace("1.4", "")).encode(),
     "{}: column 'petal_length' has a missing value on line 2; fill it in, or use --missing drop", False),
    ("infinite value", (HEADER + ROW.replace("0.2", "-inf")).encode(),
     "{}: column 'petal_width' must hold finite numbers, but line 2 holds '-inf'", False),
    ("unknown class", (HEADER + ROW.replace("setosa", "daisy")).encode(),
     "{}: target 'species' has class 'daisy' on line 2, not among the training classes", True),
    ("ragged row", (HEADER + ROW + "1,2,3,4,setosa,9\n").encode(),
     "{} could not be parsed as CSV: Expected 5 fields in line 3, saw 6; check the delimiter and the quoting", False),
]


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("name, content, message, evaluate_only", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_data_file(model, tmp_path, command, name, content, message, evaluate_only):
    data = tmp_path / "data.csv"
    if content == "dir":
        data.mkdir()
    elif content is not None:
        data.write_bytes(content)
    result = invoke(command, model, data)
    if evaluate_only and command == "predict":
        assert result.exit_code == 0, result.stderr
        return
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert message.format(data) in result.stderr


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_bad_data_on_stdin(model, command):
    result = invoke(command, model, "-", input=HEADER + ROW.replace("3.5", "wide"))
    assert result.exit_code == 2
    assert "stdin: column 'sepal_width' must be numeric, but line 2 holds 'wide'" in result.stderr
    empty = invoke(command, model, "-", input="")
    assert empty.stderr == "error: stdin is empty: expected a header row of column names\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file whatever its mode")
@pytest.mark.parametrize("command", ["predict", "evaluate", "inspect"])
def test_unreadable_files(model, tmp_path, command):
    data = tmp_path / "data.csv"
    data.write_text(HEADER + ROW)
    data.chmod(0)
    if command != "inspect":
        result = invoke(command, model, data)
        assert result.exit_code == 2 and f"cannot read data file {data}: Permission denied" in result.stderr
    unreadable = tmp_path / "m.npz"
    unreadable.write_bytes(model.read_bytes())
    unreadable.chmod(0)
    result = invoke(command, unreadable, *([IRIS] if command != "inspect" else []))
    assert result.exit_code == 2 and f"cannot read model file {unreadable}: Permission denied" in result.stderr


# --- outputs: checked before any work --------------------------------------------------
def _command(option, tmp_path, model, config):
    """The command line of ``option``, to be followed by the output path."""
    return {
        "train -o": ["train", config, "-o"],
        "train --history": ["train", config, "-o", tmp_path / "m.npz", "--history"],
        "lr-sweep --write-config": ["lr-sweep", config, "--num", "2", "--epochs", "1", "--jobs", "1",
                                    "--write-config"],
        "predict -o": ["predict", model, IRIS, "-o"],
    }[option]


BAD_OUTPUTS = [
    ("missing folder", lambda tmp: tmp / "nope" / "out",
     "cannot write {what} {path}: folder {folder} does not exist"),
    ("a directory", lambda tmp: tmp, "{what} {path} is a directory; give a file name"),
]
WHAT = {"train -o": "model file", "train --history": "history file", "lr-sweep --write-config": "config file",
        "predict -o": "output file"}


@pytest.mark.parametrize("option", WHAT)
@pytest.mark.parametrize("name, make, message", BAD_OUTPUTS, ids=[c[0] for c in BAD_OUTPUTS])
def test_bad_output_is_caught_before_any_work(model, tmp_path, write_config, option, name, make, message):
    path = make(tmp_path)
    result = invoke(*_command(option, tmp_path, model, write_config(IRIS_CONFIG)), path)
    assert result.exit_code == 2, result.stderr
    # The message alone: no progress, no warning, as nothing else was done.
    assert result.stderr == "error: " + message.format(what=WHAT[option], path=path, folder=path.parent) + "\n"
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


@pytest.mark.parametrize("option", ["train -o", "train --history", "lr-sweep --write-config"])
def test_stdout_dash_is_refused_where_the_output_is_a_file(model, tmp_path, write_config, option):
    result = invoke(*_command(option, tmp_path, model, write_config(IRIS_CONFIG)), "-")
    assert result.exit_code == 2
    assert f"{WHAT[option]} cannot go to stdout ('-'); give a file name" in result.stderr
    assert not (tmp_path / "-").exists() and not os.path.exists("-")


def test_history_and_model_cannot_be_the_same_file(cli, iris_config, tmp_path):
    result = cli("train", iris_config, "-o", tmp_path / "m.npz", "--history", tmp_path / "m.npz")
    assert result.exit_code == 2 and "--history and -o are both" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("option", WHAT)
def test_read_only_output_folder(model, tmp_path, write_config, option):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    result = invoke(*_command(option, tmp_path, model, write_config(IRIS_CONFIG)), folder / "out")
    assert result.exit_code == 2 and f"folder {folder} is not writable" in result.stderr


# --- usage errors: exit 2 with a message --------------------------------------------------
USAGE = [
    (["lr-sweep", "{config}", "--num", "0"], "--num must be at least 2 (got 0)"),
    (["lr-sweep", "{config}", "--min", "1", "--max", "0.01"], "--min (1) must be smaller than --max (0.01)"),
    (["lr-sweep", "{config}", "--min", "nan"], "--min and --max must be positive numbers (got nan and 1)"),
    (["lr-sweep", "{config}", "--max", "inf"], "--min and --max must be positive numbers"),
    (["lr-sweep", "{config}", "--jobs", "0"], "invalid value for '--jobs'"),
    (["lr-sweep", "{config}", "--epochs", "0"], "invalid value for '--epochs'"),
    (["lr-sweep", "{config}", "--mode", "range", "--steps", "0"], "--steps must be at least 10 (got 0)"),
    (["lr-sweep", "{config}", "--mode", "fast"], "invalid value for '--mode'"),
    (["lr-sweep", "{config}", "--num", "ten"], "invalid value for '--num'"),
    (["predict", "{model}", "{data}", "--chunk-size", "0"], "invalid value for '--chunk-size'"),
    (["evaluate", "{model}", "{data}", "--chunk-size", "0"], "invalid value for '--chunk-size'"),
    (["predict", "{model}", "{data}", "--missing", "skip"], "invalid value for '--missing'"),
    (["evaluate", "{model}", "{data}", "--unknown", "zero"], "invalid value for '--unknown'"),
    (["predict", "{model}", "{data}", "--id-column", "nope"], "--id-column column 'nope' not found"),
    (["train", "{config}", "--epochs", "3"], "no such option: --epochs"),
    (["train"], "give a CONFIG file"),  # CONFIG is optional with --resume
    (["predict", "{model}"], "missing argument"),
    (["fit", "{config}"], "no such command 'fit'"),
]


@pytest.mark.parametrize("args, message", USAGE, ids=[" ".join(a[:1] + a[2:]) for a, _ in USAGE])
def test_usage_errors_exit_2_with_a_message(model, iris_config, args, message):
    result = invoke(*[a.format(config=iris_config, model=model, data=IRIS) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert "lr-sweep " + str(iris_config) not in result.stderr  # no progress: nothing ran


def test_usage_error_through_the_installed_entry_point():
    proc = subprocess.run([sys.executable, "-m", "nncli", "lr-sweep", "c.yaml", "--jobs", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == ("error: invalid value for '--jobs' / '-j': 0 is not in the range x>=1 "
                           "(see 'nncli lr-sweep -h')\n")
    assert proc.stdout == ""


def test_help_and_version_are_not_errors():
    from nncli import __version__

    result = invoke("--version")
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"nncli {__version__}\n", "")
    result = invoke("-h")
    assert result.exit_code == 0 and "lr-sweep" in result.stdout and result.stderr == ""
    result = invoke()  # no command: the help, and the exit code of a usage error
    assert result.exit_code == 2 and "lr-sweep" in result.stdout


@pytest.mark.parametrize("values", [["5.03e+38"], ["1e20"] * 4, ["1e200"]], ids=["beyond float32", "sum overflows",
                                                                                  "beyond float64 squares"])
def test_evaluate_names_a_target_too_large_for_the_model(tmp_path, values):
    """Found by the fuzz test: the loss of such a target is not finite in the model's dtype."""
    data = tmp_path / "train.csv"
    data.write_text("x,y\n" + "".join(f"{i},{i % 5}\n" for i in range(20)))
    regression = train_model(tmp_path, "m", data, "y", [{"units": 1, "activation": "linear"}], "mse", epochs=1)
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,3\n" + "".join(f"1,{v}\n" for v in values))
    result = invoke("evaluate", regression, bad)
    assert result.exit_code == 2
    assert result.stderr == (f"error: {bad}: target 'y' holds {float(values[0]):g} on line 3, too far from the "
                             "training data for this float32 model (the loss is not finite); check that value\n")


# --- how errors are rendered ----------------------------------------------------------------
def test_debug_shows_the_traceback(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "nncli", "--debug", "train", tmp_path / "nope.yaml"],
                            capture_output=True, text=True)
    assert result.returncode == 2  # the traceback, and the exit code of the error
    assert "Traceback" in result.stderr
    assert f"ConfigError: config file {tmp_path / 'nope.yaml'} does not exist" in result.stderr
    assert result.stderr.endswith(f"error: config file {tmp_path / 'nope.yaml'} does not exist; check the path\n")


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
def test_bad_input_is_2_with_or_without_debug(model, tmp_path, debug):
    from typer.testing import CliRunner

    from nncli.cli import app

    result = CliRunner().invoke(app, [*debug, "predict", str(model), str(tmp_path / "missing.csv")])
    assert result.exit_code == 2
    assert ("Traceback" in result.stderr) == bool(debug) and "does not exist" in result.stderr


def test_a_bug_under_debug_shows_the_traceback_and_exits_70(iris_config, monkeypatch):
    from typer.testing import CliRunner

    from nncli.cli import app
    from nncli.commands import pipeline

    def bug(config):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(pipeline, "prepare_data", bug)
    result = CliRunner().invoke(app, ["--debug", "train", str(iris_config)])
    assert result.exit_code == 70 and "Traceback" in result.stderr and "ZeroDivisionError" in result.stderr


@pytest.mark.parametrize("command", ["train", "predict"])
def test_debug_after_the_command_says_where_it_goes(command):
    result = invoke(command, "x", "--debug")
    assert result.exit_code == 2
    assert "no such option: --debug; --debug goes before the command: " in result.stderr
    assert f" --debug {command} ..." in result.stderr  # after the program's name


def test_a_bug_is_reported_as_one_and_exits_70(iris_config, monkeypatch):
    from nncli.commands import pipeline

    def bug(config):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(pipeline, "prepare_data", bug)
    result = invoke("train", iris_config)
    assert result.exit_code == 70
    assert result.stderr == ("error: internal error: ZeroDivisionError: division by zero (this is a bug in nncli; "
                             "run again with --debug for the traceback and report it)\n")


# --- a file of another kind where one is expected -------------------------------------------
@pytest.mark.parametrize("args, message", [
    (lambda m, c: ["train", m], "{m} is a model file, not a YAML config (did you mean nncli predict {m} DATA?)"),
    (lambda m, c: ["lr-sweep", m], "{m} is a model file, not a YAML config"),
    (lambda m, c: ["train", IRIS], "{iris} looks like CSV data, not a YAML config"),
    (lambda m, c: ["predict", m, c], "{c} looks like a YAML config, not CSV data"),
    (lambda m, c: ["evaluate", m, c], "{c} looks like a YAML config, not CSV data"),
    (lambda m, c: ["predict", m, m], "{m} is a model file, not CSV data"),
    (lambda m, c: ["predict", c, IRIS], "{c} looks like a YAML config, not a model file"),
    (lambda m, c: ["inspect", IRIS], "{iris} looks like CSV data, not a model file"),
], ids=["train model", "lr-sweep model", "train csv", "predict config", "evaluate config", "predict model",
        "config as model", "csv as model"])
def test_a_file_of_another_kind_is_named_as_such(model, iris_config, args, message):
    result = invoke(*args(model, iris_config))
    assert result.exit_code == 2
    assert message.format(m=model, c=iris_config, iris=IRIS) in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
