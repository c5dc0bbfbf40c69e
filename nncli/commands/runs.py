"""``nncli runs``: list the run folders that ``--run-dir`` made, newest first."""

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from nncli.commands.common import JsonOption, print_json


class SortKey(str, Enum):
    time = "time"
    config = "config"
    status = "status"
    epochs = "epochs"
    best_val_loss = "best_val_loss"
    final_val_loss = "final_val_loss"
    metric = "metric"
    seconds = "seconds"


def runs(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="The folder given to --run-dir.",
                                           file_okay=False, readable=False)] = Path("runs"),
    sort: Annotated[SortKey, typer.Option("--sort", metavar="COLUMN", help="Order by this column: time, config, status, epochs, best_val_loss, "
                                          "final_val_loss, metric or seconds; time and metric highest first, the others "
                                          "lowest first.")] = SortKey.time,
    json_: JsonOption = False,
):
    """List the runs kept by train --run-dir and lr-sweep --run-dir: time, config, status,
    epochs, best and final validation loss, the validation metric, seconds.

    Example: nncli runs runs/ --sort best_val_loss
    """
    from nncli.io.runs import list_runs

    rows = list_runs(folder, sort.value)
    if json_:
        print_json(rows)
        return
    from nncli.ui import console
    from nncli.ui.tables import render_runs

    render_runs(console(), rows, folder)


