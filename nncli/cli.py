"""The command line: parse options, call the library, turn errors into messages.

This is the one place where exceptions become exit codes:
0 success · 1 training failed (diverged) · 2 bad input (usage, config, data, model file)
· 130 interrupted. Heavy modules (numpy, pandas, rich tables) are imported inside
the commands so that ``nncli --help`` starts fast.
"""

import functools
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.errors import NncliError

EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_INTERNAL = 1, 2, 130, 70
_options = {"debug": False}


def handles_errors(command):
    """Run ``command``, rendering nncli's errors as one line on stderr with an exit code."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except NncliError as exc:
            if _options["debug"]:
                raise
            _error(str(exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except KeyboardInterrupt:
            _error("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            if _options["debug"]:
                raise
            _error(f"internal error: {type(exc).__name__}: {exc} (this is a bug in nncli; "
                   "run again with --debug for the traceback and report it)")
            raise typer.Exit(EXIT_INTERNAL) from None

    return run


def _error(message):
    typer.echo(f"error: {message}", err=True)


def _warn(message):
    typer.echo(f"warning: {message}", err=True)


app = typer.Typer(
    help="Train fully-connected neural networks written in NumPy from YAML config files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of short messages.")] = False,
):
    _options["debug"] = debug


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", metavar="KEY=VALUE",
                 help="Override a config value (dotted key, YAML value), e.g. --set training.epochs=50."),
]


@app.command()
@handles_errors
def train(
    config: Annotated[Path, typer.Argument(help="YAML config file.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the model.")] = Path("model.npz"),
    set_: SetOption = None,
    history: Annotated[Optional[Path], typer.Option("--history", help="Write one CSV row per epoch here.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object on stdout.")] = False,
):
    """Train the network a config describes and save it as an .npz model file.

    Example: nncli train configs/iris.yaml -o iris.npz --set training.epochs=50
    """
    from nncli import pipeline
    from nncli.config import load_config
    from nncli.display import TrainingDisplay, display_mode, render_summary
    from nncli.fileio import check_writable
    from nncli.modelfile import save_model

    cfg = load_config(config, set_ or [])
    check_writable(output, "model file")
    if history is not None:
        check_writable(history, "history file")
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
               f"'nncli lr-sweep {config}' find one. {output} was not written.")
        raise typer.Exit(EXIT_DIVERGED)
    save_model(output, pipeline.make_model(cfg, ds, trainer, metrics))
    if history is not None:
        pipeline.write_history(history, result.history)
    summary = _summary(result, trainer, metrics, seconds, output)
    if json_:
        print(json.dumps(summary))
    elif not quiet:
        render_summary(console, summary)
    if result.status == "interrupted":
        _error(f"interrupted after {result.epochs_run} complete epoch(s); the model so far was saved to {output}")
        raise typer.Exit(EXIT_INTERRUPTED)


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


class _stop_on_signals:
    """First SIGINT/SIGTERM: stop training after the current batch. Second: exit at once."""

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

    def __exit__(self, *exc):
        import signal

        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


def main():
    """Console-script entry point."""
    app(prog_name="nncli")


if __name__ == "__main__":
    main()
