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
    _render(rows, folder)


def _render(rows, folder):
    from rich.table import Table

    from nncli.ui import console as rich_console
    from nncli.ui.format import format_value

    def shown(value):
        return "" if value is None else format_value(value) if isinstance(value, float) else str(value)

    table = Table(title=f"{len(rows)} run(s) in {folder}, newest first" if rows else f"no runs in {folder}",
                  title_justify="left")
    for name, justify in (("time (UTC)", "left"), ("config", "left"), ("status", "left"), ("epochs", "right"),
                          ("best val loss", "right"), ("final val loss", "right"), ("metric", "right"),
                          ("seconds", "right"), ("folder", "left")):
        table.add_column(name, justify=justify, no_wrap=name in ("time (UTC)", "folder"))
    for r in rows:
        metric = "" if r["metric"] is None else f"{_METRIC_LABELS.get(r['metric'], r['metric'])} " \
                                                f"{shown(r['metric_value'])}"
        config = r["config"] + (f" ({r['command']})" if r["command"] != "train" else "")
        table.add_row(shown(r["time"]).replace("T", " ").rstrip("Z"), config, shown(r["status"]), shown(r["epochs"]),
                      shown(r["best_val_loss"]), shown(r["final_val_loss"]), metric, shown(r["seconds"]), r["run"])
    rich_console().print(table)


_METRIC_LABELS = {"val_accuracy": "accuracy", "val_r2": "R²", "learning_rate": "best lr"}
