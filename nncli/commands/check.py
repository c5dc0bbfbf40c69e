"""``nncli check``: validate a config and its data without training, and warn about risky choices."""

from nncli.commands.common import ConfigArgument, JsonOption, SetOption, print_json, warn

# Learning rates in this range are usual for each optimizer; "far outside" is 10x beyond.
USUAL_LEARNING_RATES = {"sgd": (1e-3, 1.0), "momentum": (1e-3, 0.5), "adam": (1e-4, 1e-2)}
FAR = 10
MIN_VALIDATION_ROWS = 50
SCALE_RATIO = 100        # standard deviations this many times apart are "very different scales"
DEEP = 3                 # hidden layers from which sigmoid/tanh gradients vanish


def check(
    config: ConfigArgument,
    set_: SetOption = None,
    json_: JsonOption = False,
):
    """Validate a config and the data it points to, without training.

    Shows the resolved config (and where each value came from: default, file or --set),
    the data (rows, columns and their kinds, classes, missing values), the network (layer
    shapes, parameter count) and warnings for risky choices. Exit code 0 when valid
    (warnings allowed), 2 otherwise, with the message train would give.

    Example: nncli check configs/iris.yaml --set training.learning_rate=0.1
    """
    from nncli.commands import pipeline
    from nncli.commands.train import training_warnings
    from nncli.config import load_config_with_sources

    cfg, sources = load_config_with_sources(config, set_ or [])
    ds = pipeline.prepare_data(cfg)
    data, df = describe_data(cfg, ds)
    report = {
        "valid": True,
        "config": sources,
        "data": data,
        "network": describe_network(cfg, ds),
        "warnings": ds.warnings + training_warnings(cfg, ds) + risky_choices(cfg, ds, df),
    }
    if json_:
        print_json(report)
        return
    for message in report["warnings"]:
        warn(message)
    from nncli.ui import console
    from nncli.ui.tables import render_check

    render_check(console(), report, config)


def describe_data(cfg, ds):
    """(the data part of the report, the file's DataFrame)."""
    import numpy as np

    from nncli.io.dataset import TASKS, feature_columns
    from nncli.io.profiling import missing_counts
    from nncli.io.reading import read_csv

    d = cfg.data
    text_cols = list(d.categorical) + ([d.target] if TASKS[cfg.loss] != "regression" else [])
    df = read_csv(d.path, text_columns=text_cols)
    used = feature_columns(d, df.columns, d.path)
    n_train, n_val = len(ds.X_train), 0 if ds.X_val is None else len(ds.X_val)
    split = not isinstance(d.validation, str)
    out = {
        "path": d.path,
        "rows": len(df),
        "rows_used": n_train + n_val if split else n_train,
        "train_rows": n_train,
        "validation_rows": n_val,
        "task": ds.task,
        "target": d.target,
        "columns": [{"name": c["name"], "kind": c["kind"], "categories": len(c["categories"])}
                    for c in ds.columns],
        "encoded_features": len(ds.features),
        "missing": missing_counts(df, used + [d.target]),
        "missing_policy": d.missing,
    }
    if ds.classes:
        Y = ds.Y_train if ds.Y_val is None else np.vstack([ds.Y_train, ds.Y_val])
        counts = Y.sum(axis=0) if Y.shape[1] > 1 else np.array([len(Y) - Y.sum(), Y.sum()])
        out["classes"] = {label: int(n) for label, n in zip(ds.classes, counts)}
    return out, df


def describe_network(cfg, ds):
    sizes = [ds.X_train.shape[1]] + [layer.units for layer in cfg.model.layers]
    layers = [{"W": [n_in, n_out], "b": [n_out], "activation": layer.activation,
               "parameters": (n_in + 1) * n_out}
              for n_in, n_out, layer in zip(sizes, sizes[1:], cfg.model.layers)]
    return {"inputs": sizes[0], "layers": layers, "parameters": sum(layer["parameters"] for layer in layers)}


def risky_choices(cfg, ds, df):
    """Warnings about settings that often train badly, for this config and data."""
    from nncli.io.profiling import identifier_reason

    out = []
    hidden = cfg.model.layers[:-1]
    squashing = [i for i, layer in enumerate(hidden) if layer.activation in ("sigmoid", "tanh")]
    if len(hidden) >= DEEP and squashing:
        out.append(f"model.layers {', '.join(map(str, squashing))}: sigmoid/tanh in a network of {len(hidden)} "
                   "hidden layers; their gradients shrink layer by layer (vanishing gradients); "
                   "relu or leaky_relu trains deep networks better")
    numeric = [j for j, c in enumerate(_numeric_positions(ds.columns)) if c]
    if not cfg.data.standardize and len(numeric) > 1:
        std = ds.X_train[:, numeric].std(axis=0)
        std = std[std > 0]
        if len(std) > 1 and std.max() / std.min() > SCALE_RATIO:
            out.append(f"data.standardize is false, but the features' scales differ {std.max() / std.min():.0f}-fold "
                       "(standard deviations); gradient descent then crawls along the small ones; "
                       "set data.standardize: true")
    if ds.task == "regression" and not cfg.data.standardize_target:
        y_std, y_mean = float(ds.Y_train.std()), float(abs(ds.Y_train.mean()))
        if y_std > 10 or y_std < 0.1 or y_mean > 10:
            out.append(f"data.standardize_target is false and the target has mean {y_mean:.3g}, standard "
                       f"deviation {y_std:.3g}; the loss and its gradients are then far from unit scale; "
                       "set data.standardize_target: true (metrics stay in the target's units)")
    t = cfg.training
    low, high = USUAL_LEARNING_RATES.get(t.optimizer, (None, None))
    if low is not None and not low / FAR <= t.learning_rate <= high * FAR:
        out.append(f"training.learning_rate {t.learning_rate:g} is far outside the usual range for "
                   f"{t.optimizer} ({low:g} to {high:g}); try nncli lr-sweep")
    for c in ds.columns:
        reason = identifier_reason(df[c["name"]]) if c["name"] in df.columns else None
        if reason:
            out.append(f"feature {c['name']!r} looks like {reason}; leave it out with data.exclude")
    if ds.X_val is not None and len(ds.X_val) < MIN_VALIDATION_ROWS:
        out.append(f"only {len(ds.X_val)} validation rows (fewer than {MIN_VALIDATION_ROWS}): the validation "
                   "loss and early stopping will be noisy; use a larger data.validation if you can")
    return out


def _numeric_positions(columns):
    """For each encoded feature, whether it comes from a numeric column."""
    return [flag for c in columns
            for flag in ([True] if c["kind"] == "numeric" else [False] * len(c["categories"]))]
