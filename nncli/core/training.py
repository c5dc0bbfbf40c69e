"""The training loop: mini-batch gradient descent that reports through callbacks.

The loop never prints. After each epoch it calls ``on_epoch_end(epoch, logs)`` on
every callback (Keras style), with ``logs`` a plain dict:
    {"train_loss": float, "val_loss": float | None, "val_<metric>": float, ..., "seconds": float}
Callbacks run in list order and may add to ``logs`` for the ones after them (the
learning-rate schedule adds "learning_rate").
Callbacks may stop training through ``trainer.stop(status)``; the loop checks after
every batch, so a stop (e.g. Ctrl-C) takes effect at the end of the current batch.

At the end of an epoch the whole training state can be taken (``Trainer.state()``: the
weights, the optimizer's state, the generator's state, each callback's own ``state()``,
the history) and given back to a new Trainer built the same way (``Trainer.restore``):
its ``fit`` then carries on with the next epoch and ends with the weights the
uninterrupted run would have had, bit for bit. ``Checkpoint`` takes it every N epochs
or S seconds and hands it to a ``save`` function (the file is not the core's business).
"""

import math
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from nncli.core.blas import blas_threads_for, limit_blas
from nncli.core.network import Workspace

# Plain SGD is folded into backward (one gemm per layer forms dW and takes the step) for
# networks of at least this many parameters; below it the ctypes calls cost more than the
# passes they save. Paired step times folded / not (bench/BENCHMARKS.md): 8-16-1 1.8x,
# 30-64-64-2 1.44x, 50-128-128-1 (23,000 parameters) 1.06x, medium 50-256-256-1 (79,000) 0.92x,
# wide 784-512-256-10 (536,000) 0.85x.
FOLD_MIN_PARAMS = 50_000


class Callback:
    """Base class of training callbacks; every hook is a no-op by default."""

    trainer = None

    def set_trainer(self, trainer):
        self.trainer = trainer

    def on_train_begin(self, logs):
        """logs: {"epochs", "n_train", "n_val", "task", "steps_per_epoch", "initial_epoch"}
        (initial_epoch: the epochs already run by a restored state, 0 for a fresh start)."""

    def on_epoch_end(self, epoch, logs):
        """epoch is 1-based; logs as described in the module docstring."""

    def on_batch_end(self, step, logs):
        """step counts updates from 1; logs: {"loss": batch loss, "learning_rate"}."""

    def on_train_end(self, logs):
        """logs: {"status", "epochs_run"}."""


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Keeps a copy of the best weights and puts them back into the network when
    training ends (however it ends), so the saved model is the best one seen.
    """

    def __init__(self, patience, min_delta=0.0, monitor="val_loss"):
        self.patience, self.min_delta, self.monitor = patience, min_delta, monitor
        self.on_train_begin({})

    def on_train_begin(self, logs):
        # A fresh start for every fit, so that one instance can be reused.
        self.best, self.best_epoch, self.best_weights, self.wait = np.inf, None, None, 0

    def on_epoch_end(self, epoch, logs):
        value = logs.get(self.monitor)
        if value is None or not np.isfinite(value):
            return
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_weights = self.trainer.network.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.trainer.stop("early_stopped")

    def on_train_end(self, logs):
        if self.best_weights is not None and logs["status"] != "diverged":
            self.trainer.network.set_weights(self.best_weights)

    def state(self):
        """What ``restore`` needs to carry on as if never interrupted."""
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_weights": self.best_weights}

    def restore(self, state):
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        weights = state["best_weights"]
        self.best_weights = None if weights is None else [np.array(W) for W in weights]


@dataclass
class TrainResult:
    """What ``Trainer.fit`` returns: how it ended and the per-epoch logs."""

    status: str  # completed | early_stopped | diverged | interrupted
    epochs_run: int
    history: list = field(default_factory=list)
    diverged_epoch: int | None = None


class Trainer:
    """Trains ``network`` on (X, Y) by mini-batch gradient descent.

    Parameters
    ----------
    network : nncli.core.network.Network
    loss : nncli.core.losses.Loss
    optimizer : an optimizer from nncli.core.optimizers
    epochs : int
    batch_size : int or None
        None (or >= m) means full-batch gradient descent: one update per epoch, no shuffle.
    rng : numpy.random.Generator
        Shuffles the examples every epoch, and draws the dropout masks.
    callbacks : list of Callback-like objects
    metric_fn : callable (Y, A) -> dict, optional
        Validation metrics, reported as ``val_<name>`` in the epoch logs.
    task : str
        Passed on to callbacks in ``on_train_begin``.
    blas_threads : int or None
        Threads for the matrix products during ``fit``; None chooses from the size of
        the products (see ``blas_threads_for``).
    dropout : list of L floats in [0, 1), optional
        Inverted dropout per layer, on its output, during training only: each unit of
        A[l] is kept with probability 1 - p (mask drawn from ``rng`` per batch) and scaled
        by 1 / (1 - p), so that evaluation needs no rescaling. The output layer's is 0.

    The optimizer's ``weight_decay`` (if it has one) applies to the weights W only.
    The loss's label smoothing applies to the training targets only: validation losses
    are computed on the true targets.
    """

    def __init__(self, network, loss, optimizer, *, epochs, batch_size, rng,
                 callbacks=(), metric_fn=None, task="regression", blas_threads=None, dropout=None):
        self.network, self.loss, self.optimizer = network, loss, optimizer
        self.epochs, self.batch_size, self.rng = epochs, batch_size, rng
        self.callbacks, self.metric_fn, self.task = list(callbacks), metric_fn, task
        self.blas_threads = blas_threads
        self.dropout = [float(p) for p in dropout] if dropout is not None and any(dropout) else None
        if self.dropout is not None and (len(self.dropout) != network.n_layers or self.dropout[-1]
                                         or not all(0 <= p < 1 for p in self.dropout)):
            raise ValueError(f"dropout needs one rate in [0, 1) per layer, 0 for the output layer "
                             f"(got {dropout})")
        self.stop_training, self.status = False, "completed"
        self.steps = 0  # parameter updates made so far
        self.epoch, self.history = 0, []  # epochs completed, and their logs
        self._restored = None  # a state given to ``restore``, applied when ``fit`` starts

    def state(self):
        """The training state at the end of the epoch just completed, as a dict of plain
        values (JSON-able) and ndarrays, copied: later training does not change it.

        ``history`` is the trainer's own list, which training only appends to: its first
        ``epoch`` entries are this state's.
        """
        return {
            "epoch": self.epoch, "steps": self.steps,
            # Stopped by a callback (early stopping) at this epoch: a restored run trains no further.
            "stopped": self.status if self.stop_training and self.status != "interrupted" else None,
            "parameters": self.network.parameter_vector().copy(),
            "optimizer": self.optimizer.state(),
            "rng": self.rng.bit_generator.state,
            "callbacks": {name: cb.state() for name, cb in _stateful(self.callbacks)},
            "history": self.history,
        }

    def restore(self, state):
        """Carry on from ``state`` (from ``state()`` of a Trainer built the same way):
        ``fit`` then starts at epoch ``state["epoch"] + 1``.

        The state is applied when ``fit`` starts, after the callbacks' ``on_train_begin``
        (which reset them). A callback the state has nothing for starts afresh.
        """
        vector = self.network.parameter_vector()
        if state["parameters"].shape != vector.shape:
            raise ValueError(f"the state holds {state['parameters'].size} parameters, "
                             f"the network {vector.size}")
        self._restored = state

    def _apply_restored(self):
        state, self._restored = self._restored, None
        self.network.parameter_vector()[...] = state["parameters"]
        self.rng.bit_generator.state = state["rng"]
        self.epoch, self.steps = int(state["epoch"]), int(state["steps"])
        self.history = list(state["history"][:self.epoch])
        saved = state["callbacks"]
        for name, cb in _stateful(self.callbacks):
            if name in saved:
                cb.restore(saved[name])
        # After the callbacks: the schedule set the rate for epoch 0 in on_train_begin.
        self.optimizer.restore(state["optimizer"])
        if state["stopped"]:
            self.stop(state["stopped"])

    def stop(self, status):
        """Ask the loop to stop after the current batch, ending with ``status``."""
        self.stop_training, self.status = True, status

    def evaluate(self, X, Y, sample_weight=None):
        """Loss and metrics of the current weights on (X, Y) (a forward pass only).

        With ``sample_weight`` (shape (m,)) the loss is the weighted mean; the metrics
        are not weighted. No dropout, no label smoothing.
        """
        Zs, As = self.network.forward(X)
        extra = {} if sample_weight is None else {"sample_weight": sample_weight}
        logs = {"loss": self.loss.value(Y, As[-1], Zs[-1], **extra)}
        if self.metric_fn is not None:
            logs.update(self.metric_fn(Y, As[-1]))
        return logs

    def fit(self, X, Y, X_val=None, Y_val=None, sample_weight=None, val_sample_weight=None):
        """Train for ``epochs`` epochs, or until a callback or a divergence stops it.

        Parameters
        ----------
        X : ndarray of shape (m, n[0])
        Y : ndarray of shape (m, n[L])
        X_val, Y_val : optional validation arrays, likewise
        sample_weight : ndarray of shape (m,), optional
            Non-negative weight per training example: each batch's loss is
            sum_i w_i l_i / sum_i w_i over its rows (the gradients likewise), and the
            epoch's train_loss the weighted mean over all rows.
        val_sample_weight : ndarray of shape (m_val,), optional
            Weights of the validation loss (val_loss), as above; metrics are unweighted.

        Every array is used in the network's dtype, converted once here if need be.
        Returns a TrainResult.
        """
        dtype = self.network.dtype
        X, Y = np.asarray(X, dtype), np.asarray(Y, dtype)
        if X_val is not None:
            X_val, Y_val = np.asarray(X_val, dtype), np.asarray(Y_val, dtype)
        sample_weight = _weights(sample_weight, len(X), dtype, "sample_weight")
        if X_val is not None:
            val_sample_weight = _weights(val_sample_weight, len(X_val), dtype, "val_sample_weight")
        batch = self._batch_rows(len(X))
        with self._blas_limit(batch):
            return self._fit(X, self.loss.smooth_targets(Y), X_val, Y_val, batch, sample_weight, val_sample_weight)

    def _fit(self, X, Y, X_val, Y_val, batch, w, w_val):
        self._workspace = Workspace(self.network, batch)
        if batch < len(X):  # shuffled batches are gathered into these
            self._X_batch = np.empty((batch,) + X.shape[1:], X.dtype)
            self._Y_batch = np.empty((batch,) + Y.shape[1:], Y.dtype)
            if w is not None:
                self._w_batch = np.empty(batch, w.dtype)
        self._decay_masks = ([self.network.weight_mask()] if getattr(self.optimizer, "weight_decay", 0)
                             else None)
        for cb in self.callbacks:
            if hasattr(cb, "set_trainer"):
                cb.set_trainer(self)
        has_val = X_val is not None and len(X_val) > 0
        if self._restored is None:
            self.epoch, self.history = 0, []
        begin = {"epochs": self.epochs, "n_train": len(X), "n_val": len(X_val) if has_val else 0,
                 "task": self.task, "steps_per_epoch": math.ceil(len(X) / batch),
                 "initial_epoch": self.epoch if self._restored is None else int(self._restored["epoch"])}
        for cb in self.callbacks:
            cb.on_train_begin(begin)
        if self._restored is not None:
            self._apply_restored()
        result = TrainResult("completed", self.epoch, self.history)
        stopped = self.stop_training and self.status != "interrupted"  # restored after early stopping
        first = self.epochs + 1 if stopped else self.epoch + 1
        # Overflow in a diverging run is reported as divergence, not as numpy warnings.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(first, self.epochs + 1):
                start = time.perf_counter()
                train_loss = self._run_epoch(X, Y, batch, w)
                if not math.isfinite(train_loss):
                    self.status, result.diverged_epoch = "diverged", epoch
                    break
                if self.stop_training and self.status == "interrupted":
                    break  # a partial epoch: no epoch-end report
                logs = {"train_loss": train_loss, "val_loss": None}
                if has_val:
                    val = self.evaluate(X_val, Y_val, w_val)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                logs["seconds"] = time.perf_counter() - start
                result.history.append(logs)
                result.epochs_run = self.epoch = epoch
                for cb in self.callbacks:
                    cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        result.status = self.status
        for cb in self.callbacks:
            cb.on_train_end({"status": result.status, "epochs_run": result.epochs_run})
        return result

    def _gather(self, X, Y, rows, w=None):
        """The examples ``rows`` of X and Y, copied into the batch buffers.

        Gathering batch by batch into the same small buffers (rather than copying the
        whole shuffled set every epoch) keeps memory flat and never touches fresh pages:
        a shuffled copy of a 190 MB set cost more in page faults than in copying.
        """
        k = len(rows)
        # mode="clip": the rows are valid, and the default "raise" would buffer the output.
        Xb = X.take(rows, axis=0, out=self._X_batch[:k], mode="clip")
        Yb = Y.take(rows, axis=0, out=self._Y_batch[:k], mode="clip")
        wb = None if w is None else w.take(rows, out=self._w_batch[:k], mode="clip")
        return Xb, Yb, wb

    def _batch_rows(self, m):
        return m if self.batch_size is None else max(1, min(self.batch_size, m))

    def _blas_limit(self, batch):
        """A context that runs the matrix products with the chosen number of BLAS threads."""
        return limit_blas(self.blas_threads or blas_threads_for(self.network.sizes, batch))

    def _run_epoch(self, X, Y, batch, w=None):
        """One pass over the shuffled examples; returns the mean of the batch losses
        (weighted by the batches' rows, or by their sums of sample weights)."""
        m = len(X)
        order = self.rng.permutation(m) if batch < m else None
        net, loss, workspace, total = self.network, self.loss, self._workspace, 0.0
        # One vector each for the parameters and the gradients (backward fills the
        # workspace's): the optimizer updates everything in one vectorised step.
        params, grads = [net.parameter_vector()], [workspace.gradient_vector]
        update = (self.optimizer.update if self._decay_masks is None
                  else partial(self.optimizer.update, decay_masks=self._decay_masks))
        # Plain SGD on a large network: the step is taken inside backward (Network.descend).
        fold = getattr(self.optimizer, "folds_into_backward", False) and params[0].size >= FOLD_MIN_PARAMS
        masks, wb = None, None
        for start in range(0, m, batch):
            if order is None:
                Xb, Yb = X[start:start + batch], Y[start:start + batch]
                wb = None if w is None else w[start:start + batch]
            else:
                Xb, Yb, wb = self._gather(X, Y, order[start:start + batch], w)
            # Dropout and weights pass only when in use: otherwise the plain calls run.
            weighted = {} if wb is None else {"sample_weight": wb}
            if self.dropout is not None:
                masks = self._dropout_masks(len(Xb))
                Zs, As = net.forward(Xb, workspace, masks=masks)
            else:
                Zs, As = net.forward(Xb, workspace)
            batch_loss = loss.value(Yb, As[-1], Zs[-1], **weighted)
            if not math.isfinite(batch_loss):
                return batch_loss
            net.backward(Xb, Yb, Zs, As, loss, workspace, masks=masks, **weighted,
                         learning_rate=self.optimizer.learning_rate if fold else None)
            if not fold:
                update(params, grads)
            total += batch_loss * (len(Xb) if wb is None else float(wb.sum(dtype=np.float64)))
            self.steps += 1
            # One logs dict for all: each callback sees the rate of this update, even
            # after a schedule before it has set the next one.
            logs = {"loss": batch_loss, "learning_rate": self.optimizer.learning_rate}
            for cb in self.callbacks:
                cb.on_batch_end(self.steps, logs)
            if self.stop_training:
                break
        return total / (m if w is None else float(w.sum(dtype=np.float64)))

    def _dropout_masks(self, m):
        """One mask per layer for a batch of m rows: (U >= p) / (1 - p) with U uniform on
        [0, 1) from ``rng`` (None where p is 0)."""
        dtype = self.network.dtype
        masks = []
        for p, n in zip(self.dropout, self.network.sizes[1:]):
            if not p:
                masks.append(None)
                continue
            keep = self.rng.random((m, n), dtype=dtype) >= p
            masks.append(keep.astype(dtype) * dtype.type(1.0 / (1.0 - p)))
        return masks


def _stateful(callbacks):
    """(name, callback) for each callback with a ``state()``, named by its class
    (``EarlyStopping``, then ``EarlyStopping.2`` for a second one)."""
    seen = {}
    for cb in callbacks:
        if callable(getattr(cb, "state", None)) and callable(getattr(cb, "restore", None)):
            name = type(cb).__name__
            seen[name] = seen.get(name, 0) + 1
            yield (name if seen[name] == 1 else f"{name}.{seen[name]}"), cb


class Checkpoint(Callback):
    """Hand the training state (``Trainer.state()``) to ``save`` every ``every`` epochs,
    or at the end of the first epoch ``seconds`` seconds or more after the last save.

    Put it last among the callbacks, so that the others have updated their state for
    the epoch. When training ends (completed, stopped early, or interrupted by Ctrl-C in
    the middle of an epoch), the state at the end of the last complete epoch is saved too,
    if it was not already; after a divergence, nothing more is saved.

    Parameters
    ----------
    save : callable(state)
        Writes the state somewhere (``nncli.io.checkpoint``); the core does no I/O.
    every : int, optional
    seconds : float, optional
    clock : callable () -> float, default time.monotonic
    """

    def __init__(self, save, every=None, seconds=None, clock=time.monotonic):
        if (every is None) == (seconds is None):
            raise ValueError("Checkpoint needs one of every and seconds")
        self.save, self.every, self.seconds, self.clock = save, every, seconds, clock
        self.on_train_begin({})

    def on_train_begin(self, logs):
        self._last_save, self._saved_epoch = self.clock(), logs.get("initial_epoch", 0)
        self._latest = None  # the state of the last epoch, when not saved

    def on_epoch_end(self, epoch, logs):
        due = (epoch % self.every == 0 if self.every is not None
               else self.clock() - self._last_save >= self.seconds)
        state = self.trainer.state()
        if due:
            self._save(state)
        else:
            self._latest = state

    def on_train_end(self, logs):
        if logs["status"] != "diverged" and self._latest is not None and self._latest["epoch"] > self._saved_epoch:
            self._save(self._latest)

    def _save(self, state):
        self.save(state)
        self._last_save, self._saved_epoch, self._latest = self.clock(), state["epoch"], None


def _weights(w, m, dtype, name):
    """``w`` as an array of shape (m,) in ``dtype``, or None; ValueError if unusable."""
    if w is None:
        return None
    w = np.asarray(w, dtype)
    if w.shape != (m,):
        raise ValueError(f"{name} must have shape ({m},), one weight per row (got {w.shape})")
    if not np.isfinite(w).all() or (w < 0).any() or not w.sum(dtype=np.float64) > 0:
        raise ValueError(f"{name} must be finite and non-negative, with a positive sum")
    return w
