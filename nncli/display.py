"""Terminal display of a training run, driven by training-loop callbacks.

This is the only nncli module that imports rich, so the rest of the package
stays usable (and fast to import) without a terminal. A display is a callback:
the training loop calls ``on_train_begin``, ``on_epoch_end``, ``on_batch_end``
and ``on_train_end`` on it and never prints anything itself.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Callable, Iterable, Optional

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from nncli.chart import Cell, line_chart_cells

TRAIN_STYLE, VAL_STYLE = "cyan", "magenta"
SERIES_STYLES = (TRAIN_STYLE, VAL_STYLE)
STATUS_TEXT = {
    "completed": "completed",
    "early_stopped": "early stopped",
    "diverged": "diverged",
    "interrupted": "interrupted",
}
METRIC_NAMES = {"loss": "loss", "accuracy": "accuracy", "rmse": "RMSE", "mae": "MAE", "r2": "R²"}


def display_mode(console: Console, quiet: bool) -> str:
    """Choose how a training run is shown on ``console``.

    Parameters
    ----------
    console : rich.console.Console
        Where the display writes.
    quiet : bool
        The user asked for no progress output.

    Returns
    -------
    str
        ``"quiet"``, ``"live"`` for an interactive terminal, else ``"plain"``.
    """
    if quiet:
        return "quiet"
    # A dumb terminal cannot move the cursor, so Live would print every frame.
    if console.is_terminal and not console.is_dumb_terminal:
        return "live"
    return "plain"


def format_value(value) -> str:
    """Format a loss or metric for humans: fixed decimals, exponent if tiny.

    Parameters
    ----------
    value : float, int or None

    Returns
    -------
    str
        ``"-"`` for None, ``"nan"``/``"inf"`` for non-finite values.
    """
    if value is None:
        return "-"
    value = float(value)  # numpy scalars and ints alike
    if not math.isfinite(value):
        return str(value)
    if value == 0 or 1e-3 <= abs(value) < 1e3:
        return f"{value:.4f}"
    if 1e3 <= abs(value) < 1e7:
        return f"{value:.1f}"
    return f"{value:.3e}"


def format_seconds(seconds: float) -> str:
    """Format a duration as ``"4.2 s"``, ``"3m 07s"`` or ``"1h 02m"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


def _metric_items(logs: dict) -> Iterable[tuple[str, float]]:
    """Yield the losses and metrics of an epoch's logs, losses first."""
    for key in ("train_loss", "val_loss"):
        if logs.get(key) is not None:
            yield key, logs[key]
    for key, value in logs.items():
        if key.startswith(("train_", "val_")) and not key.endswith("_loss") and value is not None:
            yield key, value


class TrainingDisplay:
    """Show a training run on a console; a callback for the training loop.

    ``TrainingDisplay(console, mode=...)`` returns the subclass for that
    mode: :class:`LiveDisplay`, :class:`PlainDisplay` or
    :class:`QuietDisplay`. Use it as a context manager so that an exception
    escaping training still stops the live display.

    Parameters
    ----------
    console : rich.console.Console, optional
        Where to write; a stderr console is created if None.
    mode : {"live", "plain", "quiet"}
        See :func:`display_mode`.
    title : str
        Shown as the progress bar's description or in the plain header.
    refresh_per_second : float
        Live mode only: how often the display redraws.
    clock : callable
        Live mode only: returns seconds; replace it in tests.
    """

    mode = "quiet"

    def __new__(cls, console: Optional[Console] = None, *, mode: Optional[str] = None, **options):
        if cls is TrainingDisplay:
            if mode not in DISPLAYS:
                raise ValueError(f"unknown display mode {mode!r}; expected one of {sorted(DISPLAYS)}")
            cls = DISPLAYS[mode]
        return super().__new__(cls)

    def __init__(
        self,
        console: Optional[Console] = None,
        *,
        mode: Optional[str] = None,
        title: str = "",
        refresh_per_second: float = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console if console is not None else Console(stderr=True)
        self.title = title
        self.refresh_per_second = refresh_per_second
        self.clock = clock

    def __enter__(self) -> "TrainingDisplay":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Release the terminal; safe to call more than once."""

    def on_train_begin(self, logs: dict) -> None:
        """Training starts: ``logs`` has epochs, n_train, n_val and task."""

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        """Epoch ``epoch`` (1-based) finished with these losses and metrics."""

    def on_batch_end(self, step: int, logs: dict) -> None:
        """Called per batch; deliberately ignored to keep batches fast."""

    def on_train_end(self, logs: dict) -> None:
        """Training ended: ``logs`` has status and epochs_run."""


class QuietDisplay(TrainingDisplay):
    """A display that shows nothing: every callback is inherited as a no-op."""

    mode = "quiet"


class PlainDisplay(TrainingDisplay):
    """Log lines for non-terminals: about one line per 10% of the epochs.

    Prints no escape codes and never redraws, so output stays readable in log
    files and CI logs.
    """

    mode = "plain"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._total = 0
        self._every = 1
        self._last: Optional[tuple[int, dict]] = None
        self._printed_epoch = 0

    def on_train_begin(self, logs: dict) -> None:
        self._total = int(logs.get("epochs") or 0)
        self._every = max(1, math.ceil(self._total / 10))
        name = f" {self.title}" if self.title else ""
        self._say(
            f"training{name}: {self._total} epochs, {logs.get('n_train', 0)} train / "
            f"{logs.get('n_val', 0)} validation samples ({logs.get('task', '?')})"
        )

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._last = (epoch, logs)
        if epoch % self._every == 0 or epoch == self._total:
            self._print_epoch(epoch, logs)

    def on_train_end(self, logs: dict) -> None:
        # Early stopping or divergence ends off the 10% grid: still show where.
        if self._last is not None and self._last[0] != self._printed_epoch:
            self._print_epoch(*self._last)

    def _print_epoch(self, epoch: int, logs: dict) -> None:
        width = len(str(self._total))
        parts = [f"epoch {epoch:>{width}}/{self._total}"]
        parts += [f"{key} {format_value(value)}" for key, value in _metric_items(logs)]
        self._say("  ".join(parts))
        self._printed_epoch = epoch

    def _say(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)


class LiveDisplay(TrainingDisplay):
    """An animated progress bar, current losses and a growing loss chart.

    ``on_epoch_end`` only appends numbers to lists; all rendering happens in
    :meth:`__rich__`, which ``rich.live.Live`` calls at most
    ``refresh_per_second`` times per second, so the cost of the display does
    not grow with the number of epochs per second.
    """

    mode = "live"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._epochs: list[int] = []
        self._train: list[Optional[float]] = []
        self._val: list[Optional[float]] = []
        self._logs: dict = {}
        self._has_val = False
        self._status: Optional[str] = None
        self._task_stopped = False
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("epochs"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            get_time=self.clock,
        )
        self._task = None
        self._live: Optional[Live] = None

    def on_train_begin(self, logs: dict) -> None:
        self._has_val = bool(logs.get("n_val"))
        self._task = self._progress.add_task(self.title or "training", total=logs.get("epochs"))
        self._live = Live(
            self,
            console=self.console,
            refresh_per_second=self.refresh_per_second,
            transient=False,
        )
        # No synchronous first frame: Live draws it on its own thread within 1/refresh_per_second s,
        # which keeps the display off the critical path of short runs.
        self._live.start(refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        # Keep this O(1): the render thread reads these lists on its own.
        self._epochs.append(epoch)
        self._train.append(logs.get("train_loss"))
        self._val.append(logs.get("val_loss"))
        self._logs = logs

    def on_train_end(self, logs: dict) -> None:
        self._status = logs.get("status")
        self.close()

    def close(self) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()  # renders one last frame and leaves it on screen

    def __rich__(self) -> Group:
        # Appends on the training thread may be half done; use complete epochs.
        n = min(len(self._epochs), len(self._train), len(self._val))
        self._sync_progress(n)
        width = self.console.width
        height = max(4, min(12, self.console.height - 8))
        return Group(self._progress, self._loss_line(), self._chart(n, width, height))

    def _sync_progress(self, n: int) -> None:
        if self._task is None:
            return
        if self._status is None:
            self._progress.update(self._task, completed=n)
            return
        description = STATUS_TEXT.get(self._status, self._status)
        self._progress.update(self._task, completed=n, description=description)
        if not self._task_stopped:  # freeze the elapsed time at the end
            self._progress.stop_task(self._task)
            self._task_stopped = True

    def _loss_line(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for key, value in _metric_items(self._logs):
            style = VAL_STYLE if key.startswith("val_") else TRAIN_STYLE
            text.append(key, style=style)
            text.append(f" {format_value(value)}   ")
        return text

    def _chart(self, n: int, width: int, height: int) -> Text:
        keep = _sample_indices(n, 2 * width)
        xs = [self._epochs[i] for i in keep]
        series = [("train", xs, [self._train[i] for i in keep])]
        if self._has_val:
            series.append(("validation", xs, [self._val[i] for i in keep]))
        values = [v for _, _, ys in series for v in ys if v is not None and math.isfinite(v)]
        # Losses span decades; a log axis shows late progress, when it can.
        logy = bool(values) and min(values) > 0
        rows = line_chart_cells(
            series, width=width, height=height, logy=logy,
            x_label="epoch", y_label="loss (log scale)" if logy else "loss",
        )
        return cells_to_text(rows, SERIES_STYLES)


def _sample_indices(n: int, limit: int) -> list[int]:
    """Pick at most ``limit`` evenly spread indices of ``range(n)``, ends kept.

    The chart cannot show more points than it has dot columns, and drawing
    them all would make each refresh slower as the run gets longer.
    """
    if n <= limit:
        return list(range(n))
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


def cells_to_text(rows: list[list[Cell]], styles: tuple[str, ...]) -> Text:
    """Turn chart cells into a rich Text, styling each series' cells.

    Parameters
    ----------
    rows : list of list of (str, int or None)
        As returned by :func:`nncli.chart.line_chart_cells`.
    styles : tuple of str
        Style of series 0, 1, ...; cycled when there are more series.

    Returns
    -------
    rich.text.Text
    """
    text = Text(no_wrap=True, overflow="crop")
    for number, row in enumerate(rows):
        if number:
            text.append("\n")
        # One span per run of same-series cells keeps the Text small.
        for index, cells in itertools.groupby(row, key=lambda cell: cell[1]):
            style = None if index is None else styles[index % len(styles)]
            text.append("".join(ch for ch, _ in cells), style=style)
    return text


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


DISPLAYS = {"live": LiveDisplay, "plain": PlainDisplay, "quiet": QuietDisplay}


# --- learning-rate sweeps -------------------------------------------------------------
BEST_STYLE, DIVERGED_STYLE = "bold green", "red"


class SweepProgress:
    """Progress of a sweep on stderr: a bar of runs done on a terminal, a line per run.

    Parameters
    ----------
    console : rich.console.Console
    mode : {"live", "plain", "quiet"}
        See :func:`display_mode`.
    total : int
        Number of steps (runs of a grid, updates of a range test).
    unit : str
        Shown after the count, e.g. ``"runs"``.
    title : str
        Printed first, in live and plain mode.
    clock : callable
        Live mode only: returns seconds; replace it in tests.
    """

    def __init__(self, console: Console, *, mode: str, total: int, unit: str = "runs",
                 title: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self.console, self.mode, self.total = console, mode, total
        self._progress: Optional[Progress] = None
        if mode == "quiet":
            return
        if title:
            self.say(title)
        if mode == "live":
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn(unit), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                console=console, get_time=clock, transient=True,
            )
            self._task = self._progress.add_task("lr-sweep", total=total)
            self._progress.start()

    def __enter__(self) -> "SweepProgress":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def advance(self, line: Optional[str] = None) -> None:
        """One more step done; ``line`` (if any) is printed above the bar."""
        if line is not None:
            self.say(line)
        if self._progress is not None:
            self._progress.advance(self._task)

    def say(self, line: str) -> None:
        """Print a line (nothing in quiet mode)."""
        if self.mode != "quiet":
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        """Remove the bar; safe to call more than once."""
        if self._progress is not None:
            progress, self._progress = self._progress, None
            progress.stop()


def _loss_name(judged_on: str) -> str:
    return "validation loss" if judged_on == "val_loss" else "training loss"


def _at_epoch(run) -> str:
    return f" at epoch {run.best_epoch}" if run.best_epoch is not None else ""


def format_rate(rate: float) -> str:
    """A learning rate as typed on a command line: ``0.001``, ``3.16e-05``."""
    return f"{rate:.12g}"


def sweep_run_line(run, judged_on: str, done: int, total: int) -> str:
    """One line about a finished grid run, for the progress output."""
    head = f"[{done:>{len(str(total))}}/{total}] lr {format_rate(run.learning_rate)}: "
    if run.diverged:
        return head + f"diverged at epoch {run.diverged_epoch}"
    return head + f"best {_loss_name(judged_on)} {format_value(run.best_loss)}{_at_epoch(run)}"


def sweep_table(result) -> Table:
    """The grid sweep as a table, one row per learning rate, the recommended one marked.

    Parameters
    ----------
    result : nncli.sweep.SweepResult

    Returns
    -------
    rich.table.Table
    """
    judged = "Best val loss" if result.judged_on == "val_loss" else "Best train loss"
    table = Table(title=f"Learning-rate sweep ({result.epochs} epochs per run)")
    table.add_column("Learning rate", justify="right")
    table.add_column("Final train loss", justify="right", style=TRAIN_STYLE)
    table.add_column(judged, justify="right", style=VAL_STYLE if result.judged_on == "val_loss" else TRAIN_STYLE)
    table.add_column("Best epoch", justify="right")
    table.add_column("Diverged")
    for run in result.runs:
        is_best = run is result.best
        table.add_row(
            format_rate(run.learning_rate) + (" ◀" if is_best else ""),
            format_value(run.train_loss),
            format_value(run.best_loss),
            "-" if run.best_epoch is None else str(run.best_epoch),
            f"at epoch {run.diverged_epoch}" if run.diverged else "no",
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
    diverge, with the recommended rate and the diverged rates marked."""
    kept = [r for r in result.runs if not r.diverged]
    xs, ys = [r.learning_rate for r in kept], [r.best_loss for r in kept]
    marks = [("recommended", [result.best.learning_rate] if result.best else [], BEST_STYLE),
             ("diverged", [r.learning_rate for r in result.runs if r.diverged], DIVERGED_STYLE)]
    return _rate_chart(_loss_name(result.judged_on), xs, ys, marks, width, height)


def _rate_chart(name, xs, ys, marks, width, height) -> Text:
    series = [(name, xs, ys)] + [_markers(label, at, ys) for label, at, _ in marks if at]
    styles = (VAL_STYLE,) + tuple(style for _, at, style in marks if at)
    finite = [y for y in ys if y is not None and math.isfinite(y)]
    logy = bool(finite) and min(finite) > 0
    rows = line_chart_cells(series, width=width, height=height, logx=True, logy=logy,
                            x_label="learning rate (log scale)",
                            y_label=f"{name}{' (log scale)' if logy else ''}")
    return cells_to_text(rows, styles)


def sweep_advice(result, config_rate: Optional[float] = None) -> list[str]:
    """The recommendation as sentences; the first line names the rate.

    Parameters
    ----------
    result : nncli.sweep.SweepResult
    config_rate : float, optional
        The learning rate the config uses, for comparison.
    """
    best, name = result.best, _loss_name(result.judged_on)
    if best is None:
        return [f"Every learning rate diverged; try smaller ones, e.g. "
                f"--min {format_rate(result.runs[0].learning_rate / 1000)} "
                f"--max {format_rate(result.runs[0].learning_rate)}."]
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
    if result.judged_on == "train_loss":
        lines.append("Judged on the training loss: the config has no validation data.")
    if config_rate is not None:
        lines.append(f"The config's learning rate is {format_rate(config_rate)}.")
    return lines


def render_sweep(console: Console, result, config_rate: Optional[float] = None) -> None:
    """Print a grid sweep: the table, the loss-vs-rate chart and the recommendation."""
    console.print(sweep_table(result))
    console.print(sweep_chart(result, width=min(console.width, 100)))
    for line in sweep_advice(result, config_rate):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def range_advice(result, config_rate: Optional[float] = None) -> list[str]:
    """The range test's suggestion as sentences (nncli.sweep.RangeResult)."""
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
    for key in ("loss", "accuracy", "rmse", "mae", "r2"):
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
    """Each input column, how it is encoded, and the standardisation of each encoded feature."""
    table = Table(title="Features (z = (x - mean) / std)")
    for name in ("Column", "Kind", "Encoded feature", "Mean", "Std"):
        table.add_column(name, justify="right" if name in ("Mean", "Std") else "left")
    means, stds = info["preprocessing"]["x_mean"], info["preprocessing"]["x_std"]
    j = 0
    for column in info["columns"]:
        if column["kind"] == "numeric":
            table.add_row(column["name"], "numeric", column["name"], format_value(means[j]), format_value(stds[j]))
            j += 1
            continue
        for k, category in enumerate(column["categories"]):
            table.add_row(column["name"] if k == 0 else "", "one-hot" if k == 0 else "",
                          f"{column['name']}={category}", format_value(means[j]), format_value(stds[j]))
            j += 1
    return table


def target_lines(info: dict) -> list[str]:
    """The target, the task and the loss in words."""
    task, target = info["task"], info["target"]
    if task == "regression":
        prep = info["preprocessing"]
        scaling = (f"predicted as z and returned as z * {format_value(prep['y_std'][0])} + "
                   f"{format_value(prep['y_mean'][0])}")
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
    """Print what a model file holds (``info`` as from ``nncli.predicting.describe``)."""
    for line in ([title] if title else []) + target_lines(info):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(architecture_table(info))
    console.print(features_table(info))
    console.print(config_table(info["config"]))
    if info.get("metrics"):
        table = summary_table(info["metrics"])
        table.title = "Final metrics"
        console.print(table)
