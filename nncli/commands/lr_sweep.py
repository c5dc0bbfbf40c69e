"""``nncli lr-sweep``: train at several learning rates and recommend one.

The runs themselves (grid, range test, worker processes, Dask) are in
``nncli.commands.sweeping``; this module is the command around them.
"""

import os
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.commands.common import (ConfigArgument, JsonOption, QuietOption, RunDirOption, SetOption, print_json,
                                   warn)


class SweepMode(str, Enum):
    grid = "grid"
    range = "range"
    halving = "halving"


def lr_sweep(
    config: ConfigArgument,
    mode: Annotated[SweepMode, typer.Option("--mode", metavar="MODE", help="grid: one training run per rate; "
                                            "halving: successive halving of the grid (the best third of the rates "
                                            "continue at every rung); range: one run with a rate rising every "
                                            "update.")] = SweepMode.grid,
    min_lr: Annotated[float, typer.Option("--min", metavar="RATE", help="Smallest learning rate.")] = 1e-5,
    max_lr: Annotated[float, typer.Option("--max", metavar="RATE", help="Largest learning rate.")] = 1.0,
    num: Annotated[Optional[int], typer.Option("--num", metavar="N", help="grid: number of rates, log-spaced "
                                               "(default 11).", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", metavar="N", min=1, help="grid: epochs per run "
                                                  "(default: the config's).", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", metavar="N", help="range: number of updates "
                                                 "(default 100).", show_default=False)] = None,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", metavar="N", min=1, help="grid: worker processes "
                                                "(default: the number of cores).", show_default=False)] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", metavar="ADDRESS", help="grid: run on this Dask scheduler, e.g. tcp://10.0.0.5:8786 "
        "(needs: pip install 'nncli[dask]').")] = None,
    folds: Annotated[Optional[int], typer.Option(
        "--folds", metavar="K", min=2, help="grid, halving: judge each rate by K-fold cross-validation on the training split "
        "(mean ± sd of the folds' best validation losses).", show_default=False)] = None,
    json_: JsonOption = False,
    print_best: Annotated[bool, typer.Option("--print-best", help="Print only the best rate on stdout.")] = False,
    write_config: Annotated[Optional[Path], typer.Option(
        "--write-config", metavar="PATH", help="Write a copy of the config with the best rate.",
        readable=False)] = None,
    set_: SetOption = None,
    run_dir: RunDirOption = None,
    quiet: QuietOption = False,
    resume: Annotated[Optional[Path], typer.Option(
        "--resume", metavar="FILE", help="grid: run only the rates an interrupted sweep did not, "
        "reading its --json output (same config and grid).", readable=False)] = None,
):
    """Find a learning rate: train at several rates and compare their validation loss.

    The result (table, chart, recommendation) goes to stdout, progress to stderr.
    Exit code 1 when every rate diverged. Interrupted (Ctrl-C), it shows the runs that finished and exits 130; with --json, --resume continues it.

    Example: nncli lr-sweep configs/iris.yaml --num 7 --epochs 50 --write-config iris-best.yaml
    """
    from nncli import ui
    from nncli.commands import pipeline
    from nncli.commands import sweeping as sweep
    from nncli.commands.train import RunFolder, training_warnings
    from nncli.config import load_config
    from nncli.errors import Interrupted, TrainingFailed, UsageError
    from nncli.io.atomic import atomic_write, check_writable
    from nncli.ui.format import format_rate
    from nncli.ui.live import display_mode

    if json_ and print_best:
        raise UsageError("--json and --print-best both choose what goes to stdout; give one of them")
    grid_only = {"--num": num, "--epochs": epochs, "--jobs": jobs, "--scheduler": scheduler, "--resume": resume,
                 "--folds": folds}
    misplaced = [name for name, value in grid_only.items() if value is not None] if mode is SweepMode.range \
        else ["--steps"] if steps is not None else []
    if misplaced:
        other = "grid" if mode is SweepMode.range else "range"
        raise UsageError(f"{', '.join(misplaced)} applies to --mode {other} only")
    if mode is SweepMode.halving and resume is not None:
        raise UsageError("--resume applies to --mode grid only")
    rates = sweep.log_grid(min_lr, max_lr, 11 if num is None else num)  # checks --min/--max/--num
    steps = sweep.check_steps(100 if steps is None else steps)
    cfg = load_config(config, set_ or [])
    if write_config is not None:
        check_writable(write_config, "config file")
    ds = pipeline.prepare_data(cfg)
    for message in [] if quiet else ds.warnings + training_warnings(cfg, ds):
        warn(message)
    console = ui.console(stderr=True)
    progress_mode = display_mode(console, quiet or json_ or print_best)
    run = None if run_dir is None else RunFolder(run_dir, config, cfg, "lr-sweep", quiet)
    start = time.perf_counter()

    if mode is not SweepMode.range:
        folds = sweep.check_folds(folds, ds)
        previous = [] if resume is None else _previous_runs(resume, cfg, rates, epochs or cfg.training.epochs, folds)
        jobs = 1 if scheduler else min(jobs or _cores(), len(rates) * (folds or 1))
        result, best, data, failure, detail = _grid_sweep(
            cfg, ds, config, rates, epochs, jobs, scheduler, console, progress_mode, quiet, previous, folds,
            halving=mode is SweepMode.halving)
    else:
        result, best, data, failure, detail = _range_test(
            cfg, ds, config, min_lr, max_lr, steps, console, progress_mode)

    interrupted = mode is not SweepMode.range and result.not_run
    if interrupted and not result.runs:
        raise KeyboardInterrupt  # nothing to show: "interrupted", as before any run
    if run is not None:
        from nncli.io import runs

        runs.write_json(run.folder / runs.SWEEP, data)
        status = "interrupted" if interrupted else "completed" if best is not None else "diverged"
        run.finish({"status": status, "mode": mode.value,
                    "best": data["best"], "judged_on": data.get("judged_on", "smoothed_loss"),
                    "seconds": round(time.perf_counter() - start, 4)})
    if json_:
        print_json(data)
    elif print_best:
        if best is not None:
            print(format_rate(best))
    else:
        _render_result(result, mode, cfg.training.learning_rate)
    if interrupted:
        total = len(result.runs) + len(result.not_run)
        shown = ("the JSON holds the runs that finished; continue with --resume FILE, FILE holding this output"
                 if json_ else "the table shows the runs that finished")
        raise Interrupted(f"interrupted after {len(result.runs)} of {total} runs; {shown}")
    if best is None:
        raise TrainingFailed(failure)
    if write_config is not None:
        text = sweep.config_with_learning_rate(cfg, best, write_config)
        with atomic_write(write_config, "w") as f:
            f.write(f"# written by nncli lr-sweep from {config}: learning_rate {format_rate(best)} ({detail})\n")
            f.write(text)
        if not quiet:
            typer.echo(f"wrote {write_config} (training.learning_rate: {format_rate(best)})", err=True)


def _previous_runs(path, cfg, rates, epochs, folds):
    """The finished runs of the sweep whose --json output is at ``path`` (--resume)."""
    import json

    from nncli.commands import sweeping as sweep
    from nncli.errors import UsageError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"--resume {path}: cannot read it as the output of 'nncli lr-sweep --json' "
                         f"({getattr(exc, 'strerror', None) or exc})") from None
    return sweep.previous_runs(data, str(path), cfg, rates, epochs, folds)


def _grid_sweep(cfg, ds, config, rates, epochs, jobs, scheduler, console, progress_mode, quiet, previous=(),
                folds=None, halving=False):
    """Run the grid (or its successive halving) with progress on stderr; returns
    (result, best rate, JSON data, failure, detail).

    The rates of ``previous`` (runs of a resumed sweep) are not run again. Interrupted,
    the result holds the runs that finished and lists the others in ``not_run``.
    """
    from nncli.commands import sweeping as sweep
    from nncli.ui.format import format_rate
    from nncli.ui.live import SweepProgress
    from nncli.ui.tables import sweep_advice, sweep_run_line

    if ds.X_val is None and not folds and not quiet:
        warn("the config has no validation data (data.validation: 0): judging each rate by its "
             "training loss, which rewards overfitting")
    where = f"on Dask scheduler {scheduler}" if scheduler else f"{jobs} process{'es' * (jobs > 1)}"
    how = (f"successive halving up to {epochs or cfg.training.epochs} epochs" if halving
           else f"{epochs or cfg.training.epochs} epochs each")
    title = (f"lr-sweep {config}: {len(rates)} rates from {format_rate(rates[0])} to "
             f"{format_rate(rates[-1])}, {how}{f', {folds} folds' if folds else ''}, {where}")
    judged_on = "val_loss" if ds.X_val is not None or folds else "train_loss"
    done = list(previous)
    todo = [lr for lr in rates if lr not in {run.learning_rate for run in done}]
    try:
        with SweepProgress(console, mode=progress_mode, total=len(todo), title=title) as progress:

            def on_run(run):
                again = [i for i, old in enumerate(done) if old.learning_rate == run.learning_rate]
                if again:  # halving: a halved rate continued (the descent)
                    done[again[0]] = run
                    progress.say(sweep_run_line(run, judged_on, len(done) - len(previous), len(todo)))
                    return
                done.append(run)
                progress.advance(sweep_run_line(run, judged_on, len(done) - len(previous), len(todo)))

            run_sweep = sweep.halving_sweep if halving else sweep.grid_sweep
            outcome = run_sweep(cfg, ds, todo, epochs, jobs=min(jobs, max(len(todo) * (folds or 1), 1)),
                                scheduler=scheduler, on_run=on_run, folds=folds)
    except KeyboardInterrupt:
        outcome = None  # the runs that finished are in done
    finished = {run.learning_rate for run in done}
    result = sweep.SweepResult(done, judged_on, epochs or cfg.training.epochs,
                               not_run=[lr for lr in rates if lr not in finished],
                               chance=sweep.chance_loss(cfg, ds), folds=folds,
                               mode="halving" if halving else "grid",
                               rungs=outcome.rungs if outcome is not None else [])
    best = result.best
    data = sweep.grid_json(result, cfg)
    data["advice"] = sweep_advice(result, cfg.training.learning_rate)
    return (result, None if best is None else best.learning_rate, data,
            f"every learning rate diverged; try smaller ones, e.g. --min {format_rate(rates[0] / 1000)}",
            f"best {result.judged_on} {best.best_loss:.6g}" if best else "")


def _range_test(cfg, ds, config, min_lr, max_lr, steps, console, progress_mode):
    """Run the range test with progress on stderr; returns as :func:`_grid_sweep`."""
    from nncli.commands import sweeping as sweep
    from nncli.ui.format import format_rate
    from nncli.ui.live import SweepProgress

    title = f"lr-sweep {config}: range test, {steps} updates from {format_rate(min_lr)} to {format_rate(max_lr)}"
    with SweepProgress(console, mode=progress_mode, total=steps, unit="updates", title=title) as progress:
        result = sweep.range_test(cfg, ds, min_lr, max_lr, steps, on_step=lambda step: progress.advance())
    return (result, result.best, sweep.range_json(result),
            "the range test found no rate where the loss falls; try a smaller --min or more --steps",
            "steepest descent of the range test's smoothed loss")


def _cores():
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _render_result(result, mode, config_rate):
    from nncli.ui import console
    from nncli.ui.tables import render_range, render_sweep

    render = render_range if mode is SweepMode.range else render_sweep
    render(console(), result, config_rate)
