"""The model as an ONNX graph, built with the ``onnx`` package's helper API.

The graph takes the original columns as inputs, each of shape [N, 1] (numbers in the
network's float type, text as strings), and computes, as ``nncli predict`` does: the
preprocessing in float64 (one function per step of the plan), the network in its own
dtype, and predict's columns as outputs, each of shape [N, 1]. A category not seen in
training is encoded as all zeros (``--unknown ignore``): a graph cannot stop with a message.
A missing value is NaN in a number input and the empty string "" in a string input: imputed
when the model imputes, else NaN flows through (numbers) or the one-hot is all zeros (text).
"""

import numpy as np

from nncli.errors import UsageError
from nncli.export.plan import DEFAULT_OPSET, MIN_OPSET, ML_OPSET, build_plan
from nncli.io.atomic import atomic_write

INSTALL_HINT = "pip install 'nncli[onnx]'"


def _onnx():
    try:
        import onnx
    except ImportError:
        raise UsageError(f"exporting to ONNX needs the onnx package; install it with: {INSTALL_HINT}") from None
    return onnx


def check_opset(opset):
    """Raise UsageError unless the installed onnx can write ``opset``."""
    onnx = _onnx()
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise UsageError(f"--opset {opset}: nncli exports opsets {MIN_OPSET} to {newest} "
                         f"(the newest the installed onnx {onnx.__version__} knows)")


def export_onnx(model, path=None, opset=DEFAULT_OPSET):
    """The ONNX ModelProto of ``model`` (``nncli.io.modelfile.Model``), written to ``path`` if given."""
    check_opset(opset)
    onnx = _onnx()
    proto = build_graph(build_plan(model), opset, onnx)
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        with atomic_write(path) as f:
            f.write(proto.SerializeToString())
    return proto


class _Graph:
    """Nodes and constants of a graph under construction, with unique value names."""

    def __init__(self, onnx):
        self.onnx, self.nodes, self.constants, self._count = onnx, [], [], 0
        self.text = set()  # the names of string values

    def name(self, hint):
        self._count += 1
        return f"nncli/{hint}_{self._count}"

    def const(self, hint, value):
        name = self.name(hint)
        self.constants.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type, *inputs, output=None, domain="", **attributes):
        output = output or self.name(op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [output], domain=domain, **attributes))
        return output


def build_graph(plan, opset, onnx):
    g = _Graph(onnx)
    T = onnx.TensorProto
    number = T.FLOAT if plan.dtype == "float32" else T.DOUBLE
    inputs, features = [], []
    for column in plan.columns:
        kind = number if column.kind == "numeric" else T.STRING
        inputs.append(onnx.helper.make_tensor_value_info(column.name, kind, ["N", 1]))
        if column.kind == "categorical":
            x = column.name
            g.text.add(x)
        else:
            x = g.op("Cast", column.name, to=T.DOUBLE)
        for branch in column.branches:
            value = x
            for step in branch:
                value = STEPS[step.op](g, value, step)
            features.append(value)
    X = g.op("Concat", *features, axis=1) if len(features) > 1 else features[0]
    A = g.op("Cast", X, to=number)
    for l, layer in enumerate(plan.layers, start=1):
        A = _layer(g, A, layer, l)
    outputs = _outputs(g, A, plan, number, T)
    graph = onnx.helper.make_graph(g.nodes, "nncli_model", inputs, outputs, initializer=g.constants,
                                   doc_string=f"nncli model predicting {plan.target!r} ({plan.task})")
    opsets = [onnx.helper.make_opsetid("", opset), onnx.helper.make_opsetid("ai.onnx.ml", ML_OPSET)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="nncli",
                                   ir_version=onnx.helper.find_min_ir_version_for(opsets, True))
    onnx.helper.set_model_props(proto, {"target": plan.target, "task": plan.task})
    return proto


# --- preprocessing: one function per step, (graph, values, step) -> values ------------------
# Values are float64 of shape [N, n], except a categorical input (and its imputed values):
# string [N, 1], named in ``g.text``. A missing value is NaN in a number, "" in a string.
def _missing(g, x):
    """Bool [N, 1]: where ``x`` is missing."""
    if x not in g.text:
        return g.op("IsNaN", x)
    # String Equal needs opset 19; a one-hot encoding over the one category "" works from 13.
    empty = g.op("OneHotEncoder", x, domain="ai.onnx.ml", cats_strings=[""], zeros=1)  # [N, 1, 1]
    return g.op("Cast", g.op("Flatten", empty, axis=1), to=g.onnx.TensorProto.BOOL)


def _impute(g, x, step):
    value = step.params["value"]
    fill = g.const("fill", np.array(value, dtype=object) if x in g.text else np.float64(value))
    out = g.op("Where", _missing(g, x), fill, x)
    if x in g.text:
        g.text.add(out)
    return out


def _indicator(g, x, step):
    return g.op("Cast", _missing(g, x), to=g.onnx.TensorProto.DOUBLE)


def _one_hot(g, x, step):
    codes = g.op("OneHotEncoder", x, domain="ai.onnx.ml", cats_strings=step.params["categories"], zeros=1)
    return g.op("Cast", g.op("Flatten", codes, axis=1), to=g.onnx.TensorProto.DOUBLE)  # [N, 1, K] -> [N, K]


def _scale(g, x, step):
    center = g.const("center", np.asarray(step.params["center"], np.float64))
    return g.op("Div", g.op("Sub", x, center), g.const("scale", np.asarray(step.params["scale"], np.float64)))


def _clip(g, x, step):
    ratio = g.op("Div", x, g.const("c", np.float64(step.params["c"])))
    root = g.op("Sqrt", g.op("Add", g.const("one", np.float64(1)), g.op("Mul", ratio, ratio)))
    return g.op("Div", x, root)


STEPS = {"impute": _impute, "indicator": _indicator, "one_hot": _one_hot, "scale": _scale, "clip": _clip}


# --- the network ---------------------------------------------------------------------------
def _layer(g, A, layer, l):
    """Z = A W + b and A = g(Z), in the network's dtype."""
    Z = g.op("Add", g.op("MatMul", A, g.const(f"W{l}", layer["W"])), g.const(f"b{l}", layer["b"]))
    return ACTIVATIONS[layer["activation"]](g, Z, layer)


def _leaky_relu(g, Z, layer):
    # As nncli computes it, Z * alpha where Z <= 0, for every float type.
    zero = g.const("zero", np.zeros((), layer["W"].dtype))
    alpha = g.const("alpha", np.asarray(layer["alpha"], layer["W"].dtype))
    return g.op("Where", g.op("Greater", Z, zero), Z, g.op("Mul", Z, alpha))


ACTIVATIONS = {
    "linear": lambda g, Z, layer: Z,
    "sigmoid": lambda g, Z, layer: g.op("Sigmoid", Z),
    "tanh": lambda g, Z, layer: g.op("Tanh", Z),
    "relu": lambda g, Z, layer: g.op("Relu", Z),
    "leaky_relu": _leaky_relu,
    "softmax": lambda g, Z, layer: g.op("Softmax", Z, axis=1),
}


# --- outputs: predict's columns ---------------------------------------------------------------
def _unscale(g, y, step):
    scale = g.const("y_scale", np.asarray(step.params["scale"], np.float64))
    return g.op("Add", g.op("Mul", y, scale), g.const("y_center", np.asarray(step.params["center"], np.float64)))


def _expm1(g, y, step):
    """exp(y) - 1, and y (1 + y/2 (1 + y/3)) where |y| < 1e-5, which exp(y) - 1 would lose to
    cancellation (relative error below 1e-10 either side)."""
    exp = g.op("Sub", g.op("Exp", y), g.const("one", np.float64(1)))
    half, third = g.const("half", np.float64(0.5)), g.const("third", np.float64(1 / 3))
    series = g.op("Mul", y, g.op("Add", g.const("one", np.float64(1)),
                                 g.op("Mul", g.op("Mul", y, half),
                                      g.op("Add", g.const("one", np.float64(1)), g.op("Mul", y, third)))))
    small = g.op("Less", g.op("Abs", y), g.const("tiny", np.float64(1e-5)))
    return g.op("Where", small, series, exp)


OUTPUT_STEPS = {"unscale": _unscale, "expm1": _expm1}


def _outputs(g, A, plan, number, T):
    info = g.onnx.helper.make_tensor_value_info
    dtype = np.float32 if number == T.FLOAT else np.float64
    if plan.task == "regression":
        y = g.op("Cast", A, to=T.DOUBLE)
        for step in plan.output_steps:
            y = OUTPUT_STEPS[step.op](g, y, step)
        g.op("Identity", y, output=plan.outputs[0])
        return [info(plan.outputs[0], T.DOUBLE, ["N", 1])]
    if plan.task == "binary":  # one sigmoid unit a: probabilities [1 - a, a], class 1 where a >= 0.5
        P = g.op("Concat", g.op("Sub", g.const("one", np.ones((), dtype)), A), A, axis=1)
        index = g.op("Cast", g.op("GreaterOrEqual", A, g.const("half", np.asarray(0.5, dtype))), to=T.INT64)
    else:
        P = A
        index = g.op("ArgMax", P, axis=1, keepdims=1)
    labels = g.const("classes", np.array(plan.classes, dtype=object))
    g.op("Gather", labels, index, axis=0, output=plan.outputs[0])
    outputs = [info(plan.outputs[0], T.STRING, ["N", 1])]
    for k, name in enumerate(plan.outputs[1:]):
        g.op("Gather", P, g.const(f"k{k}", np.array([k], np.int64)), axis=1, output=name)
        outputs.append(info(name, number, ["N", 1]))
    return outputs
