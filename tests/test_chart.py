"""Tests of the braille line chart in nncli.ui.chart."""

import math
import re
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from nncli.ui.chart import NO_DATA, format_number, line_chart_cells


def line_chart(series, **options):
    """The chart as plain text, as a terminal without colour shows it."""
    rows = line_chart_cells(series, **options)
    return "\n".join("".join(ch for ch, _ in row).rstrip() for row in rows)

BLANK = " "


def dots(ch):
    """Bit mask of the braille dots in one character (0 for a blank)."""
    return ord(ch) - 0x2800 if "\u2800" <= ch <= "\u28ff" else 0


def plot_area(series, height=6, **kwargs):
    """The plot cells only (no labels or axis), as rows of characters."""
    rows = line_chart_cells(series, height=height, **kwargs)[:height]
    return [re.split("[┤│]", "".join(ch for ch, _ in row), maxsplit=1)[1] for row in rows]


def y_labels(text, height):
    return [line.split("┤")[0].strip() for line in text.splitlines()[:height] if "┤" in line]


def test_rising_line_has_dots_bottom_left_and_top_right():
    plot = plot_area([("a", [0, 1, 2, 3], [0, 1, 2, 3])])
    assert dots(plot[-1][0]) & 0x40  # lowest dot row, left dot column
    assert dots(plot[0][-1]) & 0x08  # highest dot row, right dot column
    assert plot[0][0] == BLANK and plot[-1][-1] == BLANK


def test_falling_line_has_dots_top_left_and_bottom_right():
    plot = plot_area([("a", [0, 1], [5, -5])])
    assert dots(plot[0][0]) & 0x01
    assert dots(plot[-1][-1]) & 0x80
    assert plot[-1][0] == BLANK and plot[0][-1] == BLANK


def test_consecutive_points_are_joined_without_gaps():
    plot = plot_area([("a", [0, 1], [0, 1])], width=40)
    for row in plot:  # a diagonal touches every row...
        assert row.strip()
    for col in range(len(plot[0])):  # ...and every column
        assert any(row[col] != BLANK for row in plot)


def test_layout_has_axes_ticks_range_and_legend():
    text = line_chart([("train", [1, 200], [2.5, 0.01]), ("val", [1, 200], [2.0, 0.3])],
                      width=60, height=12, x_label="epoch", y_label="loss")
    lines = text.splitlines()
    assert lines[0] == "loss"
    assert all(len(line) <= 60 for line in lines)
    assert 3 <= len(y_labels("\n".join(lines[1:]), 12)) <= 5
    assert "└" in lines[13] and "─" in lines[13]
    x_axis = lines[14].split()
    assert x_axis == ["1", "epoch", "200"]
    assert "train" in lines[-1] and "val" in lines[-1]
    assert "\x1b" not in text


def test_tick_labels_span_the_data():
    labels = y_labels(line_chart([("a", [0, 1], [0.25, 4.0])], height=8), 8)
    assert labels[0] == "4" and labels[-1] == "0.25"
    values = [float(v) for v in labels]
    assert values == sorted(values, reverse=True)


def test_cells_tag_each_series_for_colouring():
    rows = line_chart_cells([("a", [0, 1], [0, 0]), ("b", [0, 1], [1, 1])], width=30, height=4)
    plot_owners = {i for row in rows[:4] for ch, i in row if dots(ch)}
    assert plot_owners == {0, 1}
    assert [i for ch, i in rows[-1] if i is not None] == [0, 1]  # legend markers
    assert all(i is None for ch, i in rows[4])  # x axis


def test_log_y_makes_geometric_series_straight():
    xs = [0, 1, 2, 3]
    log = plot_area([("a", xs, [1, 10, 100, 1000])], logy=True)
    linear = plot_area([("a", xs, [0, 1, 2, 3])])
    assert log == linear
    labels = y_labels(line_chart([("a", xs, [1, 10, 100, 1000])], height=6, logy=True), 6)
    assert labels[0] == "1000" and labels[-1] == "1"


def test_log_x_for_learning_rate_sweeps():
    rates = [1e-5, 1e-4, 1e-3, 1e-2]
    log = plot_area([("lr", rates, [3, 2, 1, 0])], logx=True)
    linear = plot_area([("lr", [0, 1, 2, 3], [3, 2, 1, 0])])
    assert log == linear
    x_axis = line_chart([("lr", rates, [3, 2, 1, 0])], logx=True).splitlines()[-2].split()
    assert x_axis == ["1.0e-05", "0.01"]


def test_log_axes_ignore_non_positive_values():
    text = line_chart([("a", [1, 2, 3, 4], [0, -1, 10, 100])], logy=True, height=4)
    assert "-" not in "".join(y_labels(text, 4))
    assert line_chart([("a", [0, -1], [1, 2])], logx=True) == NO_DATA


def test_nan_inf_and_none_are_skipped_and_break_the_line():
    plot = plot_area([("a", [0, 1, 2, 3, 4], [0, 0, float("nan"), 0, 0])], width=43, height=3)
    line = next(row for row in plot if row.strip())
    assert line[0] != BLANK and line[-1] != BLANK
    assert line[len(line) // 2] == BLANK
    text = line_chart([("a", [1, 2, 3], [None, math.inf, -math.inf])])
    assert text == NO_DATA


def test_one_point_draws_one_dot():
    plot = plot_area([("a", [7], [0.5])])
    drawn = [dots(ch) for row in plot for ch in row if dots(ch)]
    assert len(drawn) == 1 and bin(drawn[0]).count("1") == 1


def test_constant_series_is_a_flat_line_labelled_with_its_value():
    text = line_chart([("a", [1, 2, 3], [0.5, 0.5, 0.5])], height=5)
    plot = plot_area([("a", [1, 2, 3], [0.5, 0.5, 0.5])], height=5)
    assert [i for i, row in enumerate(plot) if row.strip()] == [2]
    assert "0.5" in y_labels(text, 5)


def test_no_drawable_points_gives_placeholder():
    assert line_chart([]) == NO_DATA
    assert line_chart([("a", [], [])]) == NO_DATA
    assert line_chart_cells([]) == [[(ch, None) for ch in NO_DATA]]


def test_format_number_is_compact():
    assert format_number(0.0123) == "0.0123"
    assert format_number(1.2e-05) == "1.2e-05"
    assert format_number(0.69314) == "0.693"
    assert format_number(1234.5) == "1234"
    assert format_number(0) == "0"
    assert format_number(2.5e6) == "2.5e+06"


def test_chart_does_not_import_rich_or_numpy():
    code = "import sys, nncli.ui.chart; print('rich' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=150, deadline=None)
@given(
    points=st.lists(st.tuples(st.floats(-1e6, 1e6), values), max_size=30),
    width=st.integers(20, 100),
    height=st.integers(1, 15),
    logx=st.booleans(),
    logy=st.booleans(),
)
def test_any_input_gives_a_bounded_plain_chart(points, width, height, logx, logy):
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    text = line_chart([("s", xs, ys)], width=width, height=height, logx=logx, logy=logy)
    assert "\x1b" not in text
    if text != NO_DATA:
        assert all(len(line) <= width for line in text.splitlines()[:-1])
        assert len(text.splitlines()) == height + 3
