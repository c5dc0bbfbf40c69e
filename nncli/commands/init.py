"""``nncli init``: write a commented config for a CSV file that trains well as it is.

The network and training settings come from :func:`recipe`, the one place that holds
nncli's recommended recipe for tabular data.
"""

from pathlib import Path
from typing import Annotated

import typer

from nncli.commands.common import warn


def recipe(task: str, n_rows: int, n_features: int, n_classes: int = 0) -> dict:
    """nncli's recommended network and training settings for tabular data.

    Parameters
    ----------
    task : "regression" | "binary" | "multiclass"
    n_rows : rows of data (before the validation split)
    n_features : feature columns (before one-hot encoding)
    n_classes : number of classes for multiclass

    Returns
    -------
    dict with the keys ``model``, ``loss`` and ``training`` of a config.

    One hidden ReLU layer (wider for more features), Adam, mini-batches of 32 and early
    stopping on the validation loss, which keeps the best epoch's weights; the epoch
    budget is generous because early stopping ends the run.
    """
    hidden = 32 if n_features <= 16 else 64
    output, loss = {
        "regression": ({"units": 1, "activation": "linear"}, "mse"),
        "binary": ({"units": 1, "activation": "sigmoid"}, "binary_cross_entropy"),
        "multiclass": ({"units": n_classes, "activation": "softmax"}, "cross_entropy"),
    }[task]
    steps_per_epoch = max(1, -(-int(n_rows * 0.8) // 32))
    return {
        "model": {"layers": [{"units": hidden, "activation": "relu"}, output]},
        "loss": loss,
        "training": {
            "learning_rate": 0.003,
            # at least ~3000 updates, so that small files still train long enough
            "epochs": max(200, min(2000, -(-3000 // steps_per_epoch))),
            "batch_size": 32,
            "optimizer": "adam",
            "early_stopping": {"patience": 30, "min_delta": 0.0},
        },
    }


def init(
    data: Annotated[Path, typer.Argument(metavar="CSV", help="The CSV file to learn from.",
                                         show_default=False, readable=False, dir_okay=False)],
    target: Annotated[str, typer.Option("--target", "-t", metavar="COLUMN", help="The column to predict.", show_default=False)],
    output: Annotated[str, typer.Option("-o", "--output", metavar="CONFIG",
                                        help="Where to write the config; - for stdout.")] = "config.yaml",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing config file.")] = False,
):
    """Write a commented config for a CSV file that trains well as it is.

    The task follows from the target (numbers with many values: regression; two values:
    binary; a few labels: classes). Identifier-like columns (a row index, a distinct text
    per row) are excluded, and columns with missing values noted.

    Example: nncli init datasets/iris.csv --target species -o iris.yaml && nncli train iris.yaml
    """
    from nncli.errors import UsageError
    from nncli.io.atomic import atomic_write, check_writable
    from nncli.io.profiling import identifier_reason, infer_task, missing_counts
    from nncli.io.reading import read_csv, require_columns

    to_stdout = output == "-"
    if not to_stdout:
        check_writable(output, "config file")
        if Path(output).exists() and not force:
            raise UsageError(f"{output} already exists; give --force to overwrite it, or another -o")
    where = str(data)
    df = read_csv(where)
    if df.empty:
        raise UsageError(f"{where} has a header but no data rows; add rows of data")
    require_columns(df, [target], where, "target")
    task, classes = infer_task(df[target], where)
    excluded = {c: reason for c in df.columns if c != target and (reason := identifier_reason(df[c]))}
    features = [c for c in df.columns if c != target and c not in excluded]
    if not features:
        raise UsageError(f"{where}: no columns left to learn from besides the target {target!r}"
                         + (" and the identifier-like columns" if excluded else ""))
    missing = missing_counts(df, features + [target])
    folder = Path.cwd() if to_stdout else Path(output).resolve().parent
    text = render(data_path(data, folder), target, task, classes, excluded, missing, len(df), features)
    if to_stdout:
        typer.echo(text, nl=False)
        return
    with atomic_write(output, "w") as f:
        f.write(text)
    for name, reason in excluded.items():
        warn(f"excluded column {name!r}: {reason}")
    typer.echo(f"wrote {output} ({describe_task(task, classes)}, {len(features)} feature column(s)); "
               f"next: nncli check {output}", err=True)


def data_path(data, folder):
    """The data path as the config should hold it: relative to the config's folder when
    the two share a folder below the root (they can move together), else absolute."""
    import os

    absolute = os.path.abspath(data)
    try:
        common = os.path.commonpath([absolute, folder])
    except ValueError:  # another drive on Windows
        return absolute
    return absolute if os.path.dirname(common) == common else os.path.relpath(absolute, folder)


def describe_task(task, classes):
    if task == "regression":
        return "regression"
    return f"{task} classification, {len(classes)} classes"


def render(path, target, task, classes, excluded, missing, n_rows, features) -> str:
    """The config as commented YAML text."""
    r = recipe(task, n_rows, len(features), len(classes))
    layers, t = r["model"]["layers"], r["training"]
    shown = ", ".join(classes[:8]) + (", ..." if len(classes) > 8 else "")
    lines = [
        f"# Written by nncli init from {_scalar(path)} ({n_rows} rows).",
        f"# Task: {describe_task(task, classes)}" + (f" ({shown})" if classes else "") + ".",
        "# Check it with: nncli check CONFIG; train it with: nncli train CONFIG",
        "data:",
        f"  path: {_scalar(path)}   # relative paths are relative to this file",
        f"  target: {_scalar(target)}",
    ]
    if excluded:
        lines.append("  exclude:                   # every other column is a feature")
        lines += [f"    - {_scalar(name)}   # looks like {reason}" for name, reason in excluded.items()]
    lines.append("  validation: 0.2            # fraction of the rows held out to judge the model")
    if missing:
        noted = ", ".join(f"{name} ({count})" for name, count in missing.items())
        lines.append(f"  missing: drop              # rows with a missing value are left out; missing: {noted}")
    lines.append("model:")
    lines.append("  layers:                    # one hidden ReLU layer, then the output layer")
    for layer in layers:
        lines.append(f"    - {{units: {layer['units']}, activation: {layer['activation']}}}")
    lines.append(f"loss: {r['loss']}")
    lines += [
        "training:",
        f"  learning_rate: {t['learning_rate']}       # Adam's usual range is 1e-4 .. 1e-2; "
        "nncli lr-sweep CONFIG finds one",
        f"  epochs: {t['epochs']}                 # an upper bound: early stopping ends the run",
        f"  batch_size: {t['batch_size']}",
        f"  optimizer: {t['optimizer']}",
        f"  early_stopping: {{patience: {t['early_stopping']['patience']}, "
        f"min_delta: {t['early_stopping']['min_delta']}}}   # keeps the best epoch's weights",
    ]
    return "\n".join(lines) + "\n"


def _scalar(text) -> str:
    """``text`` as a YAML scalar, quoted when YAML would read it as something else."""
    import json
    import re

    text = str(text)
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./\-]*", text) or re.fullmatch(r"\.\.?/[A-Za-z0-9_./\-]*", text)
    if plain and text.lower() not in ("true", "false", "null", "yes", "no", "on", "off", "nan", "inf"):
        return text
    return json.dumps(text, ensure_ascii=False)
