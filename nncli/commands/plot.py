"""``nncli plot``: training curves (history CSVs, run folders) or a sweep's loss against the
learning rate, in the terminal or, with ``-o``, as a PNG or SVG image (matplotlib)."""

from pathlib import Path
from typing import Annotated, Optional

import typer

PLOT_EXTRA_MESSAGE = "writing an image needs matplotlib, which is not installed: pip install 'nncli[plot]'"
FORMATS = (".png", ".svg")
DPI = 100


def plot(
    inputs: Annotated[list[Path], typer.Argument(
        metavar="INPUT...", readable=False, show_default=False,
        help="History CSV files (train --history), sweep JSON files (lr-sweep --json) or run folders "
             "(--run-dir); several are drawn on one plot, labelled, to compare them.")],
    output: Annotated[Optional[Path], typer.Option(
        "-o", "--output", metavar="FILE", readable=False,
        help="Write the plot as an image, FILE.png or FILE.svg (needs matplotlib: pip install 'nncli[plot]') instead of "
             "drawing it in the terminal.")] = None,
    log: Annotated[Optional[bool], typer.Option(
        "--log/--linear", help="Logarithmic or linear y axis [default: log for losses, linear for metrics].",
        show_default=False)] = None,
    metric: Annotated[str, typer.Option(
        "--metric", metavar="NAME", help="History column to draw: loss (train and validation), or a "
                                         "metric such as accuracy, rmse, r2 (its train_/val_ columns).")] = "loss",
    size: Annotated[str, typer.Option("--size", metavar="SIZE", help="Image size in pixels, WIDTHxHEIGHT, with -o.")] = "800x500",
):
    """Draw training curves, or a sweep's loss against the learning rate.

    In the terminal with nncli's chart, or as an image with -o. Diverged sweep runs are
    marked in red.

    Example: nncli plot runs/*-iris -o curves.png --metric accuracy
    """
    from nncli.errors import UsageError

    sources = [load_source(path) for path in inputs]
    kinds = {s["kind"] for s in sources}
    if len(kinds) > 1:
        raise UsageError("cannot draw training histories and sweeps on one plot; give one kind of input")
    kind = kinds.pop()
    labels = _labels(inputs)
    if kind == "history":
        spec = history_series(sources, labels, metric)
    else:
        if metric != "loss":
            raise UsageError("--metric applies to training histories; a sweep plots its loss")
        spec = sweep_series(sources, labels)
    spec["log"] = spec["positive"] and spec["log_default"] if log is None else log
    if output is None:
        draw_terminal(spec)
    else:
        write_image(spec, output, _size(size))


# --- reading ----------------------------------------------------------------------------
def load_source(path):
    """{"kind": history|sweep|range, "data": ...} for a history CSV, a sweep JSON or a run folder."""
    import json

    from nncli.errors import UsageError
    from nncli.io import runs

    path = Path(path)
    if path.is_dir():
        for name in (runs.HISTORY, runs.SWEEP):
            if (path / name).is_file():
                return load_source(path / name)
        raise UsageError(f"{path} holds neither {runs.HISTORY} nor {runs.SWEEP}; give a run folder of "
                         "nncli train or lr-sweep --run-dir")
    if not path.is_file():
        raise UsageError(f"{path} does not exist; give a history CSV, a sweep JSON or a run folder")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("runs"), list):
                return {"kind": "sweep", "data": data}
            if isinstance(data, dict) and isinstance(data.get("points"), list):
                return {"kind": "range", "data": data}
            raise UsageError(f"{path} is not the JSON of nncli lr-sweep --json (no 'runs' or 'points')")
        history = runs.read_history(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if "epoch" not in history or "train_loss" not in history:
        raise UsageError(f"{path} is not a history CSV of nncli train --history "
                         "(epoch,train_loss,val_loss,...) or has no rows")
    return {"kind": "history", "data": history}


def _labels(inputs):
    """Short labels: the run folder's or file's name, made unique."""
    names = []
    for path in inputs:
        path = Path(path)
        if path.is_dir():
            name = path.resolve().name
        elif path.stem in ("history", "sweep"):  # a run folder's file: name it by the folder
            name = path.resolve().parent.name
        else:
            name = path.stem
        names.append(name or str(path))
    return [n if names.count(n) == 1 else f"{n} ({i + 1})" for i, n in enumerate(names)]


def history_series(sources, labels, metric):
    """The curves to draw: [(label, xs, ys, style)] and the axis captions."""
    from nncli.errors import UsageError

    series = []
    for source, label in zip(sources, labels):
        h = source["data"]
        columns = [c for c in (f"train_{metric}", f"val_{metric}", metric) if c in h]
        columns = [c for c in columns if any(v is not None for v in h[c])]
        if not columns:
            found = sorted({c.removeprefix("train_").removeprefix("val_") for c in h
                            if c not in ("epoch", "seconds")})
            raise UsageError(f"--metric {metric}: no such column in the history of {label}; "
                             f"choose one of: {', '.join(found)}")
        for column in columns:
            part = "train" if column.startswith("train_") else "validation"
            name = part if len(sources) == 1 else f"{label} {part}"
            series.append((name, h["epoch"], h[column], "dashed" if part == "train" else "solid"))
    values = [y for _, _, ys, _ in series for y in ys if y is not None]
    title = "loss" if metric == "loss" else metric
    return {"series": series, "markers": [], "x_label": "epoch", "y_label": title, "logx": False,
            "positive": bool(values) and min(values) > 0, "log_default": metric == "loss"}


def sweep_series(sources, labels):
    """The loss against the learning rate for each sweep; diverged runs as markers."""
    series, markers = [], []
    judged = set()
    for source, label in zip(sources, labels):
        data = source["data"]
        prefix = "" if len(sources) == 1 else f"{label} "
        if source["kind"] == "range":
            points = data["points"]
            series.append((f"{prefix}smoothed training loss", [p["learning_rate"] for p in points],
                           [p.get("smoothed_loss") for p in points], "solid"))
            judged.add("smoothed training loss")
            continue
        key = data.get("judged_on", "val_loss")
        judged.add("validation loss" if key == "val_loss" else "training loss")
        kept = [r for r in data["runs"] if not r.get("diverged")]
        series.append((f"{prefix}{'validation' if key == 'val_loss' else 'training'} loss",
                       [r["learning_rate"] for r in kept], [r.get(key) for r in kept], "solid"))
        diverged = [r["learning_rate"] for r in data["runs"] if r.get("diverged")]
        if diverged:
            markers.append((f"{prefix}diverged", diverged))
    values = [y for _, _, ys, _ in series for y in ys if y is not None]
    return {"series": series, "markers": markers, "x_label": "learning rate", "logx": True,
            "y_label": " / ".join(sorted(judged)), "positive": bool(values) and min(values) > 0,
            "log_default": True}


# --- drawing ----------------------------------------------------------------------------
PALETTE = ("cyan", "magenta", "yellow", "green", "blue", "bright_white", "bright_cyan", "bright_magenta")
DIVERGED = "red"


def draw_terminal(spec):
    import math

    from nncli.ui import console as rich_console
    from nncli.ui.chart import line_chart_cells
    from nncli.ui.format import cells_to_text

    series = [(name, xs, ys) for name, xs, ys, _ in spec["series"]]
    styles = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    finite = [y for _, _, ys in series for y in ys if y is not None and math.isfinite(y)]
    for name, at in spec["markers"]:
        xs, ys = [], []
        for x in at if finite else []:  # a vertical line at each diverged rate, None between
            xs += [x, x, None]
            ys += [min(finite), max(finite), None]
        series.append((name, xs, ys))
        styles.append(DIVERGED)
    console = rich_console()
    scale = " (log scale)" if spec["log"] else ""
    rows = line_chart_cells(series, width=max(40, min(console.width, 100)), height=14, logx=spec["logx"],
                            logy=spec["log"], x_label=spec["x_label"] + (" (log scale)" if spec["logx"] else ""),
                            y_label=spec["y_label"] + scale)
    console.print(cells_to_text(rows, tuple(styles)))


def _size(text):
    from nncli.errors import UsageError

    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size {text!r}: expected WIDTHxHEIGHT in pixels, e.g. 800x500") from None
    if not (16 <= width <= 10_000 and 16 <= height <= 10_000):
        raise UsageError(f"--size {text!r}: width and height must be between 16 and 10000 pixels")
    return width, height


def write_image(spec, output, size):
    """Write the plot to ``output`` (.png or .svg) with matplotlib, atomically."""
    from nncli.errors import UsageError
    from nncli.io.atomic import atomic_write, check_writable

    suffix = Path(output).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"-o {output}: the image format comes from the name; end it in .png or .svg")
    check_writable(output, "image file")
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError(PLOT_EXTRA_MESSAGE) from None

    fig = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    colors = [f"C{i % 10}" for i in range(len(spec["series"]))]
    for (name, xs, ys, style), color in zip(spec["series"], colors):
        points = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
        ax.plot([p[0] for p in points], [p[1] for p in points], label=name, color=color,
                linestyle="--" if style == "dashed" else "-", marker="o" if spec["logx"] else None,
                markersize=3)
    for name, at in spec["markers"]:
        for i, x in enumerate(at):
            ax.axvline(x, color="red", linestyle=":", label=name if i == 0 else None)
    if spec["logx"]:
        ax.set_xscale("log")
    if spec["log"]:
        ax.set_yscale("log")
    ax.set_xlabel(spec["x_label"])
    ax.set_ylabel(spec["y_label"])
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    with atomic_write(output, "wb") as f:
        fig.savefig(f, format=suffix[1:], dpi=DPI)
