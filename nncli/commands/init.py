"""``nncli init``: write a commented config for a CSV file that trains well as it is.

The network and training settings come from :func:`recipe`, the one place that holds
nncli's recommended recipe for tabular data.
"""

from pathlib import Path
from typing import Annotated

import typer

from nncli.commands.common import warn


def recipe(task: str, n_rows: int, n_features: int, n_classes: int = 0, *,
           skewed_target: bool = False, rare_class: bool = False) -> dict:
    """nncli's recommended recipe for tabular data: a config without ``data.path``/``target``.

    Parameters
    ----------
    task : "regression" | "binary" | "multiclass"
    n_rows : rows of data (before the validation split)
    n_features : feature columns (before one-hot encoding)
    n_classes : number of classes for multiclass
    skewed_target, rare_class : not used by the recipe itself (measured: log1p lowered the test
        R² in the target's units on all 7 regression sets; balanced class weights lowered the
        accuracy on both rare-class sets): ``render`` offers them as commented-out lines.

    Returns
    -------
    dict with the keys ``data`` (preprocessing only), ``model``, ``loss`` and ``training``.

    Chosen by measurement on bench/quality.py (bench/QUALITY.md says why each piece).
    """
    data = {"scaling": "robust", "clip": True, "missing": "impute", "missing_indicator": True,
            "unknown": "ignore"}
    output, loss = {
        "regression": ({"units": 1, "activation": "linear"}, "mse"),
        "binary": ({"units": 1, "activation": "sigmoid"}, "binary_cross_entropy"),
        "multiclass": ({"units": n_classes, "activation": "softmax"}, "cross_entropy"),
    }[task]
    n_train = int(n_rows * 0.8)
    # Wider from 3,000 training rows; from 20,000 the batches are larger and an epoch costs more,
    # and 128 units fitted the 43,000-row diamonds as well as 256 (R² 0.980 both) in 40% of the time.
    width = 256 if 3000 <= n_train < 20_000 else 128
    batch_size = 256 if n_train >= 20_000 else 64 if n_train >= 2000 else 32
    steps_per_epoch = max(1, -(-n_train // batch_size))
    epochs = int(min(300, max(60, 6000 // steps_per_epoch)))
    hidden = {"units": width, "activation": "relu", "dropout": 0.1}
    training = {
        "learning_rate": 0.002,
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": "adam",
        "weight_decay": 1e-4,
        "schedule": {"name": "flat_cos", "warmup_epochs": 1},
        "early_stopping": {"patience": max(20, epochs // 4), "min_delta": 0.0},
    }
    return {"data": data, "model": {"layers": [hidden, dict(hidden), output]}, "loss": loss,
            "training": training}


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
    shape = data_shape(df, target, task, features)
    text = render(data_path(data, folder), target, task, classes, excluded, missing, len(df), features, shape)
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


def data_shape(df, target, task, features):
    """What the recipe adapts to: a skewed non-negative target, a rare class, and the text
    columns some of whose values read as numbers (one-hot encoded: data.categorical)."""
    from nncli.io.profiling import mixed_columns

    y = df[target].dropna()
    skewed = bool(task == "regression" and len(y) > 2 and y.min() >= 0 and y.skew() > 1.0)
    rare = bool(task != "regression" and y.astype(str).value_counts(normalize=True).min() < 0.10)
    return {"skewed_target": skewed, "rare_class": rare, "categorical": mixed_columns(df, features)}


def render(path, target, task, classes, excluded, missing, n_rows, features, shape=None) -> str:
    """The config as commented YAML text: the data, then nncli's recipe, each choice said."""
    shape = shape or {"skewed_target": False, "rare_class": False, "categorical": []}
    r = recipe(task, n_rows, len(features), len(classes), skewed_target=shape["skewed_target"],
               rare_class=shape["rare_class"])
    d, layers, t = r["data"], r["model"]["layers"], r["training"]
    shown = ", ".join(classes[:8]) + (", ..." if len(classes) > 8 else "")
    lines = [
        f"# Written by nncli init from {_scalar(path)} ({n_rows} rows).",
        f"# Task: {describe_task(task, classes)}" + (f" ({shown})" if classes else "") + ".",
        "# nncli's recipe for tabular data (README: 'The recipe'). Check it with: nncli check CONFIG;",
        "# train it with: nncli train CONFIG",
        "data:",
        f"  path: {_scalar(path)}   # relative paths are relative to this file",
        f"  target: {_scalar(target)}",
    ]
    if excluded:
        lines.append("  exclude:                   # every other column is a feature")
        lines += [f"    - {_scalar(name)}   # looks like {reason}" for name, reason in excluded.items()]
    if shape["categorical"]:
        lines.append("  categorical:               # text columns holding some number-like values: one-hot")
        lines += [f"    - {_scalar(name)}" for name in shape["categorical"]]
    lines.append("  validation: 0.2            # held out to judge the model (stratified for classes)")
    lines.append(f"  scaling: {d['scaling']}            # (x - median) / IQR: outliers do not squash the rest")
    lines.append(f"  clip: {str(d['clip']).lower()}                 # then x / sqrt(1 + (x/3)^2): no input beyond +-3")
    noted = ("; missing now: " + ", ".join(f"{name} ({count})" for name, count in missing.items())) if missing else ""
    lines.append(f"  missing: {d['missing']}            # fill a missing value in (median / most frequent){noted}")
    lines.append(f"  missing_indicator: {str(d['missing_indicator']).lower()}    # and say that it was missing, as a feature")
    lines.append(f"  unknown: {d['unknown']}            # a category not seen in training: all zeros, with a warning")
    if shape["skewed_target"]:
        lines.append("  # target_transform: log1p   # the target is skewed: learn log(1 + y) if relative errors "
                     "matter more than absolute ones")
    lines.append("model:")
    lines.append(f"  layers:                    # {len(layers) - 1} hidden ReLU layers with dropout, then the output")
    for layer in layers:
        extra = f", dropout: {layer['dropout']}" if layer.get("dropout") else ""
        lines.append(f"    - {{units: {layer['units']}, activation: {layer['activation']}{extra}}}")
    lines.append(f"loss: {r['loss']}")
    schedule = t["schedule"]
    lines += [
        "training:",
        f"  learning_rate: {t['learning_rate']}       # nncli lr-sweep CONFIG compares others",
        f"  epochs: {t['epochs']}                 # an upper bound: early stopping ends the run",
        f"  batch_size: {t['batch_size']}",
        f"  optimizer: {t['optimizer']}",
        f"  weight_decay: {t['weight_decay']}       # AdamW: shrinks the weights a little every step",
        f"  schedule: {{name: {schedule['name']}, warmup_epochs: {schedule['warmup_epochs']}}}"
        "   # full rate for half the epochs, then a cosine down",
        f"  early_stopping: {{patience: {t['early_stopping']['patience']}, "
        f"min_delta: {t['early_stopping']['min_delta']}}}   # keeps the best epoch's weights",
    ]
    if shape["rare_class"]:
        lines.append("  # class_weight: balanced   # a class has under 10% of the rows: weigh the classes equally "
                     "if finding it matters more than accuracy")
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
