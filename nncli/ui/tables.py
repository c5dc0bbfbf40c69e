"""What commands print when they are done: tables and charts (rich), on the console given."""

from __future__ import annotations

import math
from typing import Optional

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nncli.ui.chart import line_chart_cells, wants_log
from nncli.ui.format import (METRIC_NAMES, STATUS_TEXT, TRAIN_STYLE, VAL_STYLE, cells_to_text, format_rate,
                             format_seconds, format_value)


def summary_table(summary: dict) -> Table:
    """Build the end-of-training table: one row per metric, train and validation.

    Parameters
    ----------
    summary : dict
        ``train_<metric>`` / ``val_<metric>`` values plus status,
        epochs_run, best_epoch and seconds (see :func:`render_summary`).

    Returns
    -------
    rich.table.Table
    """
    table = Table(title="Training summary")
    table.add_column("Metric")
    table.add_column("Train", justify="right", style=TRAIN_STYLE)
    table.add_column("Validation", justify="right", style=VAL_STYLE)
    for metric in _metrics(summary):
        train, val = summary.get(f"train_{metric}"), summary.get(f"val_{metric}")
        table.add_row(METRIC_NAMES.get(metric, metric), format_value(train), format_value(val))
    return table


def _metrics(summary: dict) -> list[str]:
    """Metric names present in ``summary``: known ones in a fixed order first."""
    found = [
        key.split("_", 1)[1]
        for key, value in summary.items()
        if key.startswith(("train_", "val_")) and value is not None
    ]
    known = [m for m in METRIC_NAMES if m in found]
    return known + [m for m in dict.fromkeys(found) if m not in METRIC_NAMES]


def _outcome(summary: dict) -> Optional[str]:
    """Describe how the run ended, e.g. ``early stopped after 57 epochs``."""
    parts = []
    if summary.get("status"):
        parts.append(STATUS_TEXT.get(summary["status"], summary["status"]))
    if summary.get("epochs_run") is not None:
        parts.append(f"after {summary['epochs_run']} epochs")
    if summary.get("best_epoch") is not None:
        parts.append(f"(best epoch {summary['best_epoch']})")
    if summary.get("seconds") is not None:
        parts.append(f"in {format_seconds(summary['seconds'])}")
    return " ".join(parts) or None


def render_summary(console: Console, summary: dict) -> None:
    """Print the end-of-training summary table and where the model went.

    Parameters
    ----------
    console : rich.console.Console
        Where to print; on a non-terminal rich emits no escape codes.
    summary : dict
        Optional keys: ``status``, ``epochs_run``, ``best_epoch``,
        ``seconds``, ``model`` (saved path or None), and ``train_<m>`` /
        ``val_<m>`` for ``m`` in loss, accuracy, rmse, mae, r2 (regression
        metrics are in the target's units) or any other metric name.
    """
    console.print(summary_table(summary))
    lines = [_outcome(summary)]
    if "model" in summary:
        model = summary["model"]
        lines.append(f"model saved to {model}" if model else "model not saved")
    for line in filter(None, lines):
        console.print(line, markup=False, highlight=False, soft_wrap=True)



# --- learning-rate sweeps -------------------------------------------------------------
BEST_STYLE, DIVERGED_STYLE, HALVED_STYLE, BAND_STYLE = "bold green", "red", "dim", "dim cyan"


def _loss_name(judged_on: str) -> str:
    return "validation loss" if judged_on == "val_loss" else "training loss"


def _at_epoch(run) -> str:
    return f" at epoch {run.best_epoch}" if run.best_epoch is not None else ""



def sweep_run_line(run, judged_on: str, done: int, total: int) -> str:
    """One line about a finished grid run, for the progress output."""
    head = f"[{done:>{len(str(total))}}/{total}] lr {format_rate(run.learning_rate)}: "
    if run.diverged:
        return head + f"diverged at epoch {run.diverged_epoch}"
    line = head + f"best {_loss_name(judged_on)} {_loss_text(run)}{_at_epoch(run)}"
    return line + (f"; {run.stopped}" if run.halved else "")


def _loss_text(run) -> str:
    """The judged loss, as mean ± sd with folds."""
    if run.fold_losses is None or run.sd is None:
        return format_value(run.best_loss)
    return f"{format_value(run.best_loss)} ± {format_value(run.sd)}"


def run_status_text(result, run) -> str:
    """The Status cell of a run: completed, unstable (epoch N: its first spike), stalled,
    diverged at epoch N, halved at epoch N."""
    status = result.status(run)
    if status == "diverged":
        return f"diverged at epoch {run.diverged_epoch}"
    text = {"unstable": f"unstable (epoch {run.unstable_epoch})", "stalled": "stalled"}.get(status, "")
    if run.halved:
        return f"{text}, {run.stopped}" if text else run.stopped
    return text or "completed"


def sweep_table(result) -> Table:
    """The grid sweep as a table, one row per learning rate, the recommended one marked.

    Parameters
    ----------
    result : nncli.commands.sweeping.SweepResult

    Returns
    -------
    rich.table.Table
    """
    judged = "Best val loss" if result.judged_on == "val_loss" else "Best train loss"
    folds = getattr(result, "folds", None)
    if folds:
        judged += f" (mean ± sd, {folds} folds)"
    how = (f"successive halving, up to {result.epochs} epochs" if getattr(result, "mode", "grid") == "halving"
           else f"{result.epochs} epochs per run")
    table = Table(title=f"Learning-rate sweep ({how})")
    table.add_column("Learning rate", justify="right")
    table.add_column("Final train loss", justify="right", style=TRAIN_STYLE)
    table.add_column(judged, justify="right", style=VAL_STYLE if result.judged_on == "val_loss" else TRAIN_STYLE)
    table.add_column("Best epoch", justify="right")
    table.add_column("Status")
    not_run = [(rate, None) for rate in getattr(result, "not_run", [])]  # an interrupted sweep
    for rate, run in sorted([(r.learning_rate, r) for r in result.runs] + not_run, key=lambda pair: pair[0]):
        if run is None:
            table.add_row(format_rate(rate), "-", "-", "-", "not run", style="dim")
            continue
        is_best = run is result.best
        table.add_row(
            format_rate(run.learning_rate) + (" ◀" if is_best else ""),
            format_value(run.train_loss),
            _loss_text(run),
            "-" if run.best_epoch is None else str(run.best_epoch),
            run_status_text(result, run),
            style=BEST_STYLE if is_best else None,
        )
    return table


def _markers(name: str, at: list, ys: list) -> tuple:
    """Vertical lines at the rates ``at``, spanning ``ys``: a series that marks rates."""
    finite = [y for y in ys if y is not None and math.isfinite(y)]
    xs, heights = [], []
    for x in at if finite else []:
        xs += [x, x, None]  # None breaks the line between two markers
        heights += [min(finite), max(finite), None]
    return name, xs, heights


def sweep_chart(result, width: int = 72, height: int = 10) -> Text:
    """The judged loss against the learning rate (log x) for the runs that did not
    diverge, with the recommended rate and the diverged rates marked. With folds, the
    mean ± sd band; with halving, the halved runs apart (their loss after fewer epochs)."""
    kept = [r for r in result.runs if not r.diverged and not r.halved]
    xs, ys = [r.learning_rate for r in kept], [r.best_loss for r in kept]
    extra = []
    if any(r.sd is not None for r in kept):
        band = [r for r in kept if r.sd is not None]
        extra.append(("mean ± sd", [r.learning_rate for r in band] + [None] + [r.learning_rate for r in band],
                      [r.best_loss + r.sd for r in band] + [None] + [max(r.best_loss - r.sd, 0) for r in band],
                      BAND_STYLE))
    halved = [r for r in result.runs if r.halved and not r.diverged]
    if halved:
        extra.append(("halved (fewer epochs)", [r.learning_rate for r in halved], [r.best_loss for r in halved],
                      HALVED_STYLE))
    marks = [("recommended", [result.best.learning_rate] if result.best else [], BEST_STYLE),
             ("diverged", [r.learning_rate for r in result.runs if r.diverged], DIVERGED_STYLE)]
    return _rate_chart(_loss_name(result.judged_on), xs, ys, marks, width, height, extra)


def _rate_chart(name, xs, ys, marks, width, height, extra=()) -> Text:
    span = ys + [y for _, _, values, _ in extra for y in values]
    series = [(name, xs, ys)] + [(label, x, y) for label, x, y, _ in extra] \
        + [_markers(label, at, span) for label, at, _ in marks if at]
    styles = (VAL_STYLE,) + tuple(style for *_, style in extra) + tuple(style for _, at, style in marks if at)
    logy = wants_log(ys)
    rows = line_chart_cells(series, width=width, height=height, logx=True, logy=logy,
                            x_label="learning rate (log scale)",
                            y_label=f"{name}{' (log scale)' if logy else ''}")
    return cells_to_text(rows, styles)


def sweep_advice(result, config_rate: Optional[float] = None) -> list[str]:
    """The recommendation as sentences; the first line names the rate.

    Parameters
    ----------
    result : nncli.commands.sweeping.SweepResult
    config_rate : float, optional
        The learning rate the config uses, for comparison.
    """
    best, name = result.best, _loss_name(result.judged_on)
    if not result.runs:
        return []
    if best is None:
        return [f"Every learning rate diverged; try smaller ones, e.g. "
                f"--min {format_rate(result.runs[0].learning_rate / 1000)} "
                f"--max {format_rate(result.runs[0].learning_rate)}."]
    folds = getattr(result, "folds", None)
    if folds:
        lines = [f"Recommended learning rate: {format_rate(best.learning_rate)} "
                 f"(best {name} {_loss_text(best)}, mean ± sd over {folds} folds)."]
    else:
        lines = [f"Recommended learning rate: {format_rate(best.learning_rate)} "
                 f"(best {name} {format_value(best.best_loss)}{_at_epoch(best)})."]
    lowest = result.lowest
    if lowest is not best:
        lines.append(f"{format_rate(lowest.learning_rate)} reached {format_value(lowest.best_loss)}, "
                     f"within 1%: the smaller rate is preferred.")
    if result.edge == "high":
        lines.append(f"It is the largest rate tried: the loss may fall further at larger rates; "
                     f"widen the grid, e.g. --max {format_rate(best.learning_rate * 10)}.")
    elif result.edge == "low":
        lines.append(f"It is the smallest rate tried: smaller rates may do better; "
                     f"widen the grid, e.g. --min {format_rate(best.learning_rate / 10)}.")
    diverged = [r for r in result.runs if r.diverged]
    if diverged:
        lines.append(f"{len(diverged)} of {len(result.runs)} rates diverged "
                     f"(the smallest: {format_rate(diverged[0].learning_rate)}).")
    lines += _quality_advice(result, name)
    if result.judged_on == "train_loss":
        lines.append("Judged on the training loss: the config has no validation data.")
    if config_rate is not None:
        lines.append(f"The config's learning rate is {format_rate(config_rate)}.")
    return lines


def _rates(runs) -> str:
    shown = ", ".join(format_rate(r.learning_rate) for r in runs[:5])
    return shown + (", ..." if len(runs) > 5 else "")


def _quality_advice(result, name: str) -> list[str]:
    """Lines on unstable and stalled runs, the folds and the halving."""
    lines = []
    status = getattr(result, "status", None)
    if status is not None:
        unstable = [r for r in result.runs if status(r) == "unstable"]
        stalled = [r for r in result.runs if status(r) == "stalled"]
        if unstable:
            lines.append(f"{len(unstable)} of {len(result.runs)} rates were unstable (the training loss went above "
                         f"4x its lowest, then came back): {_rates(unstable)}.")
        if stalled:
            lines.append(f"{len(stalled)} of {len(result.runs)} rates stalled at chance level (best {name} within "
                         f"2% of {format_value(result.chance)}, the loss of predicting the training prior): "
                         f"{_rates(stalled)}.")
            if result.best is not None and status(result.best) == "stalled":
                lines.append("Every rate that did not diverge stalled: the network learnt nothing at any of them; "
                             "check the data and the model, or try more --epochs.")
    if getattr(result, "folds", None):
        lines.append(f"Judged by {result.folds}-fold cross-validation on the training split (mean ± sd of the "
                     f"folds' best validation losses).")
    if getattr(result, "mode", "grid") == "halving":
        rungs = ", ".join(f"{rung['runs']} to epoch {rung['epochs']}" + (" (descent)" if rung["descent"] else "")
                          for rung in result.rungs)
        lines.append(f"Successive halving ({rungs}): {result.epochs_spent} epochs trained in all.")
    return lines


def render_sweep(console: Console, result, config_rate: Optional[float] = None) -> None:
    """Print a grid sweep: the table, the loss-vs-rate chart and the recommendation."""
    console.print(sweep_table(result))
    console.print(sweep_chart(result, width=min(console.width, 100)))
    for line in sweep_advice(result, config_rate):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def range_advice(result, config_rate: Optional[float] = None) -> list[str]:
    """The range test's suggestion as sentences (nncli.commands.sweeping.RangeResult)."""
    n = len(result.learning_rates)
    how = ("the smoothed loss exceeded 4x its minimum" if result.stopped == "exploded"
           else "the largest rate was reached")
    lines = [f"Range test: {n} updates from {result.learning_rates[0]:.3g} to "
             f"{result.learning_rates[-1]:.3g}; stopped because {how}."] if n else []
    if result.best is None:
        lines.append("No learning rate to suggest: the smoothed loss never fell; "
                     "try a smaller --min or more --steps.")
    else:
        lines.append(f"Suggested learning rate: {format_rate(result.best)} "
                     f"(steepest descent of the smoothed training loss).")
        if result.stopped != "exploded":
            lines.append("The loss did not blow up before --max: a larger --max may show more.")
    if config_rate is not None:
        lines.append(f"The config's learning rate is {format_rate(config_rate)}.")
    return lines


def render_range(console: Console, result, config_rate: Optional[float] = None) -> None:
    """Print a range test: the smoothed loss against the rate and the suggestion."""
    marks = [("suggested", [result.best] if result.best is not None else [], BEST_STYLE)]
    console.print(_rate_chart("smoothed training loss", result.learning_rates, result.smoothed,
                              marks, min(console.width, 100), 12))
    for line in range_advice(result, config_rate):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


# --- nncli evaluate -------------------------------------------------------------------
def evaluation_table(result: dict) -> Table:
    """One row per metric of an evaluation (see :func:`render_evaluation`)."""
    table = Table(title="Evaluation")
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    table.add_row("rows", str(result["n_rows"]))
    for key in ("loss", "accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "rmse", "mae", "r2"):
        if key in result:
            table.add_row(METRIC_NAMES[key], format_value(result[key]))
    return table


def class_table(result: dict) -> Table:
    """Precision, recall, F1 and support per class."""
    table = Table(title="Per class")
    for name in ("Class", "Precision", "Recall", "F1", "Support"):
        table.add_column(name, justify="left" if name == "Class" else "right")
    for label, s in result["per_class"].items():
        table.add_row(label, format_value(s["precision"]), format_value(s["recall"]),
                      format_value(s["f1"]), str(s["support"]))
    return table


def confusion_table(result: dict) -> Table:
    """The confusion matrix: one row per true class, one column per predicted class."""
    labels, matrix = result["confusion_matrix"]["labels"], result["confusion_matrix"]["matrix"]
    table = Table(title="Confusion matrix", caption="rows: true class · columns: predicted class")
    table.add_column("true \\ predicted")
    for label in labels:
        table.add_column(label, justify="right")
    for i, (label, row) in enumerate(zip(labels, matrix)):
        # The diagonal holds the correct predictions; set it apart.
        cells = [Text(str(n), style="bold green" if i == j else ("red" if n else "dim"))
                 for j, n in enumerate(row)]
        table.add_row(label, *cells)
    return table


def render_evaluation(console: Console, result: dict) -> None:
    """Print an evaluation: the metrics, and for classifiers per-class scores and the confusion matrix.

    Parameters
    ----------
    console : rich.console.Console
    result : dict
        ``n_rows``, ``loss`` and either ``rmse``, ``mae``, ``r2`` (regression) or
        ``accuracy``, ``per_class`` {label: {precision, recall, f1, support}} and
        ``confusion_matrix`` {labels, matrix} (classification).
    """
    console.print(evaluation_table(result))
    if "per_class" in result:
        console.print(class_table(result))
        console.print(confusion_table(result))


# --- nncli inspect --------------------------------------------------------------------
def architecture_table(info: dict) -> Table:
    """Input size, then one row per layer with its shapes and parameter count."""
    table = Table(title=f"Architecture ({info['parameters']:,} parameters, {info['dtype']})")
    for name in ("Layer", "Units", "Activation", "W", "b", "Parameters"):
        table.add_column(name, justify="left" if name in ("Layer", "Activation") else "right")
    table.add_row("input", str(len(info["features"])), "", "", "", "")
    for l, (layer, shape) in enumerate(zip(info["layers"], info["layer_shapes"]), start=1):
        activation = layer["activation"] + (f" (alpha {layer['alpha']:g})" if "alpha" in layer else "")
        table.add_row(str(l), str(layer["units"]), activation, " × ".join(map(str, shape["W"])),
                      str(shape["b"][0]), f"{shape['parameters']:,}")
    return table


def features_table(info: dict) -> Table:
    """Each input column, how it is encoded, and the centre and scale of each encoded feature;
    the impute value and the clipping bound when the model has them (format version 2)."""
    prep = info["preprocessing"]
    per_column = prep.get("columns") or [{} for _ in info["columns"]]
    imputes = any(p.get("impute") is not None for p in per_column)
    clips = prep.get("clip") is not None
    scaling = prep.get("scaling", "standard")
    title = {"robust": "Features (z = (x - median) / IQR)", "none": "Features (not scaled)"}.get(
        scaling, "Features (z = (x - mean) / std)") + (f", clipped smoothly to ±{format_value(prep['clip'])}"
                                                          if clips else "")
    table = Table(title=title)
    names = ["Column", "Kind", "Encoded feature", "Mean", "Std"] + ["Impute"] * imputes + ["Clip"] * clips
    if scaling == "robust":
        names[3:5] = ["Median", "IQR"]
    for name in names:
        table.add_column(name, justify="right" if name not in ("Column", "Kind", "Encoded feature") else "left")
    means, stds = prep["x_mean"], prep["x_std"]
    j = 0

    def row(column, kind, feature, impute="", clip=""):
        nonlocal j
        table.add_row(column, kind, feature, format_value(means[j]), format_value(stds[j]),
                      *[impute] * imputes, *[clip] * clips)
        j += 1

    for column, p in zip(info["columns"], per_column):
        fill = "" if p.get("impute") is None else (format_value(p["impute"]) if column["kind"] == "numeric"
                                                   else str(p["impute"]))
        if column["kind"] == "numeric":
            row(column["name"], "numeric", column["name"], fill, format_value(prep["clip"]) if clips else "")
        for k, category in enumerate(column["categories"] if column["kind"] == "categorical" else []):
            row(column["name"] if k == 0 else "", "one-hot" if k == 0 else "", f"{column['name']}={category}",
                fill if k == 0 else "")
        if p.get("indicator"):
            row("", "indicator", p["indicator"])
    return table


_INVERSES = {"log1p": "expm1 (back in the target's units)"}


def target_lines(info: dict) -> list[str]:
    """The target, the task and the loss in words."""
    task, target = info["task"], info["target"]
    if task == "regression":
        prep = info["preprocessing"]
        scaling = (f"predicted as z and returned as z * {format_value(prep['y_std'][0])} + "
                   f"{format_value(prep['y_mean'][0])}")
        if (prep.get("target") or {}).get("transform", "none") != "none":
            transform = prep["target"]["transform"]
            scaling = f"learnt as {transform}(target), {scaling}, then {_INVERSES[transform]}"
        lines = [f"target {target!r}: regression, {scaling}"]
    else:
        lines = [f"target {target!r}: {task} classification, {len(info['classes'])} classes: "
                 + ", ".join(info["classes"])]
    return lines + [f"loss {info['loss']}"]


def config_table(config: dict) -> Table:
    """The training config, one dotted key per row."""
    table = Table(title="Training config")
    table.add_column("Key")
    table.add_column("Value")
    for key, value in _flatten(config):
        table.add_row(key, "-" if value is None else str(value))
    return table


def _flatten(value, prefix=""):
    """(dotted key, value) pairs of nested dicts; lists of dicts are numbered."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, item in enumerate(value):
            yield from _flatten(item, f"{prefix}.{i}")
    else:
        yield prefix, value


def render_inspection(console: Console, info: dict, title: str = "") -> None:
    """Print what a model file holds (``info`` as from ``nncli.commands.inspect.describe``)."""
    for line in ([title] if title else []) + target_lines(info):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(architecture_table(info))
    console.print(features_table(info))
    console.print(config_table(info["config"]))
    if info.get("metrics"):
        table = summary_table(info["metrics"])
        table.title = "Final metrics"
        console.print(table)
    if info.get("export"):
        console.print(export_table(info["export"]))


def export_table(export: dict) -> Table:
    """The inputs and outputs of the model's ONNX export, one row each."""
    table = Table(title=f"ONNX export (nncli export; opset {export['opset']}, ai.onnx.ml {export['ml_opset']})")
    for name in ("", "Name", "Type", "Shape", "Missing value"):
        table.add_column(name)
    for role in ("inputs", "outputs"):
        for k, item in enumerate(export[role]):
            shape = "[" + ", ".join(map(str, item["shape"])) + "]"
            table.add_row(role[:-1] if k == 0 else "", item["name"], item["type"], shape, _missing_cell(item))
    return table


def _missing_cell(item: dict) -> Text:
    """How an input's missing value is written (NaN or ""), and what replaces it: "NaN, imputed: 3.2"."""
    if "missing" not in item:
        return Text("")
    written = "NaN" if item["missing"] == "NaN" else '""'
    if item.get("imputed") is None:
        return Text(written)
    value = item["imputed"]
    return Text(f"{written}, imputed: {value:.6g}" if isinstance(value, float) else f"{written}, imputed: {value}")


# --- nncli check ----------------------------------------------------------------------
def render_check(console: Console, report: dict, config) -> None:
    """Print what ``nncli check`` found: the resolved config with sources, the data, the network."""
    table = Table(title=f"Config {config}", title_justify="left")
    for name in ("key", "value", "from"):
        table.add_column(name)
    for key, item in report["config"].items():
        value = item["value"]
        shown = format_value(value) if isinstance(value, float) else str(value)
        table.add_row(key, shown, item["source"], style="dim" if item["source"] == "default" else None)
    console.print(table)

    d = report["data"]
    console.print(f"[bold]Data[/bold] {d['path']}: {d['rows']} rows; {d['rows_used']} used after the "
                  f"missing-value policy ({d['missing_policy']}): {d['train_rows']} training, "
                  f"{d['validation_rows']} validation; task {d['task']}, target {d['target']!r}",
                  highlight=False)
    columns = Table(title="Columns used", title_justify="left")
    for name in ("column", "kind", "missing"):
        columns.add_column(name)
    for c in d["columns"]:
        kind = c["kind"] + (f" ({c['categories']} categories)" if c["kind"] == "categorical" else "")
        columns.add_row(c["name"], kind, str(d["missing"].get(c["name"], 0)))
    columns.add_row(f"{d['target']} (target)", d["task"], str(d["missing"].get(d["target"], 0)))
    console.print(columns)
    if "classes" in d:
        console.print("Classes: " + ", ".join(f"{k} ({v})" for k, v in d["classes"].items()), highlight=False)

    n = report["network"]
    net = Table(title=f"Network: {n['inputs']} inputs, {n['parameters']} parameters", title_justify="left")
    for name in ("layer", "W", "b", "activation", "parameters"):
        net.add_column(name)
    for i, layer in enumerate(n["layers"]):
        net.add_row(str(i + 1), "×".join(map(str, layer["W"])), str(layer["b"][0]), layer["activation"],
                    str(layer["parameters"]))
    console.print(net)
    warnings = len(report["warnings"])
    console.print(f"{config} is valid" + (f", with {warnings} warning(s) (on stderr)" if warnings else ""),
                  highlight=False)


# --- nncli runs -----------------------------------------------------------------------
_METRIC_LABELS = {"val_accuracy": "accuracy", "val_r2": "R²", "learning_rate": "best lr"}


def render_runs(console: Console, rows: list, folder) -> None:
    """Print the table of ``nncli runs``, newest first."""
    def shown(value):
        return "" if value is None else format_value(value) if isinstance(value, float) else str(value)

    table = Table(title=f"{len(rows)} run(s) in {folder}, newest first" if rows else f"no runs in {folder}",
                  title_justify="left")
    for name, justify in (("time (UTC)", "left"), ("config", "left"), ("status", "left"), ("epochs", "right"),
                          ("best val loss", "right"), ("final val loss", "right"), ("metric", "right"),
                          ("seconds", "right"), ("folder", "left")):
        table.add_column(name, justify=justify, no_wrap=name in ("time (UTC)", "folder"))
    for r in rows:
        metric = "" if r["metric"] is None else f"{_METRIC_LABELS.get(r['metric'], r['metric'])} " \
                                                f"{shown(r['metric_value'])}"
        config = r["config"] + (f" ({r['command']})" if r["command"] != "train" else "")
        table.add_row(shown(r["time"]).replace("T", " ").rstrip("Z"), config, shown(r["status"]), shown(r["epochs"]),
                      shown(r["best_val_loss"]), shown(r["final_val_loss"]), metric, shown(r["seconds"]), r["run"])
    if not console.is_terminal:  # nine columns do not fit rich's 80 for a pipe or a file: lines may be long there
        console = Console(file=console.file, width=max(console.width, 160), no_color=console.no_color)
    console.print(table)
