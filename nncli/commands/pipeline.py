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
from nncli.core.metrics import metric_function, true_classes
from nncli.core.registry import did_you_mean
from nncli.io.modelfile import Model
from nncli.core.network import Network
from nncli.core.optimizers import get_optimizer
from nncli.core.preprocessing import get_target_transform
from nncli.core.schedules import LearningRateScheduler, get_schedule
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
    layers = [layer.model_dump(exclude_none=True, exclude={"dropout"}) for layer in config.model.layers]
    network = Network(ds.X_train.shape[1], layers, dtype=np.dtype(t.dtype)).initialize(train_rng, config.model.init)
    loss = get_loss(config.loss, config.label_smoothing)
    learning_rate = t.learning_rate if learning_rate is None else learning_rate
    epochs = t.epochs if epochs is None else epochs
    monitor = "val_loss" if ds.X_val is not None else "train_loss"
    callbacks = list(callbacks)
    if t.early_stopping is not None:
        callbacks.insert(0, EarlyStopping(t.early_stopping.patience, t.early_stopping.min_delta, monitor))
    schedule = t.schedule
    if schedule.name != "constant" or schedule.warmup_epochs:
        params = {k: v for k, v in schedule.model_dump(exclude={"name", "warmup_epochs"}).items() if v is not None}
        # First: it adds the learning rate to the epoch logs the others read.
        callbacks.insert(0, LearningRateScheduler(get_schedule(schedule.name, **params), learning_rate, epochs,
                                                  schedule.warmup_epochs, monitor))
    dropout = [layer.dropout for layer in config.model.layers]
    return Trainer(
        network, loss, get_optimizer(t.optimizer, learning_rate, **t.optimizer_params()),
        epochs=epochs, batch_size=None if t.batch_size == "full" else t.batch_size,
        rng=train_rng, callbacks=callbacks, task=ds.task,
        metric_fn=metric_function(ds.task, ds.y_mean, ds.y_std, _inverse(ds.target_transform)),
        dropout=dropout if any(dropout) else None,
    )


def _inverse(transform):
    """The inverse of a target transform for the metrics; None for none."""
    return None if transform == "none" else get_target_transform(transform)[1]


def sample_weights(config: Config, ds: Dataset):
    """(w_train, w_val): the per-row weights of the losses, each of shape (m,) or None.

    The product of the data's own weights (``Dataset.sample_weight_train`` /
    ``sample_weight_val``, from ``data.weight``) and of ``training.class_weight``:
    ``balanced`` gives class k the weight n / (K n_k) (n training rows, K classes, n_k rows
    of class k in the training split), a mapping {label: weight} its weights (1 for the
    labels it leaves out). The same class weights apply to the validation rows, so that
    val_loss is the loss training minimises.
    """
    w_train = getattr(ds, "sample_weight_train", None)
    w_val = getattr(ds, "sample_weight_val", None)
    if config.training.class_weight is None:
        return w_train, w_val
    per_class = class_weights(config.training.class_weight, ds)
    out = []
    for Y, w in ((ds.Y_train, w_train), (ds.Y_val, w_val)):
        if Y is None:
            out.append(w)
            continue
        cw = per_class[true_classes(Y)]
        out.append(cw if w is None else np.asarray(w, np.float64) * cw)
    return tuple(out)


def class_weights(spec, ds: Dataset):
    """The weight of each class (ndarray of shape (K,), in ds.classes order) for
    ``training.class_weight``; ConfigError naming a label the target does not hold."""
    if spec == "balanced":
        counts = np.bincount(true_classes(ds.Y_train), minlength=len(ds.classes)).astype(np.float64)
        if (counts == 0).any():
            missing = ds.classes[int(np.argmin(counts))]
            raise ConfigError(f"training.class_weight: balanced needs every class in the training split, "
                              f"but {missing!r} has no rows there")
        return counts.sum() / (len(ds.classes) * counts)
    unknown = [label for label in spec if label not in ds.classes]
    if unknown:
        raise ConfigError(f"training.class_weight: {unknown[0]!r} is not a class of target {ds.target!r}"
                          f"{did_you_mean(unknown[0], ds.classes)}; the classes are: {', '.join(ds.classes[:20])}")
    return np.array([spec.get(label, 1.0) for label in ds.classes], np.float64)


def fit(trainer, config: Config, ds: Dataset, validation=True):
    """``trainer.fit`` on the dataset's arrays, with the config's sample weights."""
    w_train, w_val = sample_weights(config, ds)
    if not validation:
        return trainer.fit(ds.X_train, ds.Y_train, sample_weight=w_train)
    return trainer.fit(ds.X_train, ds.Y_train, ds.X_val, ds.Y_val, sample_weight=w_train, val_sample_weight=w_val)


def final_metrics(trainer, ds, config=None):
    """Loss and metrics of the trained weights on the training and validation sets
    (the losses weighted as in training, when the config has weights)."""
    w_train, w_val = sample_weights(config, ds) if config is not None else (None, None)
    out = {f"train_{k}": v for k, v in trainer.evaluate(ds.X_train, ds.Y_train, w_train).items()}
    if ds.X_val is not None:
        out.update({f"val_{k}": v for k, v in trainer.evaluate(ds.X_val, ds.Y_val, w_val).items()})
    return out


def make_model(config: Config, ds: Dataset, trainer, metrics) -> Model:
    """Bundle the trained network with its preprocessing and metadata."""
    meta = {
        "features": ds.features, "columns": ds.columns, "target": ds.target, "task": ds.task,
        "classes": ds.classes, "layers": trainer.network.layer_specs(), "loss": config.loss,
        "config": to_dict(config), "metrics": metrics,
    }
    if ds.preprocessing is not None:
        meta["preprocessing"] = ds.preprocessing
    return Model(trainer.network, meta, ds.x_mean, ds.x_std,
                 ds.y_mean if ds.task == "regression" else None,
                 ds.y_std if ds.task == "regression" else None, ds.x_clip)


def train(trainer, ds: Dataset, config: Config):
    """Run ``trainer`` on the dataset, with the sample weights of ``config``;
    returns (result, metrics, seconds).

    ``metrics`` (from ``final_metrics``) is empty when the run diverged.
    """
    start = time.perf_counter()
    result = fit(trainer, config, ds)
    seconds = time.perf_counter() - start
    metrics = {} if result.status == "diverged" else final_metrics(trainer, ds, config)
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
