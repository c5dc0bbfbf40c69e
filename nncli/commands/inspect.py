"""``nncli inspect``: what a model file holds. Loads neither pandas nor the config schema."""

from nncli.commands.common import JsonOption, ModelArgument, print_json


def inspect_model(
    model: ModelArgument,
    json_: JsonOption = False,
):
    """Show what a model file holds.

    The architecture (layer sizes, activations, parameter count), the features and their preprocessing, the target and classes, the loss, the training config, the final metrics, and the inputs and outputs of its ONNX export (nncli export).

    Example: nncli inspect iris.npz
    """
    from nncli.ui import console
    from nncli.io.modelfile import load_model
    from nncli.ui.tables import render_inspection

    info = describe(load_model(model))
    if json_:
        print_json(info)
    else:
        render_inspection(console(), info, title=f"model {model}")


def describe(model):
    """Everything ``nncli inspect --json`` shows: the meta, plus parameter counts and shapes,
    and the inputs and outputs of the ONNX export (``export``)."""
    from nncli.export.plan import signature

    net = model.network
    shapes = [{"W": list(W.shape), "b": list(b.shape), "parameters": int(W.size + b.size)}
              for W, b in zip(net.W, net.b)]
    preprocessing = {**model.meta.get("preprocessing", {}),
                     "x_mean": model.x_mean.tolist(), "x_std": model.x_std.tolist()}
    if model.x_clip is not None:
        preprocessing["x_clip"] = model.x_clip.tolist()
    if model.meta["task"] == "regression":
        preprocessing.update(y_mean=model.y_mean.tolist(), y_std=model.y_std.tolist())
    return {**model.meta, "dtype": net.dtype.name, "parameters": sum(s["parameters"] for s in shapes),
            "layer_shapes": shapes, "preprocessing": preprocessing,
            "export": signature(model.meta, net.dtype.name)}
