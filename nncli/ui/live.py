"""Progress while it runs: the live training display (a training-loop callback) and the
sweep's progress bar, on stderr.

A display is a callback: the training loop calls ``on_train_begin``, ``on_epoch_end``,
``on_batch_end`` and ``on_train_end`` on it and never prints anything itself. On a
terminal it animates; elsewhere it prints plain lines; quiet, nothing.
"""

from __future__ import annotations

import math
import os
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
from rich.table import Column
from rich.text import Text

from nncli.ui.chart import line_chart_cells, wants_log
from nncli.ui.format import SERIES_STYLES, STATUS_TEXT, TRAIN_STYLE, VAL_STYLE, cells_to_text, format_value


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



def _metric_items(logs: dict) -> Iterable[tuple[str, float]]:
    """Yield the losses and metrics of an epoch's logs, losses first, then the learning
    rate (when a schedule reports it)."""
    for key in ("train_loss", "val_loss"):
        if logs.get(key) is not None:
            yield key, logs[key]
    for key, value in logs.items():
        if key.startswith(("train_", "val_")) and not key.endswith("_loss") and value is not None:
            yield key, value
    if logs.get("learning_rate") is not None:
        yield "learning_rate", logs["learning_rate"]


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

    def notify(self, message: str) -> None:
        """Show ``message`` now; safe in a signal handler (it may interrupt a print).

        Here: one line written straight to stderr; the live display shows it in its frame.
        """
        os.write(2, f"{message}\n".encode())

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
        resumed = f", resuming after epoch {logs['initial_epoch']}" if logs.get("initial_epoch") else ""
        self._say(
            f"training{name}: {self._total} epochs, {logs.get('n_train', 0)} train / "
            f"{logs.get('n_val', 0)} validation samples ({logs.get('task', '?')}){resumed}"
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
        self._notice: Optional[str] = None
        self._bar = BarColumn()
        self._progress = Progress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            self._bar,
            MofNCompleteColumn(),
            TextColumn("epochs", table_column=Column(no_wrap=True)),
            TimeElapsedColumn(),
            TextColumn("eta", table_column=Column(no_wrap=True)),
            TimeRemainingColumn(),
            console=self.console,
            get_time=self.clock,
        )
        self._task = None
        self._live: Optional[Live] = None
        self._initial_epoch = 0  # epochs run before a resumed run started

    def on_train_begin(self, logs: dict) -> None:
        self._has_val = bool(logs.get("n_val"))
        self._initial_epoch = int(logs.get("initial_epoch") or 0)
        self._task = self._progress.add_task(self.title or "training", total=logs.get("epochs"),
                                             completed=self._initial_epoch)
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

    def notify(self, message: str) -> None:
        # Only set here (a signal handler must not print); the next frame, drawn by Live's
        # thread within 1/refresh_per_second s, and the final one show it.
        self._notice = message

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
        notice = [Text(self._notice, style="bold yellow")] if self._notice else []
        return Group(self._progress, *notice, self._loss_line(), self._chart(n, width, height))

    def _sync_progress(self, n: int) -> None:
        if self._task is None:
            return
        n += self._initial_epoch
        description = self.title or "training"
        if self._status is not None:
            description = STATUS_TEXT.get(self._status, self._status)
        # The counts and times keep their width; the bar, then the title, give way.
        total = int(self._progress.tasks[0].total or 0)
        numbers = 2 * len(str(total)) + 1 + len(" epochs 0:00:00 eta 0:00:00") + 5
        room = max(0, self.console.width - numbers)
        self._bar.bar_width = max(5, min(40, room // 3))
        self._progress.update(self._task, completed=n, description=_fit(description, room - self._bar.bar_width))
        if self._status is None:
            return
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
        # Losses span decades; a log axis shows late progress, when it can.
        logy = wants_log([v for _, _, ys in series for v in ys])
        rows = line_chart_cells(
            series, width=width, height=height, logy=logy,
            x_label="epoch", y_label="loss (log scale)" if logy else "loss",
        )
        return cells_to_text(rows, SERIES_STYLES)


def _fit(title: str, room: int) -> str:
    """``title`` cut to ``room`` characters with an ellipsis (its end, a file name, kept)."""
    if len(title) <= room:
        return title
    return "…" + title[len(title) - room + 1:] if room > 1 else ""


def _sample_indices(n: int, limit: int) -> list[int]:
    """Pick at most ``limit`` evenly spread indices of ``range(n)``, ends kept.

    The chart cannot show more points than it has dot columns, and drawing
    them all would make each refresh slower as the run gets longer.
    """
    if n <= limit:
        return list(range(n))
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})



DISPLAYS = {"live": LiveDisplay, "plain": PlainDisplay, "quiet": QuietDisplay}



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
