"""What ``nncli train`` needs for checkpoints, ``--resume`` and ``--init-from``.

A checkpoint (``nncli.io.checkpoint``) keeps, besides the training state, what the run
needs to carry on by itself: the resolved config, the fingerprint of the config and of
the data files (size and SHA-256), where the model, the history and the checkpoints go.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nncli.errors import ConfigError, DataError, ModelFileError, UsageError

DEFAULT_SECONDS = 60.0  # checkpoint frequency when neither --checkpoint-every nor --checkpoint-seconds is given


@dataclass
class Resumed:
    """A checkpoint opened by ``--resume``: its file, training state and ``info``."""

    path: Path
    state: dict
    info: dict

    @property
    def run_folder(self):
        """The run folder the checkpoint belongs to (its own folder), or None."""
        return self.path.parent if self.info.get("run_folder") else None


def open_resume(source):
    """The checkpoint that ``--resume FILE|RUN_DIR`` names (RUN_DIR/checkpoint.npz for a folder)."""
    from nncli.io import runs
    from nncli.io.checkpoint import load_checkpoint

    source = Path(source)
    path = source / runs.CHECKPOINT if source.is_dir() else source
    if source.is_dir() and not path.exists():
        raise UsageError(f"--resume {source}: the folder holds no {runs.CHECKPOINT} (the run ended or was "
                         "killed before its first checkpoint); start it again")
    if not path.exists():
        raise UsageError(f"--resume {source}: no such checkpoint file or run folder")
    state, info = load_checkpoint(path)
    return Resumed(path, state, info)


def resumed_config(resumed, config_path, overrides):
    """The config of a resumed run: CONFIG when given, else the one in the checkpoint
    (with the --set overrides either way)."""
    from nncli.config import load_config, load_config_dict

    if config_path is not None:
        return load_config(config_path, overrides)
    return load_config_dict(resumed.info["config"], overrides, where=f"the config kept in {resumed.path}")


def frequency(every, seconds, resumed=None):
    """(every, seconds) of the Checkpoint callback: the options, else those of the
    resumed run, else every DEFAULT_SECONDS seconds."""
    if every is not None and seconds is not None:
        raise UsageError("give --checkpoint-every or --checkpoint-seconds, not both")
    if every is not None or seconds is not None:
        return every, seconds
    if resumed is not None and (resumed.info.get("every") or resumed.info.get("seconds")) is not None:
        return resumed.info.get("every"), resumed.info.get("seconds")
    return None, DEFAULT_SECONDS


def info(cfg, config_path, data_facts, output, history, run_folder, every, seconds):
    """What a checkpoint keeps besides the training state."""
    from nncli import __version__
    from nncli.config import to_dict
    from nncli.io.checkpoint import config_fingerprint

    raw = to_dict(cfg)
    return {
        "config": raw, "config_sha256": config_fingerprint(raw), "data": data_facts,
        "config_path": str(config_path), "output": os.path.abspath(output),
        "history": None if history is None else os.path.abspath(history), "run_folder": run_folder,
        "every": every, "seconds": seconds, "nncli_version": __version__, "numpy_version": np.__version__,
    }


def check_fingerprint(resumed, cfg, data_facts, force):
    """Refuse to resume with a config or data other than the checkpoint's (ConfigError or
    DataError saying what changed); with ``force``, return the warnings to show instead."""
    from nncli import __version__
    from nncli.config import to_dict
    from nncli.io.checkpoint import config_changes, data_changes

    changes = config_changes(resumed.info["config"], to_dict(cfg))
    data = data_changes(resumed.info["data"], data_facts)
    warnings = []
    if changes or data:
        what = "the config and the data" if changes and data else "the config" if changes else "the data"
        listed = "; ".join((changes + data)[:8]) + ("; ..." if len(changes + data) > 8 else "")
        if not force:
            error = ConfigError if changes else DataError
            raise error(f"{what} changed since checkpoint {resumed.path} was written: {listed}. Resume with the "
                        "same config and data, or add --force to carry on anyway (the result will no "
                        "longer be reproducible)")
        warnings.append(f"--force: {what} changed since the checkpoint ({listed}); the result is no longer "
                        "reproducible: it will not match a run that was never interrupted")
    versions = (resumed.info.get("nncli_version"), resumed.info.get("numpy_version"))
    if versions != (__version__, np.__version__):
        warnings.append(f"the checkpoint was written by nncli {versions[0]} with NumPy {versions[1]}, this is "
                        f"nncli {__version__} with NumPy {np.__version__}: the weights may differ in the last "
                        "bits from a run that was never interrupted")
    return warnings


def checkpoint_callback(path, info, every, seconds):
    """A Checkpoint callback writing to ``path`` (atomically) with ``info``."""
    from nncli.core.training import Checkpoint
    from nncli.io.checkpoint import save_checkpoint

    return Checkpoint(lambda state: save_checkpoint(path, state, info), every=every, seconds=seconds)


def warm_start(trainer, ds, model_path):
    """Put the weights of the model file ``model_path`` into the trainer's network, after
    checking that it has the same features and layers (ModelFileError says what differs)."""
    from nncli.io.modelfile import load_model

    model = load_model(model_path)
    where = f"--init-from {model_path}"
    features = model.meta["features"]
    if list(features) != list(ds.features):
        missing = [f for f in ds.features if f not in features]
        extra = [f for f in features if f not in ds.features]
        detail = (f"the data has {', '.join(map(repr, missing[:5]))} which the model lacks" if missing else
                  f"the model has {', '.join(map(repr, extra[:5]))} which the data lacks" if extra else
                  "the same features in another order")
        raise ModelFileError(f"{where}: the model's {len(features)} input features do not match the data's "
                             f"{len(ds.features)} ({detail}); warm start needs the same features")
    net = trainer.network
    mine, theirs = net.layer_specs(), model.network.layer_specs()
    if len(mine) != len(theirs):
        raise ModelFileError(f"{where}: the model has {len(theirs)} layers, the config {len(mine)}; "
                             "warm start needs the same layers")
    for l, (a, b) in enumerate(zip(mine, theirs)):
        if a != b:
            raise ModelFileError(f"{where}: layer {l} (model.layers.{l}) is {_layer(b)} in the model but "
                                 f"{_layer(a)} in the config; warm start needs the same layers")
    net.set_weights([P.astype(net.dtype) for P in model.network.params()])


def _layer(spec):
    extra = "".join(f", {k} {v}" for k, v in spec.items() if k not in ("units", "activation"))
    return f"{spec['units']} units, {spec['activation']}{extra}"
