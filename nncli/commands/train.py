"""``nncli train``: train the network a config describes and save it as a model file."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from nncli.commands.common import (JsonOption, QuietOption, RunDirOption, SetOption, invocation,
                                   print_json, warn)


def train(
    config: Annotated[Optional[Path], typer.Argument(
        metavar="[CONFIG]", help="YAML config file (with --resume: optional, the checkpoint keeps the config).",
        show_default=False, readable=False)] = None,
    output: Annotated[Optional[Path], typer.Option(
        "-o", "--output", metavar="FILE", help="Where to write the model [default: model.npz; with --run-dir, in its folder].",
        readable=False, show_default=False)] = None,
    set_: SetOption = None,
    history: Annotated[Optional[Path], typer.Option("--history", metavar="FILE", help="Write one CSV row per epoch here.",
                                                    readable=False)] = None,
    run_dir: RunDirOption = None,
    checkpoint: Annotated[Optional[Path], typer.Option(
        "--checkpoint", metavar="FILE", readable=False, show_default=False,
        help="Keep the complete training state in FILE (.npz), rewritten atomically at the end of an epoch, "
             "to carry on with --resume after a crash [default with --run-dir: checkpoint.npz in its folder].")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(
        "--checkpoint-every", metavar="N", min=1, show_default=False,
        help="Write the checkpoint every N epochs [default: every 60 seconds].")] = None,
    checkpoint_seconds: Annotated[Optional[float], typer.Option(
        "--checkpoint-seconds", metavar="SECONDS", min=0, show_default=False,
        help="Write the checkpoint at the end of the first epoch SECONDS or more after the last one.")] = None,
    resume: Annotated[Optional[Path], typer.Option(
        "--resume", metavar="PATH", readable=False, show_default=False,
        help="Carry on the run of this checkpoint (a checkpoint file, or a run folder: its checkpoint.npz); it ends with the weights "
             "of the run never interrupted.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="With --resume: carry on even if the config or the data changed (not reproducible).")] = False,
    init_from: Annotated[Optional[Path], typer.Option(
        "--init-from", metavar="MODEL", readable=False, show_default=False,
        help="Start from the weights of this model file (same features and layers) instead of random ones.")] = None,
    quiet: QuietOption = False,
    json_: JsonOption = False,
):
    """Train the network a config describes and save it as an .npz model file.

    Example: nncli train configs/iris.yaml -o iris.npz --set training.epochs=50

    After a crash: nncli train --resume checkpoint.npz (or --resume RUN_DIR).
    """
    from nncli import interrupts, ui
    from nncli.commands import checkpointing, pipeline
    from nncli.config import load_config
    from nncli.errors import Interrupted, UsageError
    from nncli.io import runs
    from nncli.io.atomic import check_writable
    from nncli.io.modelfile import save_model
    from nncli.ui.live import TrainingDisplay, display_mode
    from nncli.ui.tables import render_summary, summary_table

    resumed = None
    if resume is not None:
        if run_dir is not None or init_from is not None:
            raise UsageError("--resume carries on a run where it was (its folder, its weights); "
                             "leave out --run-dir and --init-from")
        resumed = checkpointing.open_resume(resume)
        cfg = checkpointing.resumed_config(resumed, config, set_ or [])
        config = config or Path(resumed.info.get("config_path") or resumed.path)
        if resumed.run_folder is not None and (output is not None or history is not None):
            raise UsageError(f"{resume} is a run folder's checkpoint: the model and the history stay in "
                             f"{resumed.run_folder}; leave out -o and --history")
        output = output or Path(resumed.info["output"])
        history = history or (resumed.info["history"] and Path(resumed.info["history"]))
        checkpoint = checkpoint or resumed.path
    elif config is None:
        raise UsageError("give a CONFIG file to train, or --resume FILE|RUN_DIR to carry on a run")
    elif force:
        raise UsageError("--force goes with --resume (to carry on although the config or the data changed)")
    else:
        cfg = load_config(config, set_ or [])
    every, every_seconds = checkpointing.frequency(checkpoint_every, checkpoint_seconds, resumed)
    if (checkpoint_every or checkpoint_seconds) is not None and checkpoint is None and run_dir is None:
        raise UsageError("--checkpoint-every and --checkpoint-seconds need --checkpoint FILE (or --run-dir)")
    if run_dir is not None and (output is not None or history is not None or checkpoint is not None):
        raise UsageError("--run-dir keeps the model, the history and the checkpoint in the run's folder; "
                         "leave out -o, --history and --checkpoint, or --run-dir")
    output = Path("model.npz") if output is None else output
    check_writable(output, "model file")
    if history is not None:
        check_writable(history, "history file")
        if Path(history).resolve() == Path(output).resolve():
            raise UsageError(f"--history and -o are both {output}; give the history another name")
    if checkpoint is not None:
        check_writable(checkpoint, "checkpoint file")
        if Path(checkpoint).resolve() in {Path(p).resolve() for p in (output, history) if p is not None}:
            raise UsageError(f"--checkpoint {checkpoint} is also the model or the history; give it another name")
    ds = pipeline.prepare_data(cfg)
    data_facts = runs.data_files(cfg) if checkpoint is not None or run_dir is not None else None
    resume_warnings = checkpointing.check_fingerprint(resumed, cfg, data_facts, force) if resumed else []
    console = ui.console(stderr=True)
    warnings = [] if quiet else ds.warnings + training_warnings(cfg, ds) + resume_warnings
    for message in warnings:
        warn(message)
    mode = display_mode(console, quiet or json_)
    run = None
    if run_dir is not None or (resumed is not None and resumed.run_folder is not None):
        run = (RunFolder(run_dir, config, cfg, "train", quiet) if resumed is None
               else RunFolder.reopen(resumed.run_folder, config, cfg, "train", quiet))
        output, history = run.folder / runs.MODEL, run.folder / runs.HISTORY
        checkpoint = run.folder / runs.CHECKPOINT
        if mode == "plain":  # no terminal: keep what is shown in the folder's log too
            console = run.logging_console(console, warnings)

    display = TrainingDisplay(console, mode=mode, title=f"nncli train {resume if resumed else config}")
    callbacks = [display]
    if checkpoint is not None:
        callbacks.append(checkpointing.checkpoint_callback(checkpoint, checkpointing.info(
            cfg, config, data_facts, output, history, run is not None, every, every_seconds), every, every_seconds))
    stopper = _StopAfterBatch(display)
    with interrupts.reacting(stopper), display:
        trainer = stopper.trainer = pipeline.build_trainer(cfg, ds, callbacks)
        if init_from is not None:
            checkpointing.warm_start(trainer, ds, init_from)
        if resumed is not None:
            trainer.restore(resumed.state)
        result, metrics, seconds = pipeline.train(trainer, ds, cfg)

    if result.status == "diverged":
        if run is not None:
            run.finish({"status": "diverged", "epochs_run": result.epochs_run, "seconds": round(seconds, 4)})
        if json_:
            print_json({"status": "diverged", "epochs_run": result.epochs_run,
                        "diverged_epoch": result.diverged_epoch,
                        "learning_rate": cfg.training.learning_rate, "model": None})
    pipeline.check_converged(result, cfg, config, output)
    save_model(output, pipeline.make_model(cfg, ds, trainer, metrics))
    if history is not None:
        pipeline.write_history(history, result.history)
    summary = pipeline.summary(result, trainer, metrics, seconds, output)
    if json_:
        print_json(summary)
    elif not quiet and result.status == "interrupted":
        console.print(summary_table(summary))  # the line below says how it ended and where the model went
    elif not quiet:
        render_summary(console, summary)
    if run is not None:
        run.finish(summary)
    if result.status == "interrupted" and checkpoint is not None and result.epochs_run:
        typer.echo(f"checkpoint of epoch {result.epochs_run} kept in {checkpoint}; "
                   f"nncli train --resume {run.folder if run else checkpoint} carries on", err=True)
    if result.status == "interrupted":
        raise Interrupted(f"interrupted after {result.epochs_run} complete epoch(s); "
                          f"the model so far was saved to {output}")


class RunFolder:
    """A run's folder (``--run-dir``): made with the resolved config in it; ``finish``
    writes summary.json (and the log, if one was kept)."""

    def __init__(self, parent, config_path, config, command, quiet=False):
        from nncli.io import runs

        self.started = runs.utc_now()
        self.folder = runs.make_run_dir(parent, config_path, self.started)
        self.config_path, self.config, self.command = config_path, config, command
        self.argv = list(invocation["argv"])
        self.log, self.quiet = None, quiet
        header = (f"# The resolved config of 'nncli {' '.join(self.argv)}' (defaults and --set applied);\n"
                  f"# nncli train on this file repeats the run.\n")
        runs.write_text(self.folder / runs.CONFIG, header + runs.config_text(config, self.folder / runs.CONFIG))

    @classmethod
    def reopen(cls, folder, config_path, config, command, quiet=False):
        """The existing run folder ``folder`` (a resumed run), left as it is until ``finish``."""
        from nncli.io import runs

        self = cls.__new__(cls)
        self.started, self.folder = runs.utc_now(), Path(folder)
        self.config_path, self.config, self.command = config_path, config, command
        self.argv, self.log, self.quiet = list(invocation["argv"]), None, quiet
        return self

    def logging_console(self, console, warnings):
        """A console that writes to ``console``'s file and to the run's log."""
        import io

        from nncli.ui import console as make_console

        self.log = io.StringIO()
        self.log.writelines(f"warning: {m}\n" for m in warnings)
        return make_console(file=_Tee(console.file, self.log), width=console.width, no_color=True,
                            force_terminal=False)

    def finish(self, summary):
        from nncli.io import runs

        runs.write_json(self.folder / runs.SUMMARY,
                        runs.run_record(self.command, self.config, self.config_path, self.argv, self.started,
                                        summary))
        if self.log is not None:
            runs.write_text(self.folder / runs.LOG, self.log.getvalue())
        if not self.quiet:
            typer.echo(f"run kept in {self.folder}", err=True)


class _Tee:
    """A text file that writes to two."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def write(self, text):
        self.second.write(text)
        return self.first.write(text)

    def flush(self):
        self.first.flush()

    def isatty(self):
        return False

    def fileno(self):
        return self.first.fileno()


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
