"""From a validated config to a trained model: the steps every command shares.

Glue between the config, the data and the NumPy core; it never prints. Randomness
comes from one SeedSequence per run: one stream for the validation split, one for
the weights and the batch order, so changing the split never changes the initial weights.
"""

import csv
import time

import numpy as np

from nncli.config import Config, to_dict
from nncli.io.dataset import Dataset, load_dataset
from nncli.errors import ConfigError, TrainingFailed
from nncli.io.atomic import atomic_write
from nncli.core.losses import get_loss
from nncli.core.metrics import metric_function
from nncli.io.modelfile import Model
from nncli.core.network import Network
from nncli.core.optimizers import get_optimizer
from nncli.core.training import EarlyStopping, Trainer


def rngs(seed):
    """(split_rng, train_rng): independent generators derived from ``seed``."""
    split, train = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(split), np.random.default_rng(train)


def prepare_data(config: Config) -> Dataset:
    """Load the data a config names, encoded and split.

    DataError on bad data; ConfigError if the output layer does not fit the target,
    found here, before any command starts its work.
    """
    split_rng, _ = rngs(config.training.seed)
    ds = load_dataset(config.data, config.loss, config.training.seed,
                      dtype=np.dtype(config.training.dtype), rng=split_rng)
    check_fit(config, ds)
    return ds


def check_fit(config: Config, ds: Dataset):
    """Raise ConfigError if the output layer does not fit the target."""
    units = config.model.layers[-1].units
    where = f"model.layers.{len(config.model.layers) - 1}.units"
    if ds.task == "multiclass" and units != len(ds.classes):
        raise ConfigError(f"{where} is {units}, but target {ds.target!r} has {len(ds.classes)} classes "
                          f"({', '.join(ds.classes[:10])}{', ...' if len(ds.classes) > 10 else ''}); "
                          f"set it to {len(ds.classes)}")
    if ds.task == "regression" and units != 1:
        raise ConfigError(f"{where} is {units}, but the target {ds.target!r} is one number per row; set it to 1")


def build_trainer(config: Config, ds: Dataset, callbacks=(), learning_rate=None, epochs=None):
    """A Trainer with freshly initialised weights (drawn from the seed's training stream)."""
    check_fit(config, ds)
    t = config.training
    _, train_rng = rngs(t.seed)
    layers = [layer.model_dump(exclude_none=True) for layer in config.model.layers]
    network = Network(ds.X_train.shape[1], layers, dtype=np.dtype(t.dtype)).initialize(train_rng, config.model.init)
    loss = get_loss(config.loss)
    callbacks = list(callbacks)
    if t.early_stopping is not None:
        monitor = "val_loss" if ds.X_val is not None else "train_loss"
        callbacks.insert(0, EarlyStopping(t.early_stopping.patience, t.early_stopping.min_delta, monitor))
    return Trainer(
        network, loss, get_optimizer(t.optimizer, t.learning_rate if learning_rate is None else learning_rate),
        epochs=t.epochs if epochs is None else epochs, batch_size=None if t.batch_size == "full" else t.batch_size,
        rng=train_rng, callbacks=callbacks, task=ds.task,
        metric_fn=metric_function(ds.task, ds.y_mean, ds.y_std),
    )


def final_metrics(trainer, ds):
    """Loss and metrics of the trained weights on the training and validation sets."""
    out = {f"train_{k}": v for k, v in trainer.evaluate(ds.X_train, ds.Y_train).items()}
    if ds.X_val is not None:
        out.update({f"val_{k}": v for k, v in trainer.evaluate(ds.X_val, ds.Y_val).items()})
    return out


def make_model(config: Config, ds: Dataset, trainer, metrics) -> Model:
    """Bundle the trained network with its preprocessing and metadata."""
    meta = {
        "features": ds.features, "columns": ds.columns, "target": ds.target, "task": ds.task,
        "classes": ds.classes, "layers": trainer.network.layer_specs(), "loss": config.loss,
        "config": to_dict(config), "metrics": metrics,
    }
    return Model(trainer.network, meta, ds.x_mean, ds.x_std,
                 ds.y_mean if ds.task == "regression" else None,
                 ds.y_std if ds.task == "regression" else None)


def train(trainer, ds: Dataset):
    """Run ``trainer`` on the dataset; returns (result, metrics, seconds).

    ``metrics`` (from ``final_metrics``) is empty when the run diverged.
    """
    start = time.perf_counter()
    result = trainer.fit(ds.X_train, ds.Y_train, ds.X_val, ds.Y_val)
    seconds = time.perf_counter() - start
    metrics = {} if result.status == "diverged" else final_metrics(trainer, ds)
    return result, metrics, seconds


def write_history(path, history):
    """One CSV row per epoch: epoch, train_loss, val_loss, the metrics, seconds."""
    keys = ["train_loss", "val_loss"] + [k for k in (history[0] if history else {})
                                          if k not in ("train_loss", "val_loss", "seconds")] + ["seconds"]
    with atomic_write(path, "w") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch"] + keys)
        for epoch, logs in enumerate(history, start=1):
            writer.writerow([epoch] + ["" if logs.get(k) is None else repr(float(logs[k])) for k in keys])


def check_converged(result, config: Config, config_name, output=None):
    """Raise TrainingFailed, with what to do, if the run diverged."""
    if result.status != "diverged":
        return
    written = f" Nothing was written to {output}." if output is not None else ""
    raise TrainingFailed(
        f"training diverged at epoch {result.diverged_epoch}: the loss is no longer finite. "
        f"Lower training.learning_rate (now {config.training.learning_rate:g}), or let "
        f"'nncli lr-sweep {config_name}' find one.{written}")


def summary(result, trainer, metrics, seconds, output=None):
    """The summary of a run, as ``nncli train --json`` prints it (``model``: where it went)."""
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
        "model": None if output is None else str(output),
    }
