"""Tests of nncli lr-sweep: the divergence rule, the recommendation, parallel runs, the CLI."""

import csv
import io
import json
import math
import shutil

import numpy as np
import pytest
import yaml
from rich.console import Console

from nncli.commands import pipeline, sweeping as sweep
from nncli.config import load_config
from nncli.commands.common import json_safe
from nncli.ui.live import SweepProgress
from nncli.ui.tables import render_range, render_sweep, sweep_advice, sweep_table
from tests.conftest import CONFIGS, DATASETS, run_cli

LINEAR = CONFIGS / "linear_regression_multi.yaml"  # one linear unit, mse, batch_size: full
IRIS = CONFIGS / "iris.yaml"
SMALL = ["--num", "5", "--epochs", "20"]  # a quick grid on iris: 1e-05 ... 1


def _reject_constant(name):
    raise AssertionError(f"invalid JSON: {name}")


def parse_json(text):
    """json.loads that fails on NaN / Infinity, which are not JSON."""
    return json.loads(text, parse_constant=_reject_constant)


def sweep_json(*args, exit_code=0):
    result = run_cli("lr-sweep", *args, "--json")
    assert result.exit_code == exit_code, result.stderr
    return parse_json(result.stdout), result


def critical_rate(config):
    """2 / lambda_max of the mse Hessian (2/m) X~'X~, X~ = [X_train, 1], as the pipeline prepares X."""
    ds = pipeline.prepare_data(config)
    X = np.hstack([ds.X_train.astype(np.float64), np.ones((len(ds.X_train), 1))])
    hessian = 2 / len(X) * X.T @ X
    return 2 / np.linalg.eigvalsh(hessian)[-1]


# --- acceptance ---------------------------------------------------------------------------
def test_divergence_follows_the_largest_hessian_eigenvalue():
    # Gradient descent on a quadratic is stable only for learning_rate < 2 / lambda_max.
    alpha = critical_rate(load_config(LINEAR))
    data, _ = sweep_json(LINEAR, "--min", alpha / 4, "--max", alpha * 4, "--num", "13", "--epochs", "100")
    above = [r for r in data["runs"] if r["learning_rate"] > 1.2 * alpha]
    below = [r for r in data["runs"] if r["learning_rate"] < 0.8 * alpha]
    assert len(above) >= 4 and len(below) >= 4
    assert all(r["diverged"] for r in above)
    assert not any(r["diverged"] for r in below)
    assert data["best"]["learning_rate"] < alpha


def min_val_loss(history_csv):
    with open(history_csv, newline="") as f:
        return min(float(row["val_loss"]) for row in csv.DictReader(f))


def test_recommended_rate_beats_the_config_rate_on_iris(tmp_path):
    data, _ = sweep_json(IRIS, "--num", "7")  # the config's own 200 epochs
    best = data["best"]["learning_rate"]
    config_rate = load_config(IRIS).training.learning_rate
    losses = {}
    for rate in (best, config_rate):
        history = tmp_path / f"{rate}.csv"
        result = run_cli("train", IRIS, "-q", "-o", tmp_path / "m.npz", "--history", history,
                         "--set", f"training.learning_rate={rate}")
        assert result.exit_code == 0, result.stderr
        losses[rate] = min_val_loss(history)
    # Judged as the sweep judges: the best validation loss over the same epochs.
    assert losses[best] <= losses[config_rate]
    assert losses[best] == pytest.approx(data["best"]["val_loss"], rel=1e-6)


def test_two_jobs_give_the_same_json_as_one():
    one = run_cli("lr-sweep", IRIS, *SMALL, "--json", "--jobs", "1")
    two = run_cli("lr-sweep", IRIS, *SMALL, "--json", "--jobs", "2")
    assert one.exit_code == two.exit_code == 0
    assert one.stdout == two.stdout


def test_workers_use_the_prepared_arrays_not_the_csv(tmp_path):
    shutil.copy(DATASETS / "iris.csv", tmp_path / "iris.csv")
    config = load_config(IRIS, [f"data.path={tmp_path / 'iris.csv'}"])
    ds = pipeline.prepare_data(config)
    (tmp_path / "iris.csv").unlink()
    rates = sweep.log_grid(1e-3, 1, 3)
    assert sweep.grid_sweep(config, ds, rates, epochs=3, jobs=2).runs == \
        sweep.grid_sweep(config, ds, rates, epochs=3, jobs=1).runs


# --- Dask -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_scheduler():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_dask_cluster_gives_the_same_json_as_a_local_sweep(dask_scheduler):
    local = run_cli("lr-sweep", IRIS, *SMALL, "--json", "--jobs", "1")
    remote = run_cli("lr-sweep", IRIS, *SMALL, "--json", "--scheduler", dask_scheduler)
    assert remote.exit_code == 0, remote.stderr
    assert remote.stdout == local.stdout


def test_dask_halving_with_folds_gives_the_same_json_as_a_local_one(dask_scheduler):
    args = ["lr-sweep", IRIS, "--num", "4", "--epochs", "9", "--mode", "halving", "--folds", "2", "--json"]
    local = run_cli(*args, "--jobs", "1")
    remote = run_cli(*args, "--scheduler", dask_scheduler)
    assert remote.exit_code == 0, remote.stderr
    assert remote.stdout == local.stdout


def test_dask_workers_get_the_arrays_scattered_not_the_csv(dask_scheduler, tmp_path):
    shutil.copy(DATASETS / "iris.csv", tmp_path / "iris.csv")
    config = load_config(IRIS, [f"data.path={tmp_path / 'iris.csv'}"])
    ds = pipeline.prepare_data(config)
    (tmp_path / "iris.csv").unlink()
    rates = sweep.log_grid(1e-3, 1, 3)
    assert sweep.grid_sweep(config, ds, rates, epochs=3, scheduler=dask_scheduler).runs == \
        sweep.grid_sweep(config, ds, rates, epochs=3).runs


# --- the rules ---------------------------------------------------------------------------------
class FakeTrainer:
    status = None

    def stop(self, status):
        self.status = status


@pytest.mark.parametrize("losses, stopped_at, above_since, spike", [
    ([1.0, 0.5, 1.9, 2.0], None, None, None),              # 2.0 is 4x the lowest (0.5), not above it
    ([1.0, 0.5, 1.9, 2.1], None, 4, 4),                    # above at the end: diverged, not stopped
    ([1.0, 0.5, 3, 3, 3, 3, 3, 1.0], 7, 3, 3),             # 5 epochs above 4 x 0.5: stopped
    ([1.0, 0.5, 3, 3, 3, 3, 0.4, 0.3], None, None, 3),     # a spike of 4 epochs that recovers
    ([1.0, 0.9, 0.8, 0.7], None, None, None),
])
def test_divergence_guard_stops_after_five_epochs_above_four_times_the_lowest_loss(losses, stopped_at,
                                                                                 above_since, spike):
    guard, trainer = sweep.DivergenceGuard(), FakeTrainer()
    guard.set_trainer(trainer)
    for epoch, loss in enumerate(losses, start=1):
        guard.on_epoch_end(epoch, {"train_loss": loss, "val_loss": None})
        if trainer.status:
            break
    assert epoch == (stopped_at or len(losses))
    assert trainer.status == ("diverged" if stopped_at else None)
    assert guard.above_since == guard.diverged_epoch == above_since
    assert guard.spike_epoch == spike


def run(rate, loss, diverged=False):
    return sweep.Run(rate, loss, loss, loss, 1, diverged, 1 if diverged else None, 1)


def test_recommendation_skips_diverged_runs_and_prefers_the_smaller_of_near_ties():
    runs = [run(1.0, 0.001, diverged=True), run(0.1, 0.1000), run(0.01, 0.1009), run(0.001, 0.2)]
    result = sweep.SweepResult(runs, "val_loss", 10)
    assert [r.learning_rate for r in result.runs] == [0.001, 0.01, 0.1, 1.0]  # sorted
    assert result.best.learning_rate == 0.01       # within 1% of 0.1's loss
    assert result.lowest.learning_rate == 0.1
    assert result.edge is None
    assert sweep.recommend([run(0.1, 0.1000), run(0.01, 0.1011)]).learning_rate == 0.1  # not a tie
    assert sweep.recommend([run(0.1, 0.1, diverged=True)]) is None


@pytest.mark.parametrize("losses, edge", [
    ([0.1, 0.2, 0.3], "low"),
    ([0.3, 0.2, 0.1], "high"),
    ([0.3, 0.1, 0.2], None),
    ([0.1, 0.1, 0.1], None),  # flat: a tie picks the smallest rate, but nothing suggests going lower
])
def test_best_at_the_edge_of_the_grid_is_flagged(losses, edge):
    result = sweep.SweepResult([run(r, l) for r, l in zip([0.01, 0.1, 1.0], losses)], "val_loss", 10)
    assert result.edge == edge
    advice = " ".join(sweep_advice(result))
    assert ("--min 0.001" in advice) == (edge == "low")
    assert ("--max 10" in advice) == (edge == "high")


def test_log_grid_includes_both_ends_and_prints_as_it_runs():
    assert sweep.log_grid(1e-5, 1, 11) == [1e-05, 3.16e-05, 0.0001, 0.000316, 0.001, 0.00316,
                                          0.01, 0.0316, 0.1, 0.316, 1.0]
    dense = sweep.log_grid(1.0, 1.001, 50)  # 3 digits would repeat values
    assert len(set(dense)) == 50 and dense[0] == 1.0 and dense[-1] == 1.001


def test_grid_json_writes_non_finite_losses_as_null():
    result = sweep.SweepResult([sweep.Run(1.0, math.nan, 0.5, 0.5, 1, True, 2, 1),
                                sweep.Run(0.1, 0.2, 0.3, 0.3, 5, False, None, 5)], "val_loss", 5)
    data = json_safe(sweep.grid_json(result))
    assert data["runs"][1]["train_loss"] is None
    assert data["best"] == {"learning_rate": 0.1, "val_loss": 0.3}
    parse_json(json.dumps(data))


# --- the command line ----------------------------------------------------------------------------
def test_human_output_goes_to_stdout_and_progress_to_stderr():
    result = run_cli("lr-sweep", IRIS, "--num", "3", "--epochs", "5", "--jobs", "1")
    assert result.exit_code == 0, result.stderr
    assert "Learning-rate sweep (5 epochs per run)" in result.stdout
    assert "learning rate (log scale)" in result.stdout
    assert "Recommended learning rate: " in result.stdout
    assert "The config's learning rate is 0.05." in result.stdout
    assert "[1/3] lr " in result.stderr and "[1/3]" not in result.stdout
    assert "3 rates from 1e-05 to 1, 5 epochs each, 1 process" in result.stderr


def test_every_rate_diverging_exits_1_with_null_best():
    data, result = sweep_json(LINEAR, "--min", "1e20", "--max", "1e30", "--num", "2", "--epochs", "5",
                              exit_code=1)
    assert data["best"] is None
    assert all(r["diverged"] and r["train_loss"] is None for r in data["runs"])
    assert "error: every learning rate diverged; try smaller ones, e.g. --min 1e+17" in result.stderr
    quiet = run_cli("lr-sweep", LINEAR, "--min", "1e20", "--max", "1e30", "--num", "2", "--print-best")
    assert quiet.exit_code == 1 and quiet.stdout == ""


def test_print_best_and_write_config(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "configs").mkdir()
    (tmp_path / "out").mkdir()
    shutil.copy(DATASETS / "iris.csv", tmp_path / "data" / "iris.csv")
    text = IRIS.read_text().replace("../datasets/iris.csv", "../data/iris.csv")
    (tmp_path / "configs" / "iris.yaml").write_text(text)
    written = tmp_path / "out" / "best.yaml"

    result = run_cli("lr-sweep", tmp_path / "configs" / "iris.yaml", *SMALL, "--print-best",
                     "--write-config", written)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "1" and result.stdout.count("\n") == 1  # the number alone
    assert f"wrote {written} (training.learning_rate: 1)" in result.stderr
    raw = yaml.safe_load(written.read_text())
    assert raw["data"]["path"] == "../data/iris.csv"  # relative to the new file's folder
    assert raw["training"]["learning_rate"] == 1.0
    assert written.read_text().startswith("# written by nncli lr-sweep from ")
    again = load_config(written)
    assert again.training.epochs == 200 and again.model == load_config(tmp_path / "configs" / "iris.yaml").model


def test_without_validation_data_the_training_loss_decides_with_a_warning():
    data, result = sweep_json(IRIS, *SMALL, "--set", "data.validation=0")
    assert "warning: the config has no validation data" in result.stderr
    assert data["judged_on"] == "train_loss"
    assert all(r["val_loss"] is None for r in data["runs"])
    assert set(data["best"]) == {"learning_rate", "train_loss"}


@pytest.mark.parametrize("args, message", [
    (["--steps", "50"], "--steps applies to --mode range only"),
    (["--mode", "range", "--num", "5", "--jobs", "2"], "--num, --jobs applies to --mode grid only"),
    (["--json", "--print-best"], "--json and --print-best both choose what goes to stdout"),
    (["--min", "1", "--max", "0.1"], "--min (1) must be smaller than --max (0.1)"),
    (["--min", "0"], "--min and --max must be positive numbers"),
    (["--num", "1"], "--num must be at least 2 (got 1)"),
    (["--mode", "range", "--steps", "5"], "--steps must be at least 10 (got 5)"),
])
def test_bad_options_exit_2_with_a_message(args, message):
    result = run_cli("lr-sweep", IRIS, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_range_test_suggests_a_stable_rate_and_stops_when_the_loss_explodes():
    alpha = critical_rate(load_config(LINEAR))
    data, _ = sweep_json(LINEAR, "--mode", "range", "--max", "10")
    assert data["stopped"] == "exploded"
    rates = [p["learning_rate"] for p in data["points"]]
    assert rates == sorted(rates) and rates[0] == 1e-5 and rates[-1] < 10
    assert 1e-5 < data["best"]["learning_rate"] < alpha
    human = run_cli("lr-sweep", LINEAR, "--mode", "range", "--max", "10")
    assert f"Suggested learning rate: {data['best']['learning_rate']:.12g} " in human.stdout
    assert "smoothed training loss" in human.stdout


def test_range_test_smooths_with_bias_correction():
    test = sweep.RangeTest(1e-3, 1.0, steps=4)
    test.set_trainer(type("T", (), {"optimizer": type("O", (), {"learning_rate": 1e-3})(),
                                    "stop": lambda self, status: None})())
    for step, loss in enumerate([2.0, 1.0, 1.0], start=1):
        test.on_batch_end(step, {"loss": loss, "learning_rate": test.trainer.optimizer.learning_rate})
    assert test.smoothed[0] == pytest.approx(2.0)  # corrected: not 0.02
    assert test.smoothed[1] == pytest.approx((0.98 * 0.02 * 2 + 0.02) / (1 - 0.98**2))
    assert test.rates == pytest.approx([1e-3, 1e-2, 1e-1])  # 1e-3 -> 1 in 3 steps


# --- display ---------------------------------------------------------------------------------------
def test_table_marks_the_recommended_rate_and_says_when_runs_diverged():
    result = sweep.SweepResult([run(0.01, 0.3), run(0.1, 0.1), run(1.0, 0.05, diverged=True)], "val_loss", 10)
    console = Console(file=io.StringIO(), width=100)
    render_sweep(console, result, config_rate=0.05)
    out = console.file.getvalue()
    assert "0.1 ◀" in out and "at epoch 1" in out
    assert "Recommended learning rate: 0.1 (best validation loss 0.1000 at epoch 1)." in out
    assert "1 of 3 rates diverged (the smallest: 1)." in out
    assert sweep_table(result).columns[2].header == "Best val loss"


def test_range_display_shows_the_curve_and_suggestion():
    result = sweep.RangeResult([1e-4, 1e-3, 1e-2], [1.0, 0.5, 4.0], [1.0, 0.7, 1.5], "exploded", 1e-3, 1)
    console = Console(file=io.StringIO(), width=80)
    render_range(console, result)
    out = console.file.getvalue()
    assert "Suggested learning rate: 0.001" in out and "smoothed loss exceeded 4x its minimum" in out


def test_progress_prints_a_line_per_run_unless_quiet():
    for mode, expected in (("plain", "title\nrun 1\n"), ("quiet", "")):
        console = Console(file=io.StringIO(), width=80)
        with SweepProgress(console, mode=mode, total=1, title="title") as progress:
            progress.advance("run 1")
        assert console.file.getvalue() == expected


# --- interrupted and resumed sweeps --------------------------------------------------------
def _interrupt_after(monkeypatch, n):
    """Make the (n+1)-th run of a one-process sweep be interrupted by Ctrl-C."""
    real, calls = sweep.run_one, []

    def run_one(*args, **kwargs):
        calls.append(1)
        if len(calls) > n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep, "run_one", run_one)


def _without_timing(data):
    return {k: v for k, v in data.items() if k not in ("seconds",)}


def test_an_interrupted_sweep_prints_the_runs_that_finished(monkeypatch):
    _interrupt_after(monkeypatch, 2)
    result = run_cli("lr-sweep", IRIS, *SMALL, "--jobs", "1")
    assert result.exit_code == 130
    assert result.stdout.count("not run") == 3 and "Recommended learning rate" in result.stdout
    assert result.stderr.endswith("interrupted after 2 of 5 runs; the table shows the runs that finished\n")
    assert "error:" not in result.stderr


def test_interrupted_then_resumed_json_equals_an_uninterrupted_sweep(monkeypatch, tmp_path):
    whole, _ = sweep_json(IRIS, *SMALL, "--jobs", "1")
    assert whole["interrupted"] is False
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 2)
        partial, result = sweep_json(IRIS, *SMALL, "--jobs", "1", exit_code=130)
    assert partial["interrupted"] is True
    assert [r["status"] for r in partial["runs"]] == ["completed"] * 2 + ["not run"] * 3
    saved = tmp_path / "sweep.json"
    saved.write_text(json.dumps(partial))
    resumed, result = sweep_json(IRIS, *SMALL, "--jobs", "2", "--resume", saved)
    assert _without_timing(resumed) == _without_timing(whole)


@pytest.mark.parametrize("change, message", [
    (["--num", "4", "--epochs", "20"], "the grid differs"),
    (["--num", "5", "--epochs", "10"], "epochs per run differ"),
    (["--num", "5", "--epochs", "20", "--set", "training.seed=3"], "training.seed (sweep.json: 0, now: 3)"),
])
def test_resume_refuses_another_config_or_grid(monkeypatch, tmp_path, change, message):
    _interrupt_after(monkeypatch, 1)
    partial, _ = sweep_json(IRIS, *SMALL, "--jobs", "1", exit_code=130)
    saved = tmp_path / "sweep.json"
    saved.write_text(json.dumps(partial))
    result = run_cli("lr-sweep", IRIS, *change, "--resume", saved)
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_resume_needs_a_sweep_json(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("[1, 2]")
    result = run_cli("lr-sweep", IRIS, *SMALL, "--resume", bad)
    assert result.exit_code == 2 and "--resume" in result.stderr and "lr-sweep --json" in result.stderr
