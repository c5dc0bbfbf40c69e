"""Learning-rate schedules, and the callback that applies one during training.

A schedule gives the rate of an epoch: ``schedule(epoch, learning_rate, epochs)`` with
``epoch`` counted from 0 (after the warm-up, if any), ``learning_rate`` the configured
rate and ``epochs`` the number of epochs it spans. The pure ones are functions of those
(and of their own parameters); ``reduce_on_plateau`` also depends on the losses seen,
which it is told through ``observe(value)``.

    constant           lr
    step               lr * gamma ** floor(epoch / step_size)
    cosine             min_lr + (lr - min_lr) * (1 + cos(pi * epoch / epochs)) / 2
    flat_cos           lr for the first flat_fraction * epochs epochs, then cosine (as above)
                       over the rest
    reduce_on_plateau  max(lr * factor ** k, min_lr), k growing by one each time the
                       monitored loss has not improved for ``patience`` epochs

Warm-up (``warmup_epochs`` = W) comes first and is per update: the k-th update of the
W * steps_per_epoch updates of the first W epochs uses lr * k / (W * steps_per_epoch),
a linear ramp from (nearly) 0 to lr; the schedule then runs over the other epochs.
"""

import math
from functools import partial

from nncli.core.registry import lookup
from nncli.core.training import Callback


def constant(epoch, learning_rate, epochs):
    """The configured rate, always."""
    return learning_rate


def step(epoch, learning_rate, epochs, step_size, gamma=0.1):
    """lr * gamma ** floor(epoch / step_size): multiplied by gamma every step_size epochs."""
    return learning_rate * gamma ** (epoch // step_size)


def cosine(epoch, learning_rate, epochs, min_lr=0.0):
    """Half a cosine from lr (epoch 0) towards min_lr (reached at epoch = epochs)."""
    return min_lr + (learning_rate - min_lr) * (1 + math.cos(math.pi * epoch / max(epochs, 1))) / 2


def flat_cos(epoch, learning_rate, epochs, flat_fraction=0.5, min_lr=0.0):
    """lr for the first flat_fraction of the epochs, then a cosine to min_lr (RealMLP's flat_cos)."""
    flat = flat_fraction * epochs
    if epoch < flat:
        return learning_rate
    return cosine(epoch - flat, learning_rate, epochs - flat, min_lr)


class ReduceOnPlateau:
    """Multiply the rate by ``factor`` when the monitored loss has not improved (gone below
    its lowest so far) for ``patience`` epochs; never below ``min_lr``."""

    def __init__(self, factor=0.5, patience=10, min_lr=0.0):
        self.factor, self.patience, self.min_lr = factor, patience, min_lr
        self.best, self.wait, self.reductions = math.inf, 0, 0

    def __call__(self, epoch, learning_rate, epochs):
        return max(learning_rate * self.factor ** self.reductions, self.min_lr)

    def state(self):
        return {"best": self.best, "wait": self.wait, "reductions": self.reductions}

    def restore(self, state):
        self.best, self.wait, self.reductions = state["best"], state["wait"], state["reductions"]

    def observe(self, value):
        """Tell the schedule the monitored loss of the epoch just finished."""
        if value is None or not math.isfinite(value):
            return
        if value < self.best:
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.reductions, self.wait = self.reductions + 1, 0


SCHEDULES = {"constant": constant, "step": step, "cosine": cosine, "flat_cos": flat_cos,
             "reduce_on_plateau": ReduceOnPlateau}


def get_schedule(name, **params):
    """The schedule registered under ``name`` with its ``params``, as a callable
    (epoch, learning_rate, epochs) -> rate; ConfigError lists the valid names."""
    found = lookup(SCHEDULES, name, "schedule")
    return found(**params) if isinstance(found, type) else partial(found, **params)


def warmup(step_number, warmup_steps, learning_rate):
    """lr * k / warmup_steps for the k-th update (k = 1..warmup_steps)."""
    return learning_rate * step_number / warmup_steps


class LearningRateScheduler(Callback):
    """Set ``trainer.optimizer.learning_rate`` from a schedule, and report it.

    Adds "learning_rate" (the rate of the epoch's last update) to the epoch logs, so it
    must come before the callbacks that read the logs. ``monitor`` is the loss a
    ``reduce_on_plateau`` schedule watches (val_loss, or train_loss without validation).

    Parameters
    ----------
    schedule : callable (epoch, learning_rate, epochs) -> rate, from ``get_schedule``
    learning_rate : float, the configured (peak) rate
    epochs : int, the epochs of the run
    warmup_epochs : int, default 0
    """

    def __init__(self, schedule, learning_rate, epochs, warmup_epochs=0, monitor="val_loss"):
        self.schedule, self.learning_rate, self.epochs = schedule, learning_rate, epochs
        self.warmup_epochs, self.monitor = warmup_epochs, monitor
        self.warmup_steps, self.step_number, self.last_rate = 0, 0, None

    def on_train_begin(self, logs):
        self.warmup_steps = self.warmup_epochs * logs["steps_per_epoch"]
        self.step_number = 0
        self._set(self._rate(0, 1))

    def on_batch_end(self, step, logs):
        self.step_number += 1
        self.last_rate = logs["learning_rate"]
        if self.step_number < self.warmup_steps:
            self._set(warmup(self.step_number + 1, self.warmup_steps, self.learning_rate))

    def on_epoch_end(self, epoch, logs):
        logs["learning_rate"] = float(self.last_rate)
        observe = getattr(self.schedule, "observe", None)
        if observe is not None and epoch > self.warmup_epochs:
            observe(logs.get(self.monitor))
        self._set(self._rate(epoch, self.step_number + 1))

    def state(self):
        schedule = getattr(self.schedule, "state", None)
        return {"step_number": self.step_number, "last_rate": self.last_rate,
                "schedule": schedule() if schedule is not None else None}

    def restore(self, state):
        """Put back ``state()``; the optimizer's rate is the optimizer's to restore."""
        self.step_number, self.last_rate = state["step_number"], state["last_rate"]
        if state["schedule"] is not None and hasattr(self.schedule, "restore"):
            self.schedule.restore(state["schedule"])

    def _rate(self, epoch, step_number):
        """The rate of the update ``step_number`` (from 1), the first of epoch ``epoch`` (from 0)."""
        if epoch < self.warmup_epochs:
            return warmup(step_number, self.warmup_steps, self.learning_rate)
        return self.schedule(epoch - self.warmup_epochs, self.learning_rate,
                             max(self.epochs - self.warmup_epochs, 1))

    def _set(self, rate):
        self.trainer.optimizer.learning_rate = rate
