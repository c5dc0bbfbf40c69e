"""lr-sweep's judgement (unstable, stalled, edge and advice), --folds and --mode halving."""

import io
import json
import math
import pickle

import numpy as np
import pytest
from rich.console import Console

from nncli.commands import pipeline, sweeping as sweep
from nncli.config import load_config
from nncli.ui.tables import render_sweep
from tests.conftest import CONFIGS, run_cli

IRIS = CONFIGS / "iris.yaml"


def sweep_json(*args, exit_code=0):
    result = run_cli("lr-sweep", *args, "--json")
    assert result.exit_code == exit_code, result.stderr
    return json.loads(result.stdout), result


def run(rate, loss, **more):
    return sweep.Run(rate, loss, loss, loss, 1, False, None, 1, **more)


# --- unstable and stalled -------------------------------------------------------------------
def test_a_recovering_spike_is_unstable_not_diverged_and_still_recommended():
    guard, trainer = sweep.DivergenceGuard(), type("T", (), {"status": None, "stop": lambda self, s: None})()
    guard.set_trainer(trainer)
    for epoch, loss in enumerate([1.0, 0.5, 2.5, 3.0, 0.4, 0.2], start=1):  # above 4 x 0.5 at 3-4, then back
        guard.on_epoch_end(epoch, {"train_loss": loss})
    assert guard.spike_epoch == 3 and guard.above_since is None
    spiky = run(0.1, 0.05, unstable_epoch=guard.spike_epoch)
    result = sweep.SweepResult([run(0.01, 0.2), spiky], "val_loss", 6)
    assert result.status(spiky) == "unstable" and result.best is spiky
    data = sweep.grid_json(result)
    assert [(r["status"], r["diverged"], r["unstable_epoch"]) for r in data["runs"]] == \
        [("completed", False, None), ("unstable", False, 3)]
    console = Console(file=io.StringIO(), width=120)
    render_sweep(console, result)
    assert "unstable (epoch 3)" in console.file.getvalue()


def test_a_run_that_stays_above_four_times_its_lowest_is_diverged_after_five_epochs(tmp_path):
    # Full-batch gradient descent on a quadratic far above 2 / lambda_max: the loss grows
    # every epoch; the guard stops it after 5 epochs above the line, not at the first.
    data, _ = sweep_json(CONFIGS / "linear_regression_multi.yaml", "--min", "3", "--max", "4", "--num", "2",
                         "--epochs", "200", exit_code=1)
    for r in data["runs"]:
        assert r["status"] == "diverged" and r["diverged"] and r["stopped"] == "diverged"
        assert r["epochs_run"] < r["diverged_epoch"] + sweep.DIVERGENCE_PATIENCE  # stopped early


NOISE = "\n".join(["x,z,y"] + [f"{i % 7 / 7:.3f},1,{'abc'[i % 3]}" for i in range(150)]) + "\n"


def test_a_run_stuck_at_chance_is_stalled(tmp_path, write_config):
    # z is constant (centred to 0) and x is noise: nothing beats predicting the class prior, ln 3.
    (tmp_path / "noise.csv").write_text(NOISE.replace("{x}", ""))
    config = write_config(f"""
data: {{path: {tmp_path / 'noise.csv'}, target: y, features: [z]}}
model:
  layers: [{{units: 4, activation: relu}}, {{units: 3, activation: softmax}}]
loss: cross_entropy
training: {{learning_rate: 0.1, epochs: 30, batch_size: full}}
""")
    data, result = sweep_json(config, "--min", "0.1", "--max", "1", "--num", "3", "--jobs", "1")
    assert data["chance_loss"] == pytest.approx(math.log(3), rel=1e-6)
    assert [r["status"] for r in data["runs"]] == ["stalled"] * 3
    assert data["best"] is not None  # every run stalled: the best of them is still named
    assert any("stalled at chance level" in line for line in data["advice"])


def test_stalled_runs_are_not_recommended_unless_all_are():
    chance = 1.0
    stalled, learning = run(0.1, 0.99), run(0.01, 0.9)
    result = sweep.SweepResult([stalled, learning], "val_loss", 5, chance=chance)
    assert result.status(stalled) == "stalled" and result.status(learning) == "completed"
    assert result.best is learning
    assert sweep.SweepResult([stalled], "val_loss", 5, chance=chance).best is stalled


def test_chance_loss_of_each_task():
    iris = load_config(IRIS)
    assert sweep.chance_loss(iris, pipeline.prepare_data(iris)) == pytest.approx(math.log(3), rel=1e-3)
    linear = load_config(CONFIGS / "linear_regression.yaml")
    assert sweep.chance_loss(linear, pipeline.prepare_data(linear)) == pytest.approx(1.0, rel=1e-5)
    logistic = load_config(CONFIGS / "logistic_regression.yaml")
    ds = pipeline.prepare_data(logistic)
    p = ds.Y_train.mean()
    assert sweep.chance_loss(logistic, ds) == pytest.approx(-(p * np.log(p) + (1 - p) * np.log(1 - p)), rel=1e-5)


def test_edge_and_advice_are_in_the_json_as_the_text_prints_them():
    data, _ = sweep_json(IRIS, "--num", "3", "--epochs", "10", "--jobs", "1")
    assert data["edge"] == "high" and data["mode"] == "grid" and data["folds"] is None
    text = run_cli("lr-sweep", IRIS, "--num", "3", "--epochs", "10", "--jobs", "1")
    assert text.stdout.endswith("\n".join(data["advice"]) + "\n")
    assert any("--max 10" in line for line in data["advice"])
    assert all(r["status"] in ("completed", "unstable", "stalled") for r in data["runs"])


# --- folds -------------------------------------------------------------------------------------
def test_folds_give_mean_and_sd_of_the_fold_losses_the_same_with_two_jobs():
    args = [IRIS, "--num", "3", "--epochs", "8", "--folds", "3"]
    data, result = sweep_json(*args, "--jobs", "1")
    assert data["folds"] == 3 and data["judged_on"] == "val_loss"
    for r in data["runs"]:
        assert len(r["fold_losses"]) == 3
        assert r["mean"] == r["val_loss"] == r["best_loss"] == pytest.approx(np.mean(r["fold_losses"]))
        assert r["sd"] == pytest.approx(np.std(r["fold_losses"], ddof=1))
        assert r["epochs_spent"] == 3 * 8
    best = next(r for r in data["runs"] if r["learning_rate"] == data["best"]["learning_rate"])
    assert data["best"]["val_loss"] == best["mean"]
    two, _ = sweep_json(*args, "--jobs", "2")
    assert two == data
    human = run_cli("lr-sweep", *args, "--jobs", "1")
    assert "3 folds" in human.stdout and " ± " in human.stdout


def test_folds_are_stratified_and_cover_the_training_rows_once():
    config = load_config(IRIS)
    ds = pipeline.prepare_data(config)
    fold = sweep.fold_of_rows(ds, 5, config.training.seed)
    classes = ds.Y_train.argmax(axis=1)
    counts = np.array([[np.sum((fold == f) & (classes == k)) for k in range(3)] for f in range(5)])
    assert counts.sum() == len(ds.X_train)
    assert (counts.max(axis=0) - counts.min(axis=0) <= 1).all()
    part = sweep.fold_dataset(ds, 2, 5, config.training.seed)
    assert len(part.X_val) == (fold == 2).sum() and len(part.X_train) == (fold != 2).sum()


@pytest.mark.parametrize("args, message", [
    (["--mode", "range", "--folds", "3"], "--folds applies to --mode grid only"),
    (["--mode", "halving", "--resume", "x.json"], "--resume applies to --mode grid only"),
    (["--folds", "1"], "--folds"),
])
def test_bad_fold_and_halving_options_exit_2(args, message):
    result = run_cli("lr-sweep", IRIS, *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr


# --- successive halving ----------------------------------------------------------------------------
def test_a_paused_run_continues_bit_identical_to_an_uninterrupted_one():
    # Adam, mini-batches (shuffled), dropout, a cosine schedule with warmup and early stopping:
    # everything that carries state from one epoch to the next.
    config = load_config(IRIS, ["training.optimizer=adam", "training.epochs=12",
                                "training.schedule={name: cosine, warmup_epochs: 2}",
                                "training.early_stopping={patience: 50}", "model.layers.0.dropout=0.2"])
    ds = pipeline.prepare_data(config)
    whole = pipeline.build_trainer(config, ds, learning_rate=0.02)
    history = pipeline.fit(whole, config, ds).history

    paused = sweep.PausableRun(config, ds, 0.02, 12).train(config, ds, until=3)
    assert paused.status == "paused" and paused.epochs_run == 3
    paused = pickle.loads(pickle.dumps(paused))  # as if continued in another process
    paused.train(config, ds, until=7)
    paused = pickle.loads(pickle.dumps(paused))
    paused.train(config, ds)
    assert paused.status == "completed" and paused.epochs_run == 12
    for got, want in zip(paused.network.get_weights(), whole.network.get_weights()):
        assert np.array_equal(got, want)
    assert [h["val_loss"] for h in paused.history] == [h["val_loss"] for h in history]


def test_halving_survivors_are_the_grid_runs_and_cost_at_most_a_third(tmp_path):
    args = [IRIS, "--num", "27", "--epochs", "27", "--jobs", "1"]
    grid, _ = sweep_json(*args)
    halving, result = sweep_json(*args, "--mode", "halving")
    assert halving["mode"] == "halving" and halving["epochs"] == 27
    assert [(rung["epochs"], rung["runs"]) for rung in halving["rungs"] if not rung["descent"]] == \
        [(1, 27), (3, 9), (9, 3), (27, 1)]
    assert halving["epochs_spent"] <= grid["epochs_spent"] / 3
    rates = [r["learning_rate"] for r in grid["runs"]]
    assert abs(rates.index(halving["best"]["learning_rate"]) - rates.index(grid["best"]["learning_rate"])) <= 1
    by_rate = {r["learning_rate"]: r for r in grid["runs"]}
    for r in halving["runs"]:
        assert r["stopped"] in ("completed", "diverged") or r["stopped"].startswith("halved at epoch ")
        if r["stopped"] == "completed":  # continued to the end: exactly the grid's run
            assert {k: r[k] for k in ("best_loss", "best_epoch", "train_loss", "epochs_run")} == \
                {k: by_rate[r["learning_rate"]][k] for k in ("best_loss", "best_epoch", "train_loss", "epochs_run")}
    best = next(r for r in halving["runs"] if r["learning_rate"] == halving["best"]["learning_rate"])
    assert not best["diverged"] and best["stopped"] == "completed"
    small = [IRIS, "--num", "5", "--epochs", "9", "--mode", "halving", "--folds", "2"]
    two, _ = sweep_json(*small, "--jobs", "2")
    one, _ = sweep_json(*small, "--jobs", "1")
    assert one == two


def test_halving_never_continues_a_diverged_rate():
    # Rates from far below to far above 2 / lambda_max on a quadratic.
    data, _ = sweep_json(CONFIGS / "linear_regression_multi.yaml", "--min", "1e-3", "--max", "100", "--num", "9",
                         "--epochs", "27", "--mode", "halving", "--jobs", "1")
    for r in data["runs"]:
        if r["diverged"]:
            assert r["epochs_run"] <= 3 + sweep.DIVERGENCE_PATIENCE  # stopped in the first rung
    assert not next(r for r in data["runs"] if r["learning_rate"] == data["best"]["learning_rate"])["diverged"]


def test_halving_budgets():
    assert sweep.halving_budgets(27, 200) == [8, 23, 67, 200]
    assert sweep.halving_budgets(9, 27) == [3, 9, 27]
    assert sweep.halving_budgets(11, 100) == [4, 12, 34, 100]
    assert sweep.halving_budgets(2, 10) == [4, 10]


def test_bench_halving_meets_its_target_on_two_shipped_configs(capsys):
    # The small version of bench/halving.py (all configs, 27 rates, their own epochs).
    import importlib.util

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("bench_halving", ROOT / "bench" / "halving.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--num", "27", "--epochs", "27", "--jobs", "1", "--configs", "iris,full_batch"]) == 0
    assert "| **all** |" in capsys.readouterr().out
