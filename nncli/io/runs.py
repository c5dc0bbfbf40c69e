"""Run folders: ``runs/<UTC time>-<config name>/`` holding what a run used and made.

A folder is made with ``os.mkdir``, which fails if it exists, so two runs never share
one, even when they start in the same second (the second gets a suffix, ``-2``).
Reading them back (``nncli runs``, ``nncli plot RUN_DIR``) needs only the standard
library.
"""

import csv
import datetime
import hashlib
import json
import math
import os
import re
from pathlib import Path

from nncli.errors import UsageError
from nncli.io.atomic import atomic_write

CONFIG, SUMMARY, HISTORY, MODEL, SWEEP, LOG, CHECKPOINT = (
    "config.yaml", "summary.json", "history.csv", "model.npz", "sweep.json", "log.txt", "checkpoint.npz")
TIME_FORMAT = "%Y-%m-%dT%H-%M-%SZ"


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def make_run_dir(parent, config_path, now=None) -> Path:
    """Create and return a new folder ``parent/<UTC time>-<config name>[-N]``."""
    parent = Path(parent)
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"--run-dir {parent} is a file; give a folder (it is made if missing)")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot make the run folder {parent}: {exc.strerror or exc}") from None
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(config_path).stem) or "config"
    stem = f"{(now or utc_now()).strftime(TIME_FORMAT)}-{name}"
    for n in range(1, 10_000):
        folder = parent / (stem if n == 1 else f"{stem}-{n}")
        try:
            os.mkdir(folder)  # atomic: fails if another run made it first
            return folder
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(f"cannot make a run folder in {parent}: {exc.strerror or exc}") from None
    raise UsageError(f"{parent} already holds 9999 runs named {stem}; use another --run-dir")


def file_facts(path):
    """{"path", "bytes", "sha256"} of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return {"path": str(path), "bytes": size, "sha256": digest.hexdigest()}


def data_files(config):
    """Facts about the data files a config reads (data.path and a validation CSV)."""
    paths = [config.data.path] + ([config.data.validation] if isinstance(config.data.validation, str) else [])
    return [file_facts(p) for p in paths]


def run_record(command, config, config_path, argv, started, extra):
    """What summary.json holds besides the command's own summary."""
    from nncli import __version__

    return {"command": command, "config": str(config_path), "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            **extra, "nncli_version": __version__, "command_line": ["nncli", *argv],
            "data_files": data_files(config)}


def config_text(config, path, learning_rate=None) -> str:
    """YAML text of the resolved ``config`` (defaults filled in), to be written at ``path``.

    Config paths are read relative to the config's own folder, so data paths are
    written relative to the folder of ``path`` when the two share a folder below
    the root (``../datasets/iris.csv``: the pair can move together), else absolute.
    """
    from nncli.config import to_dict, to_yaml

    raw = _without_none(to_dict(config))
    if learning_rate is not None:
        raw["training"]["learning_rate"] = learning_rate
    folder = os.path.dirname(os.path.abspath(path))
    for key in ("path", "validation"):
        value = raw["data"].get(key)
        if isinstance(value, str):
            raw["data"][key] = _relative_if_near(value, folder)
    return to_yaml(raw)


def _relative_if_near(target, folder):
    try:
        common = os.path.commonpath([target, folder])
    except ValueError:  # another drive on Windows
        return target
    if os.path.dirname(common) == common:  # only the root in common
        return target
    return os.path.relpath(target, folder)


def _without_none(value):
    """Drop None entries from nested dicts: the defaults they stand for read back the same."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def write_json(path, data):
    from nncli.commands.common import json_safe

    with atomic_write(path, "w") as f:
        f.write(json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")


def write_text(path, text):
    with atomic_write(path, "w") as f:
        f.write(text)


# --- reading runs back ------------------------------------------------------------------
def read_history(path):
    """{column: [values]} of a history CSV; empty cells are None."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    columns = list(rows[0]) if rows else []
    return {c: [_number(row[c]) for row in rows] for c in columns}


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def describe_run(folder):
    """One row of ``nncli runs`` for a run folder, or None if it is not one."""
    folder = Path(folder)
    summary_path = folder / SUMMARY
    if not summary_path.is_file():
        if not (folder / CONFIG).is_file():
            return None
        summary = {"status": "unfinished"}  # started but never ended (killed)
    else:
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = {"status": "unreadable"}
    row = {
        "run": folder.name,
        "time": summary.get("started") or _time_from_name(folder.name),
        "config": Path(summary.get("config") or folder.name).name,
        "command": summary.get("command", "train"),
        "status": summary.get("status"),
        "epochs": summary.get("epochs_run"),
        "best_val_loss": None,
        "final_val_loss": summary.get("val_loss"),
        "metric": None,
        "metric_value": None,
        "seconds": summary.get("seconds"),
        "path": str(folder),
    }
    if (folder / HISTORY).is_file():
        history = read_history(folder / HISTORY)
        val = [v for v in history.get("val_loss", []) if v is not None]
        if val:
            row["best_val_loss"], row["final_val_loss"] = min(val), val[-1]
    for metric in ("accuracy", "r2"):
        if summary.get(f"val_{metric}") is not None:
            row["metric"], row["metric_value"] = f"val_{metric}", summary[f"val_{metric}"]
            break
    if row["command"] == "lr-sweep":
        best = summary.get("best") or {}
        row["best_val_loss"] = best.get("val_loss", best.get("train_loss"))
        row["metric"], row["metric_value"] = "learning_rate", best.get("learning_rate")
    return row


def _time_from_name(name):
    match = re.match(r"(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)Z", name)
    return f"{match[1]}T{match[2]}:{match[3]}:{match[4]}Z" if match else None


SORT_KEYS = ("time", "config", "status", "epochs", "best_val_loss", "final_val_loss", "metric", "seconds")


def list_runs(folder, sort="time"):
    """The runs in ``folder``, sorted by ``sort``: time newest first, the metric highest first,
    the rest smallest first; runs without a value last."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder of runs; give the folder passed to --run-dir")
    rows = [row for child in sorted(folder.iterdir()) if child.is_dir() and (row := describe_run(child))]
    key = "metric_value" if sort == "metric" else sort
    newest_first = sort in ("time", "metric")
    present = [r for r in rows if r[key] is not None]
    present.sort(key=lambda r: (r[key], r["run"]), reverse=newest_first)
    return present + [r for r in rows if r[key] is None]
