"""The model as one standalone Python file (NumPy only): ``nncli/export/standalone.py``
with the model's plan, its weights base64-encoded, in place of ``PLAN = None``."""

import base64
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from nncli.export.plan import build_plan
from nncli.io.atomic import atomic_write

TEMPLATE = Path(__file__).with_name("standalone.py")
PLACEHOLDER = "PLAN = None  # replaced by the model's plan when exported\n"


def python_source(model, source_name="model.npz"):
    """The text of the standalone file for ``model`` (``nncli.io.modelfile.Model``)."""
    return plan_source(build_plan(model), source_name)


def plan_source(plan, source_name="model.npz"):
    """The text of the standalone file for a ``nncli.export.plan.Plan``."""
    plan = asdict(plan)
    for column in plan["columns"]:
        column["branches"] = [[_flat(step) for step in branch] for branch in column["branches"]]
    plan["output_steps"] = [_flat(step) for step in plan["output_steps"]]
    plan["layers"] = [{**layer, "W": _encoded(layer["W"]), "b": _encoded(layer["b"])} for layer in plan["layers"]]
    template = TEMPLATE.read_text(encoding="utf-8")
    assert PLACEHOLDER in template
    text = json.dumps(plan, indent=1, ensure_ascii=True, allow_nan=False)
    template = template.replace('"""Predictions of an nncli model,',
                                f'"""Predictions of the nncli model {Path(source_name).name},', 1)
    return template.replace(PLACEHOLDER, f"PLAN = json.loads(r'''\n{text}\n''')\n")


def _flat(step):
    """A step as the standalone file reads it: {"op", **params}."""
    return {"op": step["op"], **step["params"]}


def _encoded(array):
    """{"dtype", "shape", "base64"}: the array's bytes, little-endian, in its own dtype."""
    array = np.ascontiguousarray(array, array.dtype.newbyteorder("<"))
    return {"dtype": array.dtype.str, "shape": list(array.shape), "base64": base64.b64encode(array.tobytes()).decode()}


def export_python(model, path, source_name="model.npz"):
    """Write the standalone file for ``model`` to ``path`` (atomically)."""
    with atomic_write(path, "w") as f:
        f.write(python_source(model, source_name))
