"""Start-up guards: which heavy modules each command loads (bench/overheads.py startup times them).

Loading a module is most of a short command's time: pandas ~0.3 s, pydantic and yaml
~0.1 s, numpy ~0.08 s, rich's tables ~0.03 s. Each command must load only what it uses;
a regression fails here rather than in a benchmark nobody runs.
"""

import json
import subprocess
import sys

import pytest

from tests.conftest import CONFIGS, DATASETS, ROOT

# pyarrow is not listed: pandas 3 loads it itself, when installed, for its string columns.
HEAVY = ("numpy", "pandas", "yaml", "pydantic", "rich", "threadpoolctl", "scipy", "matplotlib", "onnx",
         "onnxruntime")

# Runs the real entry point, then prints the heavy top-level modules it loaded.
PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(%r))),
                              file=sys.stderr))
from nncli.__main__ import main
sys.argv = ['nncli'] + %r
main()
"""


def loaded(*args):
    done = subprocess.run([sys.executable, "-c", PROBE % (HEAVY, [str(a) for a in args])],
                          capture_output=True, text=True, timeout=120)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "iris.npz"
    done = subprocess.run([sys.executable, "-m", "nncli", "train", str(CONFIGS / "iris.yaml"), "-o", str(path),
                           "--quiet", "--set", "training.epochs=2"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return path


@pytest.mark.parametrize("command", ["", "init", "check", "train", "lr-sweep", "predict", "evaluate", "inspect",
                                     "export", "schema", "plot", "runs"])
def test_help_loads_nothing_heavy(command):
    assert loaded(*command.split(), "--help") == set()


def test_import_nncli_loads_nothing_heavy():
    """``import nncli`` is light: the Python API (numpy, pandas) loads on first use."""
    code = ("import sys, nncli; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_inspect_loads_no_onnx(iris_model):
    assert "onnx" not in loaded("inspect", iris_model)


def test_version_loads_nothing_heavy():
    assert loaded("--version") == set()


def test_inspect_loads_neither_numpy_nor_pandas_nor_the_config_schema(iris_model):
    """inspect reads the model file with nncli.io.npz: NumPy alone would double its start-up."""
    assert loaded("inspect", iris_model) == {"rich"}
    assert loaded("inspect", iris_model, "--json") == set()


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_predict_and_evaluate_load_no_yaml_or_pydantic(command, iris_model):
    # threadpoolctl (~5 ms): BLAS on one thread while the other core parses the next chunk.
    assert loaded(command, iris_model, DATASETS / "iris.csv") <= {"numpy", "pandas", "rich", "threadpoolctl"}


def test_only_the_ui_package_imports_rich():
    """rich is what people see: nncli/ui draws everything; commands ask it for a console."""
    package = ROOT / "nncli"
    users = [str(p.relative_to(package)) for p in package.rglob("*.py")
             if p.parent.name != "ui" and any(line.strip().startswith(("import rich", "from rich"))
                                              for line in p.read_text().splitlines())]
    assert users == []
