"""What a model computes, from its original columns to predict's columns, as a list of steps.

Both exporters (ONNX and standalone Python) and ``nncli inspect`` read this plan, never
the model file's layout: a new preprocessing step is one more ``Step`` here and one
function per exporter.

Each input column feeds one or more *branches*; a branch is a chain of steps applied to
the column's raw values and gives one or more encoded features. The branches' features,
concatenated column by column, are the model's encoded features (``meta["features"]``),
computed in float64 as ``nncli predict`` does, then cast to the network's dtype.

Steps (``op``: params):

- ``impute``: {"value"}, a missing value (NaN) becomes ``value``
- ``indicator``: {}, 1.0 where the value is missing, else 0.0
- ``one_hot``: {"categories"}, one feature per category, all zeros for an unseen one
- ``scale``: {"center", "scale"} (arrays), ``(x - center) / scale`` (standard or robust scaling)
- ``clip``: {"c"}, smooth clipping ``x / sqrt(1 + (x / c)^2)``

The output steps of a regression turn the network's output into the target's units:
``unscale`` {"center", "scale"}: ``y * scale + center``, and ``expm1`` (a log1p target).

Imports nothing heavy: ``nncli inspect`` reads ``signature`` without loading onnx.
"""

from dataclasses import dataclass, field

DEFAULT_OPSET, ML_OPSET, MIN_OPSET = 17, 3, 13


@dataclass
class Step:
    op: str
    params: dict = field(default_factory=dict)


@dataclass
class Column:
    """An input of the exported model: one original column and its branches of steps."""

    name: str
    kind: str                       # numeric | categorical
    branches: list                  # list of lists of Step
    imputed: bool = False           # a missing value is filled in (else it is an error)


@dataclass
class Plan:
    columns: list                   # Column per input, in meta["columns"] order
    layers: list                    # {"W", "b", "activation", "alpha"?} per layer
    dtype: str                      # the network's dtype: float32 | float64
    task: str                       # regression | binary | multiclass
    target: str
    classes: list
    output_steps: list              # regression: Steps from the network's output to the target's units
    outputs: list                   # output names: the prediction, then prob_<label> per class


def output_names(meta, taken=()):
    """Prediction column names: the target, then prob_<label> per class.

    A name already in ``taken`` (input columns copied to the output, or the exported
    model's input names) gets the prefix ``predicted_``, so that no name is used twice.
    """
    names = [meta["target"]] + [f"prob_{label}" for label in meta["classes"]]
    out, used = [], set(taken)
    for name in names:
        while name in used:
            name = f"predicted_{name}"
        used.add(name)
        out.append(name)
    return out


def build_plan(model):
    """The plan of a loaded model (``nncli.io.modelfile.Model``)."""
    meta, net = model.meta, model.network
    columns, j = [], 0
    for c in meta["columns"]:
        if c["kind"] == "numeric":
            branches, width = [[Step("scale", _scaling(model, j, 1))]], 1
        else:
            width = len(c["categories"])
            branches = [[Step("one_hot", {"categories": list(c["categories"])})]]
            scaling = _scaling(model, j, width)
            if any(v != 0 for v in scaling["center"]) or any(v != 1 for v in scaling["scale"]):
                branches[0].append(Step("scale", scaling))
        columns.append(Column(c["name"], c["kind"], _without_identity(branches)))
        j += width
    layers = [{"W": W, "b": b, **spec} for W, b, spec in zip(net.W, net.b, net.layer_specs())]
    output_steps = []
    if meta["task"] == "regression":
        output_steps.append(Step("unscale", {"center": model.y_mean.tolist(), "scale": model.y_std.tolist()}))
    return Plan(columns, layers, net.dtype.name, meta["task"], meta["target"], list(meta["classes"]),
                output_steps, output_names(meta, [c["name"] for c in meta["columns"]]))


def _scaling(model, j, width):
    return {"center": model.x_mean[j:j + width].tolist(), "scale": model.x_std[j:j + width].tolist()}


def _without_identity(branches):
    """Branches without scale steps that change nothing (center 0, scale 1)."""
    def identity(step):
        return (step.op == "scale" and all(v == 0 for v in step.params["center"])
                and all(v == 1 for v in step.params["scale"]))
    return [[s for s in branch if not identity(s)] for branch in branches]


# --- the exported model's inputs and outputs (nncli inspect) ---------------------------
ONNX_TYPES = {"float32": "float", "float64": "double"}


def signature(meta, dtype):
    """Inputs and outputs of the ONNX export: names, element types and shapes.

    Every input and output is one column, of shape [N, 1]: a number input in the
    network's float type, a text input as string; the prediction is the label (string)
    or, for regression, a double in the target's units; prob_<label> in the network's type.
    """
    number = ONNX_TYPES[dtype]
    inputs = [{"name": c["name"], "type": number if c["kind"] == "numeric" else "string", "shape": ["N", 1]}
              for c in meta["columns"]]
    names = output_names(meta, [c["name"] for c in meta["columns"]])
    prediction = "double" if meta["task"] == "regression" else "string"
    outputs = [{"name": names[0], "type": prediction, "shape": ["N", 1]}]
    outputs += [{"name": name, "type": number, "shape": ["N", 1]} for name in names[1:]]
    return {"inputs": inputs, "outputs": outputs, "opset": DEFAULT_OPSET, "ml_opset": ML_OPSET}
