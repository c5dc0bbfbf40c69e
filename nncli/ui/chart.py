"""Plain-text line charts drawn with Unicode braille dots.

Pure Python on purpose: it is used from a render thread and by several
commands (training curves, learning-rate sweeps), so it must stay cheap to
import and free of terminal libraries. Colouring is left to the caller, which
gets the series index of every cell from :func:`line_chart_cells`.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

Cell = tuple[str, Optional[int]]
Series = tuple[str, Sequence[float], Sequence[Optional[float]]]

NO_DATA = "(no data yet)"
MARKER = "⣿"
# Bit of each braille dot, indexed [dot_row][dot_col] inside one 2x4 cell.
_HUGE = 1e300
_DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


def format_number(value: float) -> str:
    """Format a number compactly for axis labels (``0.0123``, ``1.2e-05``).

    Parameters
    ----------
    value : float
        Number to format.

    Returns
    -------
    str
        At most about 8 characters.
    """
    if value == 0:
        return "0"
    if 100 <= abs(value) < 1e4:
        return f"{value:.0f}"  # .3g would switch to exponent for 1234
    if 1e-3 <= abs(value) < 100:
        return f"{value:.3g}"
    return f"{value:.1e}"


def wants_log(values) -> bool:
    """Whether values (losses) are best shown on a log axis: some are positive and none is
    negative. A zero (a loss that underflowed) is left out of a log chart rather than
    switching the whole chart to a linear axis."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return any(v > 0 for v in finite) and min(finite) >= 0


def _usable(value, log: bool) -> bool:
    # The bound keeps spans between points finite (no overflow to inf).
    return value is not None and abs(value) < _HUGE and (value > 0 or not log)


def _segments(series: Sequence[Series], logx: bool, logy: bool):
    """Split each series into runs of usable points, in axis space.

    An unusable point (None, nan, inf, non-positive on a log axis) breaks the
    line rather than being bridged, so gaps stay visible.
    """
    out = []
    for index, (_, xs, ys) in enumerate(series):
        run: list[tuple[float, float]] = []
        for x, y in zip(xs, ys):
            if _usable(x, logx) and _usable(y, logy):
                run.append((math.log10(x) if logx else x, math.log10(y) if logy else y))
            elif run:
                out.append((index, run))
                run = []
        if run:
            out.append((index, run))
    return out


def _span(values: list[float], log: bool) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:  # a flat line still needs a non-empty range to map onto
        pad = 0.5 if log else (abs(low) * 0.1 or 1.0)
        low, high = low - pad, high + pad
    return low, high


def _scale(value: float, low: float, high: float, dots: int) -> int:
    return round((value - low) / (high - low) * (dots - 1))


def _line(x0: int, y0: int, x1: int, y1: int):
    """Yield the dots of a Bresenham line from (x0, y0) to (x1, y1)."""
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x1 > x0 else -1), (1 if y1 > y0 else -1)
    err = dx + dy
    while True:
        yield x0, y0
        if x0 == x1 and y0 == y1:
            return
        e2 = 2 * err
        if e2 >= dy:
            err, x0 = err + dy, x0 + sx
        if e2 <= dx:
            err, y0 = err + dx, y0 + sy


def _plot(segments, box, cols: int, rows: int) -> list[list[Cell]]:
    """Rasterise the segments into a grid of braille cells."""
    (xlo, xhi), (ylo, yhi) = box
    bits = [[0] * cols for _ in range(rows)]
    owner: list[list[Optional[int]]] = [[None] * cols for _ in range(rows)]
    for index, run in segments:
        dots = [
            (_scale(x, xlo, xhi, 2 * cols), 4 * rows - 1 - _scale(y, ylo, yhi, 4 * rows))
            for x, y in run
        ]
        for (x0, y0), (x1, y1) in zip(dots, dots[1:] or dots):
            for dx, dy in _line(x0, y0, x1, y1):
                bits[dy // 4][dx // 2] |= _DOT_BITS[dy % 4][dx % 2]
                owner[dy // 4][dx // 2] = index
    return [
        [(chr(0x2800 + b), o) if b else (" ", None) for b, o in zip(brow, orow)]
        for brow, orow in zip(bits, owner)
    ]


def _y_labels(ylo: float, yhi: float, rows: int, logy: bool) -> dict[int, str]:
    """Pick 3 to 5 evenly spaced rows and label them with their value."""
    count = min(rows, 5 if rows >= 9 else 3)
    label_rows = {round(i * (rows - 1) / max(count - 1, 1)) for i in range(count)}
    labels = {}
    for row in label_rows:
        # End rows show the exact extremes; inner rows show their centre.
        frac = 0.0 if row == 0 else 1.0 if row == rows - 1 else (4 * row + 1.5) / (4 * rows - 1)
        value = yhi - frac * (yhi - ylo)
        labels[row] = format_number(10**value if logy else value)
    return labels


def _text(s: str) -> list[Cell]:
    return [(ch, None) for ch in s]


def line_chart_cells(
    series: Sequence[Series],
    width: int = 60,
    height: int = 12,
    logx: bool = False,
    logy: bool = False,
    x_label: str = "",
    y_label: str = "",
) -> list[list[Cell]]:
    """Draw a chart as rows of ``(char, series_index)`` cells.

    Parameters
    ----------
    series : sequence of (name, xs, ys)
        Series drawn on shared axes. Points whose x or y is None, nan, inf
        (or beyond 1e300), or non-positive on a log axis are skipped and
        break the line.
    width : int
        Total width in characters, y-axis labels included.
    height : int
        Number of text rows of the plot area (4 dot rows each).
    logx, logy : bool
        Use a base-10 logarithmic scale on that axis.
    x_label, y_label : str
        Axis captions; the y caption goes above the axis.

    Returns
    -------
    list of list of (str, int or None)
        One list per text line. Plot dots and legend markers carry the index
        of the series that drew them (the last one when series overlap);
        labels and axes carry None.
    """
    segments = _segments(series, logx, logy)
    if not segments:
        return [_text(NO_DATA)]
    xlo, xhi = _span([x for _, run in segments for x, _ in run], logx)
    ylo, yhi = _span([y for _, run in segments for _, y in run], logy)
    height = max(height, 1)
    labels = _y_labels(ylo, yhi, height, logy)
    pad = max(len(s) for s in labels.values())
    cols = max(width - pad - 2, 2)
    grid = _plot(segments, ((xlo, xhi), (ylo, yhi)), cols, height)
    rows = [_text(y_label)] if y_label else []
    for r, cells in enumerate(grid):
        rows.append(_text(labels.get(r, "").rjust(pad) + (" ┤" if r in labels else " │")) + cells)
    rows.append(_text(" " * pad + " └" + "─" * cols))
    low = format_number(10**xlo if logx else xlo)
    high = format_number(10**xhi if logx else xhi)
    if len(low) + len(high) + 1 > cols:  # too narrow for both: keep the start
        high = ""
    gap = max(cols - len(low) - len(high), 0)
    middle = x_label.center(gap) if len(x_label) + 2 <= gap else " " * gap
    rows.append(_text((" " * (pad + 2) + low + middle + high)[: pad + 2 + cols]))
    rows.append(_legend(series, pad + 2))
    return rows


def _legend(series: Sequence[Series], indent: int) -> list[Cell]:
    cells = _text(" " * indent)
    for index, (name, _, _) in enumerate(series):
        cells += [(MARKER, index)] + _text(f" {name}   ")
    return cells
