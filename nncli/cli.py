"""The command line: parse options, call the library, turn errors into messages.

This is the one place where exceptions become exit codes:
0 success · 1 training failed (diverged) · 2 bad input (usage, config, data, model file)
or an output that cannot be written · 70 a bug in nncli · 130 interrupted · 141 stdout
closed early. Heavy modules (numpy, pandas, rich tables) are imported inside
the commands so that ``nncli --help`` starts fast.
"""

import functools
import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.errors import NncliError

EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_INTERNAL = 1, 2, 130, 70
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for tools stopped by `| head`
_options = {"debug": False, "interrupted": False}


def handles_errors(command):
    """Run ``command``, rendering nncli's errors as one line on stderr with an exit code.

    Ctrl-C (and SIGTERM, which ``nncli.__main__`` turns into one) exits 130. A reader of
    stdout that goes away (``| head``) ends the command quietly, as for other tools.
    """

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            try:
                return command(*args, **kwargs)
            finally:
                sys.stdout.flush()  # here, so that a closed pipe is handled below, not at exit
        except typer.Exit:
            raise
        except BrokenPipeError:
            # Point stdout at /dev/null so that Python's final flush does not fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except KeyboardInterrupt:
            raise _interrupted("interrupted") from None
        except Exception as exc:
            if _caused_by_interrupt(exc):
                raise _interrupted("interrupted") from None
            if _options["debug"]:
                raise
            message, code = _describe(exc)
            _error(message)
            raise typer.Exit(code) from None

    return run


def _interrupted(message):
    """Say ``message`` and return the Exit for exit code 130."""
    _error(message)
    _options["interrupted"] = True
    return typer.Exit(EXIT_INTERRUPTED)


def _caused_by_interrupt(exc):
    """Whether ``exc`` wraps a Ctrl-C (or SIGTERM) that arrived inside library code.

    Python itself re-raises some exceptions wrapped: an interrupt while a module defines a
    class can surface as ``RuntimeError: Error calling __set_name__ ...`` from the
    KeyboardInterrupt, which is still an interrupt, not a bug.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _describe(exc):
    """The one-line message and the exit code for an exception that ends a command."""
    if isinstance(exc, NncliError):
        return str(exc), EXIT_BAD_INPUT
    if isinstance(exc, MemoryError):
        return (f"not enough memory ({exc or 'MemoryError'}); use smaller layers or batches, "
                "or a smaller --chunk-size"), EXIT_BAD_INPUT
    return (f"internal error: {type(exc).__name__}: {exc} (this is a bug in nncli; "
            "run again with --debug for the traceback and report it)"), EXIT_INTERNAL


def _error(message):
    typer.echo(f"error: {message}", err=True)


def _warn(message):
    typer.echo(f"warning: {message}", err=True)


# click's base exception, reached through typer's public API (newer typers vendor click).
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Group(typer.core.TyperGroup):
    """The command group, with usage errors (a bad option, a missing argument, a misspelt
    command) said in one ``error:`` line with exit code 2, like every other error."""

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):
        _options["interrupted"] = False
        try:
            code = super().main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        except _ClickException as exc:
            code = exc.exit_code
            message = exc.format_message().strip()
            if type(exc).__name__ == "NoArgsIsHelpError":  # the message is the help, if any
                if message:
                    typer.echo(message, err=True)
            else:
                ctx = getattr(exc, "ctx", None)
                hint = f" (see '{ctx.command_path} -h')" if ctx is not None else ""
                _error(message[:1].lower() + message[1:].rstrip(".") + hint)
        except typer.Abort:
            _error("aborted")
            code = 1
        if code == EXIT_INTERRUPTED and not _options["interrupted"]:
            _interrupted("interrupted")  # Ctrl-C while typer parsed the command line
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_Group,
    help="Train fully-connected neural networks written in NumPy from YAML config files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool):
    if value:
        from nncli import __version__

        typer.echo(f"nncli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of short messages.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print nncli's version and exit.")] = False,
):
    _options["debug"] = debug


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


# readable=False on paths: nncli checks them itself, with its own one-line messages.
ConfigArgument = Annotated[Path, typer.Argument(help="YAML config file.", show_default=False, readable=False)]
SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", metavar="KEY=VALUE",
                 help="Override a config value (dotted key, YAML value), e.g. --set training.epochs=50."),
]


@app.command()
@handles_errors
def train(
    config: ConfigArgument,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the model.",
                                         readable=False)] = Path("model.npz"),
    set_: SetOption = None,
    history: Annotated[Optional[Path], typer.Option("--history", help="Write one CSV row per epoch here.",
                                                    readable=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object on stdout.")] = False,
):
    """Train the network a config describes and save it as an .npz model file.

    Example: nncli train configs/iris.yaml -o iris.npz --set training.epochs=50
    """
    from nncli import pipeline
    from nncli.config import load_config
    from nncli.display import TrainingDisplay, display_mode, render_summary
    from nncli.errors import UsageError
    from nncli.fileio import check_writable
    from nncli.modelfile import save_model

    cfg = load_config(config, set_ or [])
    check_writable(output, "model file")
    if history is not None:
        check_writable(history, "history file")
        if Path(history).resolve() == Path(output).resolve():
            raise UsageError(f"--history and -o are both {output}; give the history another name")
    ds = pipeline.prepare_data(cfg)
    console = _stderr_console()
    for message in [] if quiet else ds.warnings + _training_warnings(cfg, ds):
        _warn(message)

    display = TrainingDisplay(console, mode=display_mode(console, quiet), title=f"nncli train {config}")
    with _stop_on_signals() as stopper, display:
        trainer = stopper.trainer = pipeline.build_trainer(cfg, ds, [display])
        result, metrics, seconds = pipeline.train(trainer, ds)

    if result.status == "diverged":
        _error(f"training diverged at epoch {result.diverged_epoch}: the loss is no longer finite. "
               f"Lower training.learning_rate (now {cfg.training.learning_rate:g}), or let "
               f"'nncli lr-sweep {config}' find one. Nothing was written to {output}.")
        raise typer.Exit(EXIT_DIVERGED)
    save_model(output, pipeline.make_model(cfg, ds, trainer, metrics))
    if history is not None:
        pipeline.write_history(history, result.history)
    summary = _summary(result, trainer, metrics, seconds, output)
    if json_:
        _print_json(summary)
    elif not quiet:
        render_summary(console, summary)
    if result.status == "interrupted":
        raise _interrupted(f"interrupted after {result.epochs_run} complete epoch(s); "
                           f"the model so far was saved to {output}")


def _training_warnings(cfg, ds):
    bs = cfg.training.batch_size
    out = []
    if bs != "full" and bs > len(ds.X_train):
        out.append(f"training.batch_size {bs} is larger than the {len(ds.X_train)} training rows; "
                   "training full-batch")
    if cfg.training.early_stopping is not None and ds.X_val is None:
        out.append("early_stopping watches the training loss: there is no validation data")
    return out


def _summary(result, trainer, metrics, seconds, output):
    best_epoch = next((getattr(cb, "best_epoch", None) for cb in trainer.callbacks
                       if hasattr(cb, "best_epoch")), None)
    return {
        "status": result.status,
        "epochs_run": result.epochs_run,
        "best_epoch": best_epoch,
        "train_loss": metrics.get("train_loss"),
        "val_loss": metrics.get("val_loss"),
        **{k: v for k, v in metrics.items() if k not in ("train_loss", "val_loss")},
        "seconds": round(seconds, 4),
        "model": str(output),
    }


class SweepMode(str, Enum):
    grid = "grid"
    range = "range"


@app.command("lr-sweep")
@handles_errors
def lr_sweep(
    config: ConfigArgument,
    mode: Annotated[SweepMode, typer.Option("--mode", help="grid: one training run per rate; "
                                            "range: one run with a rate rising every update.")] = SweepMode.grid,
    min_lr: Annotated[float, typer.Option("--min", help="Smallest learning rate.")] = 1e-5,
    max_lr: Annotated[float, typer.Option("--max", help="Largest learning rate.")] = 1.0,
    num: Annotated[Optional[int], typer.Option("--num", help="grid: number of rates, log-spaced "
                                               "(default 11).", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help="grid: epochs per run "
                                                  "(default: the config's).", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="range: number of updates "
                                                 "(default 100).", show_default=False)] = None,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, help="grid: worker processes "
                                                "(default: the number of cores).", show_default=False)] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", metavar="ADDRESS", help="grid: run on this Dask scheduler, e.g. tcp://10.0.0.5:8786 "
        "(needs: pip install 'nncli\\[dask]').")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object on stdout.")] = False,
    print_best: Annotated[bool, typer.Option("--print-best", help="Print only the best rate on stdout.")] = False,
    write_config: Annotated[Optional[Path], typer.Option(
        "--write-config", metavar="PATH", help="Write a copy of the config with the best rate.",
        readable=False)] = None,
    set_: SetOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or warnings on stderr.")] = False,
):
    """Find a learning rate: train at several rates and compare their validation loss.

    The result (table, chart, recommendation) goes to stdout, progress to stderr.
    Exit code 1 when every rate diverged.

    Example: nncli lr-sweep configs/iris.yaml --num 7 --epochs 50 --write-config iris-best.yaml
    """
    from nncli import pipeline, sweep
    from nncli.config import load_config
    from nncli.display import display_mode, format_rate
    from nncli.errors import UsageError
    from nncli.fileio import atomic_write, check_writable

    if json_ and print_best:
        raise UsageError("--json and --print-best both choose what goes to stdout; give one of them")
    grid_only = {"--num": num, "--epochs": epochs, "--jobs": jobs, "--scheduler": scheduler}
    misplaced = [name for name, value in grid_only.items() if value is not None] if mode is SweepMode.range \
        else ["--steps"] if steps is not None else []
    if misplaced:
        other = "grid" if mode is SweepMode.range else "range"
        raise UsageError(f"{', '.join(misplaced)} applies to --mode {other} only")
    rates = sweep.log_grid(min_lr, max_lr, 11 if num is None else num)  # checks --min/--max/--num
    steps = sweep.check_steps(100 if steps is None else steps)
    cfg = load_config(config, set_ or [])
    if write_config is not None:
        check_writable(write_config, "config file")
    ds = pipeline.prepare_data(cfg)
    for message in [] if quiet else ds.warnings + _training_warnings(cfg, ds):
        _warn(message)
    console = _stderr_console()
    progress_mode = display_mode(console, quiet or json_ or print_best)

    if mode is SweepMode.grid:
        jobs = 1 if scheduler else min(jobs or _cores(), len(rates))
        result, best, data, failure, detail = _grid_sweep(
            cfg, ds, config, rates, epochs, jobs, scheduler, console, progress_mode, quiet)
    else:
        result, best, data, failure, detail = _range_test(
            cfg, ds, config, min_lr, max_lr, steps, console, progress_mode)

    if json_:
        _print_json(data)
    elif print_best:
        if best is not None:
            print(format_rate(best))
    else:
        _render_sweep_result(result, mode, cfg.training.learning_rate)
    if best is None:
        _error(failure)
        raise typer.Exit(EXIT_DIVERGED)
    if write_config is not None:
        text = sweep.config_with_learning_rate(cfg, best, write_config)
        with atomic_write(write_config, "w") as f:
            f.write(f"# written by nncli lr-sweep from {config}: learning_rate {format_rate(best)} ({detail})\n")
            f.write(text)
        if not quiet:
            typer.echo(f"wrote {write_config} (training.learning_rate: {format_rate(best)})", err=True)


def _grid_sweep(cfg, ds, config, rates, epochs, jobs, scheduler, console, progress_mode, quiet):
    """Run the grid with progress on stderr; returns (result, best rate, JSON data, failure, detail)."""
    from nncli import sweep
    from nncli.display import SweepProgress, format_rate, sweep_run_line

    if ds.X_val is None and not quiet:
        _warn("the config has no validation data (data.validation: 0): judging each rate by its "
              "training loss, which rewards overfitting")
    where = f"on Dask scheduler {scheduler}" if scheduler else f"{jobs} process{'es' * (jobs > 1)}"
    title = (f"lr-sweep {config}: {len(rates)} rates from {format_rate(rates[0])} to "
             f"{format_rate(rates[-1])}, {epochs or cfg.training.epochs} epochs each, {where}")
    judged_on = "val_loss" if ds.X_val is not None else "train_loss"
    with SweepProgress(console, mode=progress_mode, total=len(rates), title=title) as progress:
        done = []

        def on_run(run):
            done.append(run)
            progress.advance(sweep_run_line(run, judged_on, len(done), len(rates)))

        result = sweep.grid_sweep(cfg, ds, rates, epochs, jobs=jobs, scheduler=scheduler, on_run=on_run)
    best = result.best
    return (result, None if best is None else best.learning_rate, sweep.grid_json(result),
            f"every learning rate diverged; try smaller ones, e.g. --min {format_rate(rates[0] / 1000)}",
            f"best {result.judged_on} {best.best_loss:.6g}" if best else "")


def _range_test(cfg, ds, config, min_lr, max_lr, steps, console, progress_mode):
    """Run the range test with progress on stderr; returns as :func:`_grid_sweep`."""
    from nncli import sweep
    from nncli.display import SweepProgress, format_rate

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


def _render_sweep_result(result, mode, config_rate):
    from rich.console import Console

    from nncli.display import render_range, render_sweep

    render = render_sweep if mode is SweepMode.grid else render_range
    render(Console(), result, config_rate)


class _stop_on_signals:
    """First SIGINT/SIGTERM: stop training after the current batch. Second: exit at once.

    The first is acknowledged on stderr at once: a batch can take a while, and the user
    should know that a second Ctrl-C would lose the model.
    """

    def __init__(self):
        self.trainer, self.saved = None, {}

    def __enter__(self):
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            self.saved[sig] = signal.getsignal(sig)
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.trainer is None or self.trainer.stop_training:
            raise KeyboardInterrupt
        self.trainer.stop("interrupted")
        # os.write, not print: a signal handler may run in the middle of a print to stderr.
        os.write(2, b"stopping at the end of this batch to save the model; "
                    b"Ctrl-C again stops at once without saving\n")

    def __exit__(self, *exc):
        import signal

        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


# --- predict, evaluate, inspect -----------------------------------------------------
class Missing(str, Enum):
    error = "error"
    drop = "drop"


class Unknown(str, Enum):
    error = "error"
    ignore = "ignore"


ModelArgument = Annotated[Path, typer.Argument(metavar="MODEL", help="Model file written by nncli train.",
                                                show_default=False, readable=False)]
DataArgument = Annotated[str, typer.Argument(metavar="DATA", help="CSV file, or - for stdin.", show_default=False)]
MissingOption = Annotated[Missing, typer.Option(
    "--missing", help="A missing or non-numeric feature value: error (stop, naming its line), "
                      "or drop (leave the row out; the count goes to stderr).")]
UnknownOption = Annotated[Unknown, typer.Option(
    "--unknown", help="A category not seen in training: error, or ignore (encode it as all zeros, with a warning).")]
ChunkSizeOption = Annotated[int, typer.Option(
    "--chunk-size", min=1, help="Rows read and predicted at a time; memory depends on this, not on the file size.")]


@app.command()
@handles_errors
def predict(
    model: ModelArgument,
    data: DataArgument,
    output: Annotated[Optional[str], typer.Option(
        "-o", "--output", help="Write the CSV here (atomically) instead of stdout; - is stdout.")] = None,
    with_input: Annotated[bool, typer.Option("--with-input", help="Put the input columns first.")] = False,
    id_column: Annotated[Optional[str], typer.Option(
        "--id-column", metavar="NAME", help="Copy this input column to the output, first.")] = None,
    missing: MissingOption = Missing.error,
    unknown: UnknownOption = Unknown.error,
    chunk_size: ChunkSizeOption = 50_000,
):
    """Predict the target of each row of a CSV file; writes CSV with a header, in input order.

    Columns are matched by name; extra columns (the target too) are ignored. The output holds the prediction in a column named after the target and, for classifiers, prob_<label> per class.

    Example: cat new.csv | nncli predict iris.npz - --id-column id > predictions.csv
    """
    from nncli.data import ChunkedCsv
    from nncli.fileio import atomic_write, check_writable
    from nncli.predicting import Policy, open_model, output_names, predict_csv

    to_stdout = output in (None, "-")
    if not to_stdout:
        check_writable(output, "output file")
    trained = open_model(model)
    policy = Policy(missing.value, unknown.value, chunk_size)
    with ChunkedCsv(data) as table:
        if id_column is not None:
            table.require([id_column], "--id-column")
        passthrough = list(table.header) if with_input else [id_column] if id_column else []
        if to_stdout:
            counts, names = predict_csv(trained, table, sys.stdout, policy, passthrough)
        else:
            with atomic_write(output, "w") as out:
                counts, names = predict_csv(trained, table, out, policy, passthrough)
    for plain, written in zip(output_names(trained), names):
        if plain != written:
            _warn(f"the input already has a column {plain!r}; the prediction column is named {written!r}")
    _report_counts(counts, table.where)


def _report_counts(counts, where):
    if counts.n_dropped:
        reasons = [f"{n} with a {what} value" for n, what in
                   ((counts.n_missing, "missing"), (counts.n_not_numeric, "non-numeric")) if n]
        _warn(f"left out {counts.n_dropped} of {counts.rows} row(s) of {where} ({', '.join(reasons)})")
    if counts.n_unknown:
        _warn(f"{counts.n_unknown} value(s) in {where} are categories not seen in training; "
              "encoded as all zeros")


def _print_json(data):
    """Print ``data`` as one JSON object on stdout, nan and infinity written as null."""
    print(json.dumps(_json_safe(data), allow_nan=False))


def _json_safe(value):
    """``value`` with nan and infinity replaced by None (JSON has no such numbers)."""
    import math

    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@app.command()
@handles_errors
def evaluate(
    model: ModelArgument,
    data: DataArgument,
    json_: Annotated[bool, typer.Option("--json", help="Print the results as one JSON object on stdout.")] = False,
    missing: MissingOption = Missing.error,
    unknown: UnknownOption = Unknown.error,
    chunk_size: ChunkSizeOption = 50_000,
):
    """Judge a model on labelled data: the loss and metrics, per class for classifiers.

    DATA must hold the target column. The loss is the model's own, computed as in training (comparable with the training val_loss); RMSE, MAE and R² are in the target's units.

    Example: nncli evaluate iris.npz held_out.csv --json
    """
    from rich.console import Console

    from nncli.data import ChunkedCsv
    from nncli.display import render_evaluation
    from nncli.predicting import Policy, evaluate_csv, open_model

    trained = open_model(model)
    with ChunkedCsv(data) as table:
        result, counts = evaluate_csv(trained, table, Policy(missing.value, unknown.value, chunk_size))
    _report_counts(counts, table.where)
    if json_:
        _print_json(result)
    else:
        render_evaluation(Console(), result)


@app.command("inspect")
@handles_errors
def inspect_model(
    model: ModelArgument,
    json_: Annotated[bool, typer.Option("--json", help="Print everything as one JSON object on stdout.")] = False,
):
    """Show what a model file holds.

    The architecture (layer sizes, activations, parameter count), the features and their preprocessing, the target and classes, the loss, the training config and the final metrics.

    Example: nncli inspect iris.npz
    """
    from rich.console import Console

    from nncli.display import render_inspection
    from nncli.predicting import describe, open_model

    info = describe(open_model(model))
    if json_:
        _print_json(info)
    else:
        render_inspection(Console(), info, title=f"model {model}")


def main():
    """Run the command line (``nncli.__main__.main``, the console script, calls this)."""
    app(prog_name="nncli")


if __name__ == "__main__":
    main()
