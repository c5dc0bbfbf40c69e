"""``nncli train``: train the network a config describes and save it as a model file."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.commands.common import ConfigArgument, JsonOption, QuietOption, SetOption, print_json, warn


def train(
    config: ConfigArgument,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the model.",
                                         readable=False)] = Path("model.npz"),
    set_: SetOption = None,
    history: Annotated[Optional[Path], typer.Option("--history", help="Write one CSV row per epoch here.",
                                                    readable=False)] = None,
    quiet: QuietOption = False,
    json_: JsonOption = False,
):
    """Train the network a config describes and save it as an .npz model file.

    Example: nncli train configs/iris.yaml -o iris.npz --set training.epochs=50
    """
    from nncli import interrupts
    from nncli.commands import pipeline
    from nncli.commands.common import stderr_console
    from nncli.config import load_config
    from nncli.errors import Interrupted, TrainingFailed, UsageError
    from nncli.io.atomic import check_writable
    from nncli.io.modelfile import save_model
    from nncli.ui.live import TrainingDisplay, display_mode
    from nncli.ui.tables import render_summary, summary_table

    cfg = load_config(config, set_ or [])
    check_writable(output, "model file")
    if history is not None:
        check_writable(history, "history file")
        if Path(history).resolve() == Path(output).resolve():
            raise UsageError(f"--history and -o are both {output}; give the history another name")
    ds = pipeline.prepare_data(cfg)
    console = stderr_console()
    for message in [] if quiet else ds.warnings + training_warnings(cfg, ds):
        warn(message)

    display = TrainingDisplay(console, mode=display_mode(console, quiet or json_), title=f"nncli train {config}")
    stopper = _StopAfterBatch(display)
    with interrupts.reacting(stopper), display:
        trainer = stopper.trainer = pipeline.build_trainer(cfg, ds, [display])
        result, metrics, seconds = pipeline.train(trainer, ds)

    if result.status == "diverged":
        if json_:
            print_json({"status": "diverged", "epochs_run": result.epochs_run,
                        "diverged_epoch": result.diverged_epoch,
                        "learning_rate": cfg.training.learning_rate, "model": None})
        raise TrainingFailed(
            f"training diverged at epoch {result.diverged_epoch}: the loss is no longer finite. "
            f"Lower training.learning_rate (now {cfg.training.learning_rate:g}), or let "
            f"'nncli lr-sweep {config}' find one. Nothing was written to {output}.")
    save_model(output, pipeline.make_model(cfg, ds, trainer, metrics))
    if history is not None:
        pipeline.write_history(history, result.history)
    summary = _summary(result, trainer, metrics, seconds, output)
    if json_:
        print_json(summary)
    elif not quiet and result.status == "interrupted":
        console.print(summary_table(summary))  # the line below says how it ended and where the model went
    elif not quiet:
        render_summary(console, summary)
    if result.status == "interrupted":
        raise Interrupted(f"interrupted after {result.epochs_run} complete epoch(s); "
                          f"the model so far was saved to {output}")


def training_warnings(cfg, ds):
    """Warnings about the config for this data (train and lr-sweep)."""
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


class _StopAfterBatch:
    """First SIGINT/SIGTERM: stop training after the current batch. Second: stop at once.

    The first is acknowledged at once, through the display (a live display would draw
    over a line written under it): a batch can take a while, and the user should know
    that a second Ctrl-C would lose the model.
    """

    def __init__(self, display):
        self.display, self.trainer = display, None

    def __call__(self, signum):
        if self.trainer is None or self.trainer.stop_training:
            return False  # KeyboardInterrupt: stop at once
        self.trainer.stop("interrupted")
        self.display.notify("stopping at the end of this batch to save the model; "
                            "Ctrl-C again stops at once without saving")
        return True
