"""Numbers and text for humans: losses, durations, learning rates; chart cells as rich Text."""

from __future__ import annotations

import itertools
import math

from rich.text import Text

from nncli.ui.chart import Cell



TRAIN_STYLE, VAL_STYLE = "cyan", "magenta"
SERIES_STYLES = (TRAIN_STYLE, VAL_STYLE)
STATUS_TEXT = {
    "completed": "completed",
    "early_stopped": "early stopped",
    "diverged": "diverged",
    "interrupted": "interrupted",
}
METRIC_NAMES = {"loss": "loss", "accuracy": "accuracy", "balanced_accuracy": "balanced accuracy",
                "macro_f1": "macro F1", "roc_auc": "ROC-AUC", "rmse": "RMSE", "mae": "MAE", "r2": "R²"}



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
    if value == 0:
        return "0.0000"  # also -0.0, which a loss that underflows can be
    if 1e-3 <= abs(value) < 1e3:
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



def format_rate(rate: float) -> str:
    """A learning rate as typed on a command line: ``0.001``, ``3.16e-05``."""
    return f"{rate:.12g}"



def cells_to_text(rows: list[list[Cell]], styles: tuple[str, ...]) -> Text:
    """Turn chart cells into a rich Text, styling each series' cells.

    Parameters
    ----------
    rows : list of list of (str, int or None)
        As returned by :func:`nncli.ui.chart.line_chart_cells`.
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
