"""What every command shares: option definitions (one help text each), JSON output,
warnings on stderr.

Option types are ``Annotated`` aliases, as sqlite-utils' ``output_options``: a command
writes ``json_: JsonOption = False`` and gets the same flag and help as every other.
"""

import json
import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

# readable=False on paths: nncli checks them itself, with its own one-line messages.
ConfigArgument = Annotated[Path, typer.Argument(metavar="CONFIG", help="YAML config file.", show_default=False,
                                                readable=False)]
ModelArgument = Annotated[Path, typer.Argument(metavar="MODEL", help="Model file written by nncli train.",
                                               show_default=False, readable=False)]
DataArgument = Annotated[str, typer.Argument(metavar="DATA", help="CSV file (- for stdin), or Parquet file (*.parquet).", show_default=False)]
SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", metavar="KEY=VALUE",
                 help="Override a config value (dotted key, YAML value), e.g. --set training.epochs=50."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object on stdout; no progress on stderr, "
                                                    "only warnings and errors.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or warnings on stderr; errors only.")]
RunDirOption = Annotated[Optional[Path], typer.Option(
    "--run-dir", metavar="DIR", file_okay=False, readable=False,
    help="Keep this run in a new folder of DIR, named by the UTC time and the config: the resolved "
         "config, the results and a summary (nncli runs DIR lists them).")]

# The command line as given (set by nncli.cli for each invocation), for run folders.
invocation = {"argv": []}


def print_json(data):
    """Print ``data`` as one JSON object on stdout, nan and infinity written as null."""
    print(json.dumps(json_safe(data), allow_nan=False))


def json_safe(value):
    """``value`` with nan and infinity replaced by None (JSON has no such numbers) and
    NumPy scalars made plain Python numbers."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # a NumPy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def warn(message, console=None):
    """``warning: message`` on stderr. On a terminal, wrapped between words (the terminal
    itself would split a column name in two); elsewhere one line, as logs want it."""
    console = console or _stderr_if_terminal()
    if console is not None and console.is_terminal:
        console.print(f"warning: {message}", markup=False, highlight=False, overflow="fold")
    else:
        typer.echo(f"warning: {message}", err=True)


def _stderr_if_terminal():
    import os

    if not os.isatty(2):
        return None  # rich only on a terminal: it costs an import
    from nncli.ui import console

    return console(stderr=True)


# --- options of predict and evaluate ---------------------------------------------------
class Missing(str, Enum):
    error = "error"
    drop = "drop"


class Unknown(str, Enum):
    error = "error"
    ignore = "ignore"


MissingOption = Annotated[Missing, typer.Option(
    "--missing", metavar="ACTION", help="A missing or non-numeric feature value: error (stop, naming its line), "
                      "or drop (leave the row out; the count goes to stderr).")]
UnknownOption = Annotated[Optional[Unknown], typer.Option(
    "--unknown", metavar="ACTION", help="A category not seen in training: error, or ignore (encode it as all "
                                        "zeros, with a warning); default: the model's data.unknown (error "
                                        "unless trained with ignore).",
    show_default=False)]
ChunkSizeOption = Annotated[int, typer.Option(
    "--chunk-size", metavar="N", min=1, help="Rows read and predicted at a time; memory depends on this, not on the file size.")]
