"""Tests of the training display and summary table in nncli.ui.live and nncli.ui.tables."""

import io
import math

import pytest
from rich.console import Console

import nncli.ui.live as display
from nncli.ui.format import format_seconds, format_value
from nncli.ui.live import LiveDisplay, PlainDisplay, QuietDisplay, TrainingDisplay, display_mode
from nncli.ui.tables import render_summary

BEGIN = {"epochs": 100, "n_train": 120, "n_val": 30, "task": "multiclass"}


@pytest.fixture(autouse=True)
def neutral_environment(monkeypatch):
    """Keep the developer's TERM / NO_COLOR from changing what rich emits."""
    for name in ("TERM", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


class FakeClock:
    """A clock that advances only when told, so elapsed times are exact."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def plain_console():
    return Console(file=io.StringIO(), width=100, force_terminal=False)


def terminal_console():
    return Console(file=io.StringIO(), width=100, height=30, force_terminal=True,
                   color_system="standard")


def epoch_logs(epoch, val=True):
    logs = {"train_loss": math.exp(-epoch / 20), "val_loss": None, "seconds": 0.5}
    if val:
        logs.update(val_loss=1.2 * math.exp(-epoch / 25), val_accuracy=min(1.0, epoch / 100))
    return logs


def run(disp, epochs=100, stop_at=None, status="completed", val=True, clock=None):
    last = stop_at or epochs
    disp.on_train_begin({**BEGIN, "epochs": epochs, "n_val": 30 if val else 0})
    for epoch in range(1, last + 1):
        if clock is not None:
            clock.now += 0.5
        disp.on_batch_end(epoch, {"loss": 1.0})
        disp.on_epoch_end(epoch, epoch_logs(epoch, val))
    disp.on_train_end({"status": status, "epochs_run": last})


def output(console):
    return console.file.getvalue()


def epoch_lines(text):
    return [line for line in text.splitlines() if line.startswith("epoch ")]


def test_display_mode_choice():
    assert display_mode(terminal_console(), quiet=True) == "quiet"
    assert display_mode(terminal_console(), quiet=False) == "live"
    assert display_mode(plain_console(), quiet=False) == "plain"


def test_dumb_terminal_gets_plain_lines(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    assert display_mode(terminal_console(), quiet=False) == "plain"


def test_mode_selects_the_display_class():
    console = plain_console()
    assert type(TrainingDisplay(console, mode="live")) is LiveDisplay
    assert type(TrainingDisplay(console, mode="plain")) is PlainDisplay
    assert type(TrainingDisplay(console, mode="quiet")) is QuietDisplay
    with pytest.raises(ValueError, match="display mode"):
        TrainingDisplay(console, mode="fancy")


def test_plain_prints_every_tenth_epoch_without_escape_codes():
    console = plain_console()
    run(TrainingDisplay(console, mode="plain", title="iris"))
    text = output(console)
    lines = epoch_lines(text)
    assert len(lines) == 10
    assert lines[0].startswith("epoch  10/100  train_loss 0.6065  val_loss")
    assert lines[-1].startswith("epoch 100/100")
    assert "val_accuracy 1.0000" in lines[-1]
    assert "seconds" not in text
    assert "iris" in text.splitlines()[0]
    assert "\x1b" not in text


def test_plain_shows_the_last_epoch_of_an_early_stop():
    console = plain_console()
    run(TrainingDisplay(console, mode="plain"), stop_at=57, status="early_stopped")
    lines = epoch_lines(output(console))
    assert [line.split()[1] for line in lines] == [f"{e}/100" for e in (10, 20, 30, 40, 50, 57)]


def test_plain_short_run_prints_every_epoch_and_omits_missing_validation():
    console = plain_console()
    run(TrainingDisplay(console, mode="plain"), epochs=3, val=False)
    lines = epoch_lines(output(console))
    assert len(lines) == 3
    assert "val_" not in output(console)


def test_plain_prints_diverged_losses():
    console = plain_console()
    disp = TrainingDisplay(console, mode="plain")
    disp.on_train_begin(BEGIN)
    disp.on_epoch_end(1, {"train_loss": math.nan, "val_loss": math.inf, "seconds": 0.1})
    disp.on_train_end({"status": "diverged", "epochs_run": 1})
    assert "train_loss nan  val_loss inf" in output(console)


def test_quiet_prints_nothing():
    console = terminal_console()
    with TrainingDisplay(console, mode="quiet") as disp:
        run(disp)
    assert output(console) == ""


def test_live_final_frame_has_progress_losses_and_chart():
    console, clock = terminal_console(), FakeClock()
    with TrainingDisplay(console, mode="live", title="iris", clock=clock) as disp:
        run(disp, clock=clock)
    final = output(console).rsplit("\x1b[2K", 1)[-1]  # after the last line erase
    assert "completed" in final
    assert "100/100" in final
    assert "0:00:50" in final  # 100 epochs of 0.5 s on the fake clock
    assert "train_loss" in final and "val_accuracy" in final
    assert "validation" in final and "epoch" in final
    assert any("\u2801" <= ch <= "\u28ff" for ch in final)  # braille curve
    assert "\x1b[36m" in final and "\x1b[35m" in final  # two series colours
    assert "\x1b[?25h" in final  # cursor shown again


def test_live_epochs_do_not_render(monkeypatch):
    renders = []
    real = display.line_chart_cells
    monkeypatch.setattr(display, "line_chart_cells",
                        lambda *a, **k: renders.append(1) or real(*a, **k))
    console = terminal_console()
    # One refresh per 100 s: only start and stop may render during this test.
    disp = TrainingDisplay(console, mode="live", refresh_per_second=0.01, clock=FakeClock())
    disp.on_train_begin(BEGIN)
    renders_at_start, written = len(renders), len(output(console))
    for epoch in range(1, 501):
        disp.on_epoch_end(epoch, epoch_logs(epoch))
    assert len(renders) == renders_at_start
    assert len(output(console)) == written
    disp.on_train_end({"status": "completed", "epochs_run": 500})
    assert len(renders) == renders_at_start + 1


def test_live_chart_is_downsampled_at_render_time(monkeypatch):
    seen = []
    real = display.line_chart_cells
    monkeypatch.setattr(display, "line_chart_cells",
                        lambda series, **k: seen.append(series) or real(series, **k))
    console = terminal_console()
    disp = TrainingDisplay(console, mode="live", refresh_per_second=0.01, clock=FakeClock())
    run(disp, epochs=5000)
    assert len(disp._epochs) == 5000  # everything kept...
    xs = seen[-1][0][1]
    assert len(xs) <= 2 * console.width  # ...but only what fits is drawn
    assert xs[0] == 1 and xs[-1] == 5000


def test_live_without_validation_or_with_divergence():
    console, clock = terminal_console(), FakeClock()
    disp = TrainingDisplay(console, mode="live", clock=clock)
    disp.on_train_begin({**BEGIN, "n_val": 0})
    disp.on_epoch_end(1, {"train_loss": 0.5, "val_loss": None, "seconds": 0.1})
    disp.on_epoch_end(2, {"train_loss": math.inf, "val_loss": None, "seconds": 0.1})
    disp.on_train_end({"status": "diverged", "epochs_run": 2})
    final = output(console).rsplit("\x1b[2K", 1)[-1]
    assert "diverged" in final and "2/100" in final
    assert "validation" not in final and "val_loss" not in final


def test_live_stops_when_an_exception_escapes():
    console = terminal_console()
    with pytest.raises(KeyboardInterrupt):
        with TrainingDisplay(console, mode="live", clock=FakeClock()) as disp:
            disp.on_train_begin(BEGIN)
            disp.on_epoch_end(1, epoch_logs(1))
            raise KeyboardInterrupt
    assert output(console).endswith("\x1b[?25h")  # stopped, cursor restored
    disp.close()  # idempotent


def test_live_before_any_epoch_shows_placeholder():
    console = terminal_console()
    disp = TrainingDisplay(console, mode="live", clock=FakeClock())
    disp.on_train_begin(BEGIN)
    disp.close()
    assert "(no data yet)" in output(console)


SUMMARY = {
    "status": "early_stopped", "epochs_run": 57, "best_epoch": 40,
    "train_loss": 0.0512, "val_loss": 0.0811, "train_accuracy": 0.98, "val_accuracy": 0.9667,
    "seconds": 192.4, "model": "runs/iris.npz",
}


def test_summary_table_plain():
    console = plain_console()
    render_summary(console, SUMMARY)
    text = output(console)
    assert "\x1b" not in text
    for expected in ("Metric", "Train", "Validation", "loss", "0.0512", "0.0811",
                     "accuracy", "0.9800", "0.9667",
                     "early stopped after 57 epochs (best epoch 40) in 3m 12s",
                     "model saved to runs/iris.npz"):
        assert expected in text
    assert text.index("loss") < text.index("accuracy")


def test_summary_regression_metrics_missing_values_and_no_model():
    console = plain_console()
    render_summary(console, {"status": "completed", "epochs_run": 10, "best_epoch": None,
                             "train_loss": 2.5, "val_loss": None, "train_rmse": 1580.25,
                             "train_mae": 1200.0, "train_r2": 0.91, "model": None})
    text = output(console)
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") == 4}
    assert set(rows) == {"loss", "RMSE", "MAE", "R²"}
    assert "1580.2" in rows["RMSE"] and "0.9100" in rows["R²"]
    assert rows["loss"].rstrip("│ ").endswith("-")
    assert "completed after 10 epochs" in text and "best epoch" not in text
    assert "model not saved" in text


def test_summary_on_a_terminal_is_styled():
    console = terminal_console()
    render_summary(console, SUMMARY)
    assert "\x1b[" in output(console)


def test_formatting_helpers():
    assert format_value(None) == "-"
    assert format_value(0.41234) == "0.4123"
    assert format_value(1.5e-5) == "1.500e-05"
    assert format_value(1) == "1.0000"
    assert format_value(math.nan) == "nan"
    assert format_seconds(4.24) == "4.2 s"
    assert format_seconds(187) == "3m 07s"
    assert format_seconds(3725) == "1h 02m"


def test_the_first_ctrl_c_is_shown_in_the_live_display_not_over_it(capfd):
    """The stopper's message goes through the display: in the live frame, not written
    under it to fd 2 (where the next frame would draw over it and leave an old frame above)."""
    import signal

    from nncli.commands.train import _StopAfterBatch

    class Trainer:
        stop_training = False

        def stop(self, status):
            self.stop_training = True

    console, clock = terminal_console(), FakeClock()
    with TrainingDisplay(console, mode="live", clock=clock) as disp:
        stopper = _StopAfterBatch(disp)
        stopper.trainer = Trainer()
        disp.on_train_begin(BEGIN)
        disp.on_epoch_end(1, epoch_logs(1))
        assert stopper(signal.SIGINT) is True
        disp.on_epoch_end(2, epoch_logs(2))
        disp.on_train_end({"status": "interrupted", "epochs_run": 2})
    final = output(console).rsplit("\x1b[2K", 1)[-1]
    assert "stopping at the end of this batch" in final
    assert "interrupted" in final
    assert capfd.readouterr().err == ""


def test_an_underflowed_loss_is_zero_not_minus_zero():
    assert format_value(-0.0) == "0.0000" and format_value(0.0) == "0.0000"
    assert format_value(-1e-30) == "-1.000e-30"  # a real (tiny) negative number keeps its sign


def test_a_loss_that_underflows_to_zero_keeps_the_log_scale():
    """The last epoch's loss reaching 0 (underflow) must not switch the chart to a linear axis."""
    console, clock = terminal_console(), FakeClock()
    with TrainingDisplay(console, mode="live", clock=clock) as disp:
        disp.on_train_begin({**BEGIN, "epochs": 3, "n_val": 0})
        for epoch, loss in enumerate([1e-3, 1e-6, 0.0], start=1):
            disp.on_epoch_end(epoch, {"train_loss": loss, "val_loss": None, "seconds": 0.1})
        disp.on_train_end({"status": "completed", "epochs_run": 3})
    final = output(console).rsplit("\x1b[2K", 1)[-1]
    assert "loss (log scale)" in final
    assert "-0.0000" not in output(console)


def test_narrow_live_progress_keeps_the_epoch_count_and_times():
    console, clock = Console(file=io.StringIO(), width=60, height=30), FakeClock()
    with TrainingDisplay(console, mode="live", refresh_per_second=0.01, clock=clock,
                         title="nncli train /home/someone/projects/configs/activation_leaky_relu.yaml") as disp:
        disp.on_train_begin({**BEGIN, "epochs": 200})
        for epoch in range(1, 51):
            clock.now += 0.5
            disp.on_epoch_end(epoch, epoch_logs(epoch))
        frame = Console(file=io.StringIO(), width=60, height=30)
        frame.print(disp)  # a frame while training runs, its title shown
    first = output(frame).splitlines()[0]
    assert "nncli" in first or "…" in first
    assert "50/200 epochs" in first and "0:00:25" in first and "eta" in first
    assert len(first.rstrip()) <= 60


def test_warnings_on_a_terminal_wrap_between_words():
    from nncli.commands.common import warn

    console = Console(file=io.StringIO(), width=40, force_terminal=True, color_system=None)
    names = ["feature_alpha_one", "feature_beta_two", "feature_gamma_three"]
    warn("3 feature(s) constant in the training data: " + ", ".join(map(repr, names)), console)
    lines = output(console).splitlines()
    assert len(lines) > 1 and all(any(n in line for line in lines) for n in names)  # no name split
