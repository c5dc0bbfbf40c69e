"""``nncli inspect``: what a model file holds. Loads neither NumPy nor pandas nor the config schema."""

from nncli.commands.common import JsonOption, ModelArgument, print_json


def inspect_model(
    model: ModelArgument,
    json_: JsonOption = False,
):
    """Show what a model file holds.

    The architecture (layer sizes, activations, parameter count), the features and their preprocessing, the target and classes, the loss, the training config, the final metrics, and the inputs and outputs of its ONNX export (nncli export).

    Example: nncli inspect iris.npz
    """
    from nncli.io.modelfile import read_model

    info = describe(read_model(model))
    if json_:
        print_json(info)
        return
    from nncli.ui import console
    from nncli.ui.tables import render_inspection

    render_inspection(console(), info, title=f"model {model}")


def describe(model_file):
    """Everything ``nncli inspect --json`` shows: the meta, plus parameter counts and shapes,
    and the inputs and outputs of the ONNX export (``export``).

    ``model_file``: a ``nncli.io.modelfile.ModelFile``, read without NumPy.
    """
    from nncli.export.plan import signature

    meta = model_file.meta
    sizes = [len(meta["features"])] + [layer["units"] for layer in meta["layers"]]
    shapes = [{"W": [n_in, n_out], "b": [n_out], "parameters": n_in * n_out + n_out}
              for n_in, n_out in zip(sizes, sizes[1:])]
    preprocessing = {**meta.get("preprocessing", {}),
                     "x_mean": model_file.floats("x_mean"), "x_std": model_file.floats("x_std")}
    if meta["version"] >= 2:
        preprocessing["x_clip"] = model_file.floats("x_clip")
    if meta["task"] == "regression":
        preprocessing.update(y_mean=model_file.floats("y_mean"), y_std=model_file.floats("y_std"))
    dtype = model_file.dtype_name
    return {**meta, "dtype": dtype, "parameters": sum(s["parameters"] for s in shapes),
            "layer_shapes": shapes, "preprocessing": preprocessing, "export": signature(meta, dtype)}
