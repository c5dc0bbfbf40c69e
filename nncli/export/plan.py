"""What a model computes, from its original columns to predict's columns, as a list of steps.

Both exporters (ONNX and standalone Python) and ``nncli inspect`` read this plan, never
the model file's layout: a new preprocessing step is one more ``Step`` here and one
function per exporter.

Each input column feeds one or more *branches*; a branch is a chain of steps applied to
the column's raw values and gives one or more encoded features. The branches' features,
concatenated column by column, are the model's encoded features (``meta["features"]``),
computed in float64 as ``nncli predict`` does, then cast to the network's dtype.

Steps (``op``: params):

- ``impute``: {"value"}, a missing value becomes ``value`` (a number, or for a categorical
  column a category)
- ``indicator``: {}, 1.0 where the value is missing, else 0.0

A missing value is NaN in a numeric column; in a categorical one, the empty string "" in
the ONNX graph and None in the Python file.
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
    """The plan of a loaded model (``nncli.io.modelfile.Model``), version 1 or 2.

    Per column of ``meta["columns"]`` (with version 2's ``meta["preprocessing"]``): a value
    branch, impute (when the column has an impute value) then the column's encoding
    (a numeric value, or one-hot), scale (``x_mean``, ``x_std``) and clip (``x_clip``);
    and, when the column has a missing-value indicator, an indicator branch after it.
    """
    from nncli.io.modelfile import encoding_columns, target_transform

    meta, net = model.meta, model.network
    columns, j = [], 0
    for c in encoding_columns(meta):
        width = 1 if c["kind"] == "numeric" else len(c["categories"])
        value = [] if c.get("impute") is None else [Step("impute", {"value": c["impute"]})]
        if c["kind"] == "categorical":
            value.append(Step("one_hot", {"categories": list(c["categories"])}))
        branches = [value + _scale_and_clip(model, j, width, c["name"])]
        j += width
        if c.get("indicator"):
            branches.append([Step("indicator")] + _scale_and_clip(model, j, 1, c["name"]))
            j += 1
        columns.append(Column(c["name"], c["kind"], branches, imputed=c.get("impute") is not None))
    layers = [{"W": W, "b": b, **spec} for W, b, spec in zip(net.W, net.b, net.layer_specs())]
    output_steps = []
    if meta["task"] == "regression":
        output_steps.append(Step("unscale", {"center": model.y_mean.tolist(), "scale": model.y_std.tolist()}))
        if target_transform(meta) == "log1p":
            output_steps.append(Step("expm1"))
    return Plan(columns, layers, net.dtype.name, meta["task"], meta["target"], list(meta["classes"]),
                output_steps, output_names(meta, [c["name"] for c in meta["columns"]]))


def _scale_and_clip(model, j, width, name):
    """The scale and clip steps of encoded features j .. j + width - 1 (none that change nothing)."""
    center, scale = model.x_mean[j:j + width].tolist(), model.x_std[j:j + width].tolist()
    steps = [] if all(v == 0 for v in center) and all(v == 1 for v in scale) else [
        Step("scale", {"center": center, "scale": scale})]
    c = [] if model.x_clip is None else model.x_clip[j:j + width].tolist()
    if any(c) and width == 1:
        steps.append(Step("clip", {"c": c[0]}))
    elif any(c):  # nncli clips numeric features only; a one-hot feature clipped is an edited file
        from nncli.errors import ModelFileError

        raise ModelFileError(f"x_clip clips one-hot features of column {name!r}, which nncli never does; "
                             "the model cannot be exported")
    return steps


# --- the exported model's inputs and outputs (nncli inspect) ---------------------------
ONNX_TYPES = {"float32": "float", "float64": "double"}
MISSING = {"numeric": "NaN", "categorical": ""}  # a missing value in a number input, in a string input


def signature(meta, dtype):
    """Inputs and outputs of the ONNX export: names, element types and shapes.

    Every input and output is one column, of shape [N, 1]: a number input in the
    network's float type, a text input as string; the prediction is the label (string)
    or, for regression, a double in the target's units; prob_<label> in the network's type.
    Each input also says how a missing value is written (``missing``: NaN or "") and what
    replaces it (``imputed``: the impute value, or None when the model does not impute).
    """
    from nncli.io.modelfile import encoding_columns

    number = ONNX_TYPES[dtype]
    inputs = [{"name": c["name"], "type": number if c["kind"] == "numeric" else "string", "shape": ["N", 1],
               "missing": MISSING[c["kind"]], "imputed": c.get("impute")} for c in encoding_columns(meta)]
    names = output_names(meta, [c["name"] for c in meta["columns"]])
    prediction = "double" if meta["task"] == "regression" else "string"
    outputs = [{"name": names[0], "type": prediction, "shape": ["N", 1]}]
    outputs += [{"name": name, "type": number, "shape": ["N", 1]} for name in names[1:]]
    return {"inputs": inputs, "outputs": outputs, "opset": DEFAULT_OPSET, "ml_opset": ML_OPSET}
