"""The command line: the app, its commands, and the one place where exceptions become
messages and exit codes:

0 success · 1 training failed (diverged) · 2 bad input (usage, config, data, model file)
or an output that cannot be written · 70 a bug in nncli · 130 interrupted · 141 stdout
closed early.

Each command lives in ``nncli/commands/<name>.py``; those modules import only typer at
load time and their heavy modules (numpy, pandas, rich) inside the command, so that
``nncli --help`` starts fast. Signals are handled in ``nncli.interrupts``.
"""

import functools
import os
import re
import sys
import traceback

import typer

from nncli.commands.check import check
from nncli.commands.common import invocation
from nncli.commands.evaluate import evaluate
from nncli.commands.init import init
from nncli.commands.export import export
from nncli.commands.inspect import inspect_model
from nncli.commands.lr_sweep import lr_sweep
from nncli.commands.plot import plot
from nncli.commands.predict import predict
from nncli.commands.runs import runs
from nncli.commands.schema import schema
from nncli.commands.train import train
from nncli.errors import Interrupted, NncliError, TrainingFailed

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_INTERNAL = 1, 2, 130, 70
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for tools stopped by `| head`
_options = {"debug": False, "interrupted": False}


def handles_errors(command):
    """Run ``command``, rendering its exceptions as one line on stderr with an exit code.

    Ctrl-C (and SIGTERM, which ``nncli.interrupts`` turns into one) exits 130. A reader
    of stdout that goes away (``| head``) ends the command quietly, as for other tools.
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
            if isinstance(exc, Interrupted):
                raise _interrupted(str(exc), kept=True) from None
            if _options["debug"] and not isinstance(exc, TrainingFailed):
                traceback.print_exc()  # then the message and the same exit code as without --debug
            message, code = _describe(exc)
            _error(message)
            raise typer.Exit(code) from None

    return run


def _interrupted(message, kept=False):
    """Say ``message`` and return the Exit for exit code 130.

    A stop that ``kept`` what was done so far (an Interrupted: the model saved, the
    finished runs shown) is what the user asked for, so it is said as a plain line; an
    interrupt that kept nothing is an ``error:``.
    """
    if kept:
        typer.echo(message, err=True)
    else:
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
    if isinstance(exc, TrainingFailed):
        return str(exc), EXIT_FAILED
    if isinstance(exc, NncliError):
        return str(exc), EXIT_BAD_INPUT
    if isinstance(exc, MemoryError):
        return (f"not enough memory ({exc or 'MemoryError'}); use smaller layers or batches, "
                "or a smaller --chunk-size"), EXIT_BAD_INPUT
    return (f"internal error: {type(exc).__name__}: {exc} (this is a bug in nncli; "
            "run again with --debug for the traceback and report it)"), EXIT_INTERNAL


def _error(message):
    typer.echo(f"error: {message}", err=True)


# click's base exception, reached through typer's public API (newer typers vendor click).
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Group(typer.core.TyperGroup):
    """The command group, with usage errors (a bad option, a missing argument, a misspelt
    command) said in one ``error:`` line with exit code 2, like every other error."""

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):
        _options["interrupted"] = False
        invocation["argv"] = [str(a) for a in (sys.argv[1:] if args is None else args)]
        try:
            code = super().main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        except _ClickException as exc:
            code = exc.exit_code
            message = exc.format_message().strip()
            if type(exc).__name__ == "NoArgsIsHelpError":  # the message is the help
                typer.echo(message)
            else:
                ctx = getattr(exc, "ctx", None)
                hint = f" (see '{ctx.command_path} -h')" if ctx is not None else ""
                if getattr(exc, "option_name", None) == "--debug" and ctx is not None and ctx.parent is not None:
                    hint = (f"; --debug goes before the command: {ctx.parent.command_path} --debug "
                            f"{ctx.info_name} ...{hint}")
                _error(message[:1].lower() + message[1:].rstrip(".") + hint)
        except typer.Abort:
            _error("aborted")
            code = 1
        if code == EXIT_INTERRUPTED and not _options["interrupted"]:
            _interrupted("interrupted")  # Ctrl-C while typer parsed the command line
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


class _Command(typer.core.TyperCommand):
    """A command whose help writes every value one way: an upper-case word (CONFIG, FILE, N,
    KEY=VALUE), given as each parameter's metavar; never typer's ``{CONFIG}`` for a required
    argument or a range as ``x>=1``."""

    def collect_usage_pieces(self, ctx):
        return [piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
                for piece in super().collect_usage_pieces(ctx)]

    def format_options(self, ctx, formatter):
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                name, help_ = record
                record = name, _RANGE.sub(_range_in_words, help_)
                (arguments if param.param_type_name == "argument" else options).append(record)
        for title, records in (("Arguments", arguments), ("Options", options)):
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


# click's descriptions of a number range: x>=1, x<=9, 1<=x<=9 (< for an open end).
_RANGE = re.compile(r"(?:(?P<low>[-\d.e+]+)(?P<lop><=?))?x(?P<op>[<>]=?)?(?P<bound>[-\d.e+]+)?(?=[;\]])")


def _range_in_words(match):
    low, op, bound = match["low"], match["op"], match["bound"]
    if low is not None:
        return f"{low} to {bound}"
    if op is None:
        return match[0]
    words = {">=": "at least", ">": "above", "<=": "at most", "<": "below"}[op]
    return f"{words} {bound}"


app = typer.Typer(
    cls=_Group,
    help="Train fully-connected neural networks written in NumPy from YAML config files.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    # Plain help, as click writes it: rich's markup in help costs ~0.1 s at every start.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool):
    if value:
        from nncli import __version__

        typer.echo(f"nncli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of short messages."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print nncli's version and exit."),
):
    _options["debug"] = debug


for _name, _command in (("init", init), ("check", check), ("train", train), ("lr-sweep", lr_sweep), ("predict", predict),
                        ("evaluate", evaluate), ("inspect", inspect_model), ("export", export), ("schema", schema),
                        ("plot", plot), ("runs", runs)):
    app.command(_name, cls=_Command)(handles_errors(_command))


def main():
    """Run the command line (``nncli.__main__.main``, the console script, calls this)."""
    app(prog_name="nncli")


if __name__ == "__main__":
    main()
