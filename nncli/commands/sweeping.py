"""Learning-rate sweeps: a grid of short training runs, or one range test.

grid: the config is trained once per learning rate, every run from the same seed,
so from the same initial weights and the same batch order; each run is judged on
its best validation loss. A run whose training loss becomes non-finite or climbs
above ``DIVERGENCE_FACTOR`` times the lowest it has reached is stopped as diverged.
Runs go to worker processes on this machine or to a Dask cluster; each is
independent of the others, so the results do not depend on where or in which
order they ran.

range: one run whose learning rate grows exponentially per mini-batch (Leslie
Smith's learning-rate range test, as in fastai's ``lr_find``); the suggestion is
the rate where the smoothed loss falls fastest.

NumPy and the pipeline only: this module never prints.
"""

import math
import os
from dataclasses import dataclass, field, replace

import numpy as np

from nncli import interrupts
from nncli.commands import pipeline
from nncli.config import Config, to_dict
from nncli.config.schema import ScheduleConfig
from nncli.errors import UsageError
from nncli.core.training import Callback

DIVERGENCE_FACTOR = 4.0  # loss above 4x its minimum: diverged (grid) / stop (range)
DIVERGENCE_PATIENCE = 5  # epochs the loss must stay above 4x its minimum to be diverged (grid)
TIE_TOLERANCE = 0.01     # validation losses within 1% of the best count as a tie
STALL_TOLERANCE = 0.02   # best loss within 2% of the chance loss: stalled
HALVING_ETA = 3          # successive halving keeps the best 1/3 at every rung
HALVING_DESCENT = 1      # ... then continues halved rates below the best until one does not win
SMOOTHING = 0.98         # beta of the range test's moving average of the loss (fastai)
DASK_WORKER_TIMEOUT = 30  # seconds to wait for a Dask cluster to have a worker


# --- grid -----------------------------------------------------------------------------
def log_grid(min_lr, max_lr, num):
    """``num`` learning rates log-spaced from ``min_lr`` to ``max_lr``, both included.

    Rounded to the fewest significant digits (at least 3) that keep them distinct,
    so that the rate printed is exactly the rate that was run.
    """
    if not (min_lr > 0 and max_lr > 0 and math.isfinite(min_lr) and math.isfinite(max_lr)):
        raise UsageError(f"--min and --max must be positive numbers (got {min_lr:g} and {max_lr:g})")
    if min_lr >= max_lr:
        raise UsageError(f"--min ({min_lr:g}) must be smaller than --max ({max_lr:g})")
    if num < 2:
        raise UsageError(f"--num must be at least 2 (got {num})")
    exact = np.geomspace(min_lr, max_lr, num)
    for digits in range(3, 18):
        rates = [float(f"{x:.{digits}g}") for x in exact]
        if len(set(rates)) == num:
            return rates
    return [float(x) for x in exact]


@dataclass
class Run:
    """One grid point: how training at ``learning_rate`` went.

    ``best_loss`` is the lowest loss the run is judged on (validation, else
    training), reached at ``best_epoch``; nan when no epoch completed. With
    ``--folds``, one Run per rate sums up its folds: ``best_loss`` (and
    ``val_loss``) is the mean of the folds' best validation losses ``fold_losses``,
    ``sd`` their standard deviation, and the other fields are described at
    :func:`combine_folds`.
    """

    learning_rate: float
    train_loss: float          # training loss of the last epoch run (nan: became non-finite)
    val_loss: float | None     # best validation loss; None without validation data
    best_loss: float
    best_epoch: int | None
    diverged: bool
    diverged_epoch: int | None
    epochs_run: int
    unstable_epoch: int | None = None  # a spike above 4x the lowest loss that recovered, first at this epoch
    stopped: str = "completed"         # "completed" | "diverged" | "halved at epoch N" (--mode halving)
    fold_losses: list | None = None    # --folds: the best validation loss of each fold
    sd: float | None = None            # --folds: standard deviation of fold_losses (ddof 1)
    epochs_spent: int | None = None    # epochs trained over all folds (None: epochs_run)

    @property
    def halved(self):
        return self.stopped.startswith("halved")

    @property
    def spent(self):
        return self.epochs_run if self.epochs_spent is None else self.epochs_spent


class DivergenceGuard(Callback):
    """Stop a run as diverged once its training loss has stayed above ``factor`` x its
    minimum for ``patience`` consecutive epochs.

    A loss above that line that comes back below it is a spike: ``spike_epoch`` is the
    first epoch of the first one, and the run goes on. ``above_since`` is the first epoch
    of the spike still going on (None when the loss is back below the line): a run that
    ends with one open, stopped here or not, diverged. (A non-finite loss is caught by
    the Trainer itself, at once.)
    """

    def __init__(self, factor=DIVERGENCE_FACTOR, patience=DIVERGENCE_PATIENCE):
        self.factor, self.patience = factor, patience
        self.on_train_begin({})

    def on_train_begin(self, logs):
        # Reusable for another fit.
        self.lowest, self.above_since, self.spike_epoch = math.inf, None, None

    @property
    def diverged_epoch(self):
        return self.above_since

    def on_epoch_end(self, epoch, logs):
        loss = logs["train_loss"]
        self.lowest = min(self.lowest, loss)
        if loss <= self.factor * self.lowest:
            self.above_since = None
            return
        if self.above_since is None:
            self.above_since = epoch
            self.spike_epoch = epoch if self.spike_epoch is None else self.spike_epoch
        if epoch - self.above_since + 1 >= self.patience:
            self.trainer.stop("diverged")


class _Segments(Callback):
    """A run's callbacks behind one, so that the run can be paused after an epoch and
    continued by another ``fit`` exactly as if it had not paused.

    The first ``fit`` passes ``on_train_begin`` on; later ones (continuations) do not,
    so the callbacks keep their state (early stopping's best weights and patience, the
    schedule's step count, the divergence guard's minimum). Epochs are numbered from
    the start of the run. After epoch ``until`` (None: the run's last) it stops the trainer with status
    ``paused``, whose ``on_train_end`` it keeps to itself: the run has not ended.
    """

    def __init__(self, callbacks):
        self.callbacks, self.offset, self.until, self.started = list(callbacks), 0, None, False

    def set_trainer(self, trainer):
        self.trainer = trainer
        for cb in self.callbacks:
            if hasattr(cb, "set_trainer"):
                cb.set_trainer(trainer)

    def detach(self):
        """Forget the trainer (so that pickling the run does not take it along)."""
        for cb in [self, *self.callbacks]:
            cb.trainer = None

    def on_train_begin(self, logs):
        if not self.started:
            self.started = True
            for cb in self.callbacks:
                cb.on_train_begin(logs)

    def on_batch_end(self, step, logs):
        for cb in self.callbacks:
            cb.on_batch_end(step, logs)

    def on_epoch_end(self, epoch, logs):
        epoch += self.offset
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)
        if self.until is not None and epoch >= self.until and not self.trainer.stop_training:
            self.trainer.stop("paused")

    def on_train_end(self, logs):
        if logs["status"] != "paused":
            for cb in self.callbacks:
                cb.on_train_end({**logs, "epochs_run": logs["epochs_run"] + self.offset})


class PausableRun:
    """One training run (at one rate, on one fold) that can train up to an epoch, pause,
    and continue later — here, or in another process after pickling — with everything
    that shapes its future carried over: the weights, the optimizer's state, the random
    generator (batch order, dropout) and the callbacks' state. A run paused at epoch n
    and continued to N gives bit-identical weights to one trained to N at once.
    """

    def __init__(self, config: Config, ds, learning_rate, epochs, fold=None, folds=None):
        self.learning_rate, self.epochs, self.fold, self.folds = float(learning_rate), epochs, fold, folds
        self.guard = DivergenceGuard()
        trainer = pipeline.build_trainer(config, self._data(config, ds), [self.guard], learning_rate, epochs)
        self.network, self.optimizer, self.rng = trainer.network, trainer.optimizer, trainer.rng
        self.callbacks = _Segments(trainer.callbacks)
        self.steps, self.epochs_run, self.status, self.nonfinite_epoch, self.history = 0, 0, "paused", None, []

    def __setstate__(self, state):
        # Unpickled, the network's W and b are no longer views of its parameter vector:
        # new arrays make the next parameter_vector() build a fresh one, with them as views.
        self.__dict__.update(state)
        net = self.network
        net.W[:], net.b[:] = [W.copy() for W in net.W], [b.copy() for b in net.b]

    def _data(self, config, ds):
        return ds if self.fold is None else fold_dataset(ds, self.fold, self.folds, config.training.seed)

    @property
    def finished(self):
        return self.status != "paused"

    def train(self, config: Config, ds, until=None):
        """Train up to epoch ``until`` (default: the end); returns self."""
        until = self.epochs if until is None else min(until, self.epochs)
        if self.finished or until <= self.epochs_run:
            return self
        data = self._data(config, ds)
        trainer = pipeline.build_trainer(config, data, [], self.learning_rate, self.epochs - self.epochs_run)
        trainer.network, trainer.optimizer, trainer.rng, trainer.steps = \
            self.network, self.optimizer, self.rng, self.steps
        trainer.callbacks = [self.callbacks]
        self.callbacks.offset, self.callbacks.until = self.epochs_run, (until if until < self.epochs else None)
        result = pipeline.fit(trainer, config, data)
        if result.diverged_epoch is not None:
            self.nonfinite_epoch = self.epochs_run + result.diverged_epoch
        self.epochs_run += result.epochs_run
        self.history += result.history
        self.steps, self.status = trainer.steps, result.status
        self.callbacks.detach()
        return self

    def summary(self) -> Run:
        """The run so far as a Run. Paused with its loss above the guard's line, it is
        diverged (it did not come back before it ended)."""
        history = self.history
        key = "val_loss" if history and history[0]["val_loss"] is not None else "train_loss"
        judged = np.array([logs[key] for logs in history], dtype=float)
        finite = np.isfinite(judged)
        best_index = int(np.argmin(np.where(finite, judged, np.inf))) if finite.any() else None
        best_loss = float(judged[best_index]) if best_index is not None else math.nan
        diverged_epoch = self.nonfinite_epoch or self.guard.above_since
        diverged = diverged_epoch is not None
        return Run(
            learning_rate=self.learning_rate,
            # A non-finite loss ends the epoch early and leaves it out of the history.
            train_loss=math.nan if self.nonfinite_epoch is not None or not history
            else float(history[-1]["train_loss"]),
            val_loss=(best_loss if key == "val_loss" else None),
            best_loss=best_loss,
            best_epoch=None if best_index is None else best_index + 1,
            diverged=diverged,
            diverged_epoch=diverged_epoch,
            epochs_run=self.epochs_run,
            unstable_epoch=None if diverged else self.guard.spike_epoch,
            stopped="diverged" if diverged else f"halved at epoch {self.epochs_run}" if not self.finished
            else "completed",
        )


def run_one(config: Config, ds, learning_rate, epochs=None, fold=None, folds=None) -> Run:
    """Train ``config`` on ``ds`` (or on its fold ``fold`` of ``folds``) at ``learning_rate``
    and summarise the run."""
    epochs = epochs or config.training.epochs
    return PausableRun(config, ds, learning_rate, epochs, fold, folds).train(config, ds).summary()


# --- folds ------------------------------------------------------------------------------
def fold_rng(seed):
    """The generator of the folds: a child of the seed's split stream (so a sweep with
    folds draws the same validation split as one without)."""
    split, _ = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(split.spawn(1)[0])


def fold_of_rows(ds, folds, seed):
    """The fold (0 .. folds - 1) of each training row, ndarray of shape (m_train,).

    Shuffled with :func:`fold_rng`; for classifiers stratified: the rows, shuffled, are
    ordered by class and dealt to the folds in turn, so every fold holds each class's
    share to within one row (and the folds' sizes differ by one at most).
    """
    from nncli.io.dataset import _class_of_rows

    m = len(ds.X_train)
    order = fold_rng(seed).permutation(m)
    if ds.task != "regression":
        order = order[np.argsort(_class_of_rows(ds.Y_train, ds.task)[order], kind="stable")]
    fold = np.empty(m, np.int64)
    fold[order] = np.arange(m) % folds
    return fold


def fold_dataset(ds, fold, folds, seed):
    """``ds`` with fold ``fold`` of its training rows as the validation set and the other
    folds as the training set. The scaling and imputation statistics stay those of the
    whole training split (see the README: --folds)."""
    which = fold_of_rows(ds, folds, seed)
    train, val = which != fold, which == fold
    w = ds.sample_weight_train
    return replace(ds, X_train=ds.X_train[train], Y_train=ds.Y_train[train], X_val=ds.X_train[val],
                   Y_val=ds.Y_train[val], sample_weight_train=None if w is None else w[train],
                   sample_weight_val=None if w is None else w[val])


def check_folds(folds, ds):
    """``folds`` if the training split can be cut into that many, else UsageError."""
    if folds is None:
        return None
    if folds < 2:
        raise UsageError(f"--folds must be at least 2 (got {folds})")
    if folds > len(ds.X_train):
        raise UsageError(f"--folds {folds}: the training split has only {len(ds.X_train)} rows")
    return folds


def combine_folds(runs) -> Run:
    """One Run for a rate from the Runs of its folds (in fold order).

    ``best_loss`` and ``val_loss``: the mean of the folds' best validation losses (nan if
    one diverged), ``sd`` their standard deviation; ``train_loss`` the mean of the last
    training losses; ``best_epoch`` the lower median of the folds' best epochs;
    ``epochs_run`` the most epochs a fold ran, ``epochs_spent`` their sum; diverged when a
    fold diverged (``diverged_epoch``: the earliest), unstable when one was.
    """
    losses = [r.best_loss for r in runs]
    diverged = [r for r in runs if r.diverged]
    ok = not diverged and all(math.isfinite(x) for x in losses)
    mean = float(np.mean(losses)) if ok else math.nan
    epochs = sorted(r.best_epoch for r in runs if r.best_epoch is not None)
    unstable = [r.unstable_epoch for r in runs if r.unstable_epoch is not None]
    halved = [r for r in runs if r.halved]
    return Run(
        learning_rate=runs[0].learning_rate,
        train_loss=float(np.mean([r.train_loss for r in runs])),
        val_loss=mean, best_loss=mean,
        best_epoch=epochs[(len(epochs) - 1) // 2] if epochs else None,
        diverged=bool(diverged),
        diverged_epoch=min(r.diverged_epoch for r in diverged) if diverged else None,
        epochs_run=max(r.epochs_run for r in runs),
        unstable_epoch=min(unstable) if unstable and not diverged else None,
        stopped="diverged" if diverged else halved[0].stopped if halved else "completed",
        fold_losses=losses,
        sd=float(np.std(losses, ddof=1)) if ok else None,
        epochs_spent=sum(r.spent for r in runs),
    )


# --- judging ------------------------------------------------------------------------------
def chance_loss(config: Config, ds):
    """The loss of predicting the training prior, with the config's sample weights.

    cross_entropy: the entropy of the training class distribution (ln K when balanced);
    binary_cross_entropy: the binary entropy of the positive rate; mse: the variance of
    the (standardised) training target, 1 with ``standardize_target``.
    """
    from nncli.io.dataset import _class_of_rows

    w, _ = pipeline.sample_weights(config, ds)
    w = np.ones(len(ds.Y_train)) if w is None else np.asarray(w, np.float64)
    if ds.task == "regression":
        Y = ds.Y_train.astype(np.float64)
        mean = (w[:, None] * Y).sum(axis=0) / w.sum()
        return float((w[:, None] * (Y - mean) ** 2).sum() / (w.sum() * Y.shape[1]))
    p = np.bincount(_class_of_rows(ds.Y_train, ds.task), weights=w, minlength=max(len(ds.classes), 2)) / w.sum()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def is_stalled(run, chance):
    """True when ``run``'s best loss is within STALL_TOLERANCE (relative) of ``chance``."""
    return (chance is not None and math.isfinite(run.best_loss) and not run.diverged
            and abs(run.best_loss - chance) <= STALL_TOLERANCE * chance)


def candidates(runs, chance=None):
    """The runs a recommendation may choose from: finished (not halved), not diverged,
    with a finite loss; the stalled ones only when every other is stalled too."""
    usable = [r for r in runs if not r.diverged and not r.halved and math.isfinite(r.best_loss)]
    learning = [r for r in usable if not is_stalled(r, chance)]
    return learning or usable


def near_best(runs, chance=None):
    """The candidate runs whose loss is within ``TIE_TOLERANCE`` of the lowest."""
    usable = candidates(runs, chance)
    if not usable:
        return []
    lowest = min(r.best_loss for r in usable)
    return [r for r in usable if r.best_loss <= lowest + TIE_TOLERANCE * abs(lowest)]


def recommend(runs, chance=None):
    """The run to recommend: lowest best loss among the candidates (:func:`candidates`).

    Runs within ``TIE_TOLERANCE`` (relative) of the lowest go to the smaller rate,
    which is the safer one. None when every run diverged.
    """
    return min(near_best(runs, chance), key=lambda r: r.learning_rate, default=None)


@dataclass
class SweepResult:
    """The runs of a grid sweep, sorted by learning rate, and the recommendation."""

    runs: list
    judged_on: str            # "val_loss", or "train_loss" without validation data
    epochs: int
    not_run: list = field(default_factory=list)  # rates not run: the sweep was interrupted
    best: Run | None = None    # the recommendation
    lowest: Run | None = None  # the run with the lowest loss (best, unless a near-tie moved it)
    edge: str | None = None    # "low" / "high": the loss was still falling at the grid's edge
    chance: float | None = None  # the loss of predicting the training prior (chance_loss)
    folds: int | None = None   # --folds K
    mode: str = "grid"         # "grid" or "halving"
    rungs: list = field(default_factory=list)  # halving: [{"epochs", "runs"}] per rung

    def __post_init__(self):
        self.runs = sorted(self.runs, key=lambda r: r.learning_rate)
        self.best = recommend(self.runs, self.chance)
        if self.best is None:
            return
        ties = near_best(self.runs, self.chance)
        self.lowest = min(ties, key=lambda r: r.best_loss)
        # An edge rate with no near-tie says the loss was still falling there; one that
        # won a near-tie says the loss is flat there, and a wider grid would not help.
        if len(self.runs) > 1 and len(ties) == 1:
            self.edge = "low" if ties[0] is self.runs[0] else "high" if ties[0] is self.runs[-1] else None

    def status(self, run):
        """completed | unstable | stalled | diverged."""
        return ("diverged" if run.diverged else "stalled" if is_stalled(run, self.chance)
                else "unstable" if run.unstable_epoch is not None else "completed")

    @property
    def epochs_spent(self):
        return sum(r.spent for r in self.runs)


def grid_sweep(config: Config, ds, learning_rates, epochs=None, jobs=1, scheduler=None, on_run=None, folds=None):
    """Train at every rate of ``learning_rates``; returns a SweepResult.

    Parameters
    ----------
    config : Config
    ds : nncli.io.dataset.Dataset, as from ``pipeline.prepare_data(config)``
    learning_rates : sequence of float
    epochs : int, optional
        Epochs per run (default: the config's).
    jobs : int
        Worker processes on this machine (1: run here, one after the other). They
        start by re-importing the main module, so a script that calls this with
        ``jobs > 1`` needs the usual ``if __name__ == "__main__":`` guard.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:port``); overrides ``jobs``.
    on_run : callable (Run) -> None, optional
        Called in this process as each rate finishes (all its folds), in completion order.
    folds : int, optional
        Judge each rate by ``folds``-fold cross-validation on the training split; each
        (rate, fold) is one job.
    """
    epochs = epochs or config.training.epochs
    pipeline.check_fit(config, ds)  # a bad config fails here, not once per worker
    check_folds(folds, ds)
    on_run = on_run or (lambda run: None)
    runs = []
    gather = _FoldGather(folds, lambda run: (runs.append(run), on_run(run)))
    jobs_ = [Job(lr, epochs, fold, folds) for lr in learning_rates for fold in _fold_indices(folds)]
    with Executor(config, ds, jobs, scheduler, len(jobs_)) as executor:
        executor.map(jobs_, lambda job, out: gather.add(job, out[0]))
    return SweepResult(runs, _judged_on(ds, folds), epochs, chance=chance_loss(config, ds), folds=folds)


def _judged_on(ds, folds):
    return "val_loss" if ds.X_val is not None or folds else "train_loss"


def _fold_indices(folds):
    return [None] if folds is None else range(folds)


class _FoldGather:
    """Collect the Runs of the folds of each rate; pass on one Run per rate when all are in."""

    def __init__(self, folds, on_run):
        self.folds, self.on_run, self.pending = folds, on_run, {}

    def add(self, job, run):
        if self.folds is None:
            self.on_run(run)
            return
        got = self.pending.setdefault(job.learning_rate, {})
        got[job.fold] = run
        if len(got) == self.folds:
            del self.pending[job.learning_rate]
            self.on_run(combine_folds([got[fold] for fold in sorted(got)]))


@dataclass
class Job:
    """One unit of work: train (rate, fold) up to epoch ``until`` (None: to the end),
    starting afresh or continuing the paused run ``state``."""

    learning_rate: float
    epochs: int
    fold: int | None = None
    folds: int | None = None
    until: int | None = None
    state: PausableRun | None = None


def run_job(config: Config, ds, job: Job):
    """(Run, its PausableRun) of ``job``; the PausableRun is None for a whole run in one go."""
    if job.state is None and job.until is None:
        return run_one(config, ds, job.learning_rate, job.epochs, job.fold, job.folds), None
    state = job.state or PausableRun(config, ds, job.learning_rate, job.epochs, job.fold, job.folds)
    state.train(config, ds, job.until)
    return state.summary(), state


# --- successive halving -------------------------------------------------------------------
def halving_budgets(n, epochs, eta=HALVING_ETA):
    """The epoch each rung trains up to: epochs / eta^R, ..., epochs / eta, epochs (rounded
    up, at least 1), with R = ceil(log_eta n) rungs after the first, so that n rates
    are cut down to one."""
    rungs = max(1, math.ceil(math.log(n) / math.log(eta) - 1e-9)) if n > 1 else 0
    return [max(1, math.ceil(epochs / eta ** (rungs - r))) for r in range(rungs + 1)]


def halving_sweep(config: Config, ds, learning_rates, epochs=None, jobs=1, scheduler=None, on_run=None,
                  folds=None, eta=HALVING_ETA):
    """Successive halving over ``learning_rates``; returns a SweepResult (mode "halving").

    Every rate trains up to the first rung's epoch (:func:`halving_budgets`); the best
    1/eta of them (by the judged loss; diverged runs never) continue their own runs to the
    next rung, and so on; the others pause, ``stopped: "halved at epoch N"``. A continued
    run is the run an uninterrupted one would be, bit for bit, so the runs that reach the
    end are exactly those of a grid sweep.

    Then the descent: short rungs favour large rates, and the grid prefers the smaller of
    near-tied rates, so the largest halved rate below the recommended one continues to
    the end too, and the next, until ``HALVING_DESCENT`` of them in a row have not become
    the recommendation. Parameters as :func:`grid_sweep`; ``on_run`` is called again for a
    rate that continues after it was halved.
    """
    epochs = epochs or config.training.epochs
    pipeline.check_fit(config, ds)
    check_folds(folds, ds)
    on_run = on_run or (lambda run: None)
    rates = sorted(learning_rates)
    states = {lr: dict.fromkeys(_fold_indices(folds)) for lr in rates}  # PausableRun per (rate, fold)
    last = {lr: {} for lr in rates}                                      # its latest Run per fold

    def advance(executor, chosen, until):
        jobs_ = [Job(lr, epochs, fold, folds, until, state) for lr in chosen for fold, state in states[lr].items()
                 if state is None or not state.finished]

        def done(job, out):
            last[job.learning_rate][job.fold], states[job.learning_rate][job.fold] = out

        executor.map(jobs_, done)
        return {lr: rate_run(lr) for lr in chosen}

    def rate_run(lr):
        got = last[lr]
        return got[None] if folds is None else combine_folds([got[fold] for fold in sorted(got)])

    chance, rungs, alive = chance_loss(config, ds), [], list(rates)
    budgets = halving_budgets(len(rates), epochs, eta)
    with Executor(config, ds, jobs, scheduler, len(rates) * (folds or 1)) as executor:
        for r, until in enumerate(budgets):
            rung = advance(executor, alive, until if r < len(budgets) - 1 else None)
            rungs.append({"epochs": until, "runs": len(rung), "descent": False})
            keep = _promoted(list(rung.values()), math.ceil(len(rung) / eta)) if r < len(budgets) - 1 else set()
            for lr in alive:
                if lr not in keep:
                    on_run(rung[lr])
            alive = [lr for lr in alive if lr in keep]
        misses = 0
        while misses < HALVING_DESCENT:
            best = recommend([rate_run(lr) for lr in rates], chance)
            below = [] if best is None else [lr for lr in rates if lr < best.learning_rate and rate_run(lr).halved]
            if not below:
                break
            on_run(advance(executor, [below[-1]], None)[below[-1]])
            rungs.append({"epochs": epochs, "runs": 1, "descent": True})
            misses = misses + 1 if recommend([rate_run(lr) for lr in rates], chance) is best else 0
    return SweepResult([rate_run(lr) for lr in rates], _judged_on(ds, folds), epochs, chance=chance, folds=folds,
                       mode="halving", rungs=rungs)


def _promoted(runs, keep):
    """The rates of the ``keep`` runs with the lowest loss that did not diverge (smaller
    rate first on equal losses)."""
    ok = sorted((r for r in runs if not r.diverged and math.isfinite(r.best_loss)),
                key=lambda r: (r.best_loss, r.learning_rate))
    return {r.learning_rate for r in ok[:keep]}


# --- where the jobs run ------------------------------------------------------------------
def _single_threaded_blas():
    """Limit BLAS to one thread: runs are parallel already, and the same thread
    count everywhere keeps results identical whatever ``jobs`` is."""
    from nncli.core.blas import limit_blas

    return limit_blas(1)


class Executor:
    """Runs jobs (:func:`run_job`) here, in worker processes, or on a Dask cluster;
    opened once for all the rungs of a sweep.

    ``map(jobs, on_done)`` calls ``on_done(job, result)`` in this process as each job
    finishes, in completion order. Interrupted (Ctrl-C), the jobs that finished while
    this process waited are still passed to ``on_done``, then KeyboardInterrupt goes on.
    """

    def __init__(self, config, ds, jobs=1, scheduler=None, size=1):
        self.config, self.ds, self.scheduler = config, ds, scheduler
        self.jobs = 1 if scheduler else max(1, min(jobs, size))
        self.pool = self.client = self.blas = None

    def __enter__(self):
        if self.scheduler is not None:
            self._connect()
        elif self.jobs == 1:
            self.blas = _single_threaded_blas()
        return self

    def __exit__(self, kind, exc, tb):
        if self.blas is not None:
            self.blas.unregister()
        if self.client is not None:
            self.client.close()
        if self.pool is not None:
            if kind is None:
                self.pool.shutdown()
            else:
                _terminate(self.pool)
        return False

    def map(self, jobs, on_done):
        if self.client is not None:
            return self._map_dask(jobs, on_done)
        if self.jobs > 1:
            return self._map_pool(jobs, on_done)
        for job in jobs:
            on_done(job, run_job(self.config, self.ds, job))

    def _map_pool(self, jobs, on_done):
        from concurrent.futures import ProcessPoolExecutor, as_completed

        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.jobs, mp_context=_pool_context(), initializer=_init_worker,
                                            initargs=(self.config, self.ds))
        reported, futures = set(), {}
        try:
            # submit() starts the workers; interrupted inside Process.start(), it would lose track
            # of a worker that is already starting, which then prints a traceback when this
            # process has gone. Starting them takes about a second.
            with interrupts.held():
                futures = {self.pool.submit(_run_in_worker, job): job for job in jobs}
            for future in as_completed(futures):
                reported.add(future)
                on_done(futures[future], future.result())
        except KeyboardInterrupt:
            # The runs that finished while this process waited still count.
            with interrupts.held():
                for future, job in futures.items():
                    if future not in reported and future.done() and not future.cancelled() \
                            and future.exception() is None:
                        on_done(job, future.result())
            raise

    def _connect(self):
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--scheduler needs Dask: pip install 'nncli[dask]'") from None
        address = self.scheduler
        try:
            self.client = Client(address, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"cannot connect to the Dask scheduler at {address}: {exc}; check the address, "
                             "and that 'dask scheduler' runs there") from None
        try:
            self.client.wait_for_workers(1, timeout=DASK_WORKER_TIMEOUT)
        except (TimeoutError, OSError):
            self.client.close()
            self.client = None
            raise UsageError(f"the Dask scheduler at {address} has no workers (waited "
                             f"{DASK_WORKER_TIMEOUT} s); start one with: dask worker {address}") from None
        # Sent to every worker once; each job then refers to it by key.
        self.config_f, self.ds_f = self.client.scatter([self.config, self.ds], broadcast=True, hash=False)

    def _map_dask(self, jobs, on_done):
        from distributed import as_completed

        futures = {self.client.submit(run_job, self.config_f, self.ds_f, job, pure=False): job for job in jobs}
        try:
            for future in as_completed(futures):
                on_done(futures[future], future.result())
        except BaseException:
            self.client.cancel(list(futures))
            raise


# Set once per worker process by _init_worker, so the arrays cross the pipe once per
# worker rather than once per job.
_WORKER = {}


def _init_worker(config, ds):
    interrupts.ignore_ctrl_c()
    _single_threaded_blas()  # for the life of the worker process
    _WORKER.update(config=config, ds=ds)


def _run_in_worker(job):
    return run_job(_WORKER["config"], _WORKER["ds"], job)


def _pool_context():
    """forkserver where it exists: workers start from a clean, single-threaded
    server with nncli preloaded (fork from a process running a display thread is
    unsafe; spawn would re-import numpy and pandas in every worker)."""
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["nncli.commands.sweeping"])
        return ctx
    return multiprocessing.get_context("spawn")


def _terminate(pool):
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    # Before shutdown(), which forgets the processes.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    # A worker still starting up reads the pool's semaphores, which vanish when this
    # process exits: it would print a traceback. Wait until every worker is gone.
    for process in processes:
        process.join(timeout=10)
    pool.shutdown(wait=False, cancel_futures=True)


# --- range test ---------------------------------------------------------------------------
@dataclass
class RangeResult:
    """The points of a range test and the suggested learning rate.

    ``learning_rates[i]`` is the rate of update i; ``losses[i]`` the loss of the
    batch it was computed on (measured before that update), ``smoothed[i]`` its
    bias-corrected moving average.
    """

    learning_rates: list
    losses: list
    smoothed: list
    stopped: str              # "exploded" (loss > 4x minimum or non-finite) or "max_reached"
    best: float | None = None  # suggested learning rate
    best_index: int | None = None


class RangeTest(Callback):
    """Raise the learning rate exponentially per update and record the smoothed loss."""

    def __init__(self, min_lr, max_lr, steps, beta=SMOOTHING, factor=DIVERGENCE_FACTOR, on_step=None):
        self.min_lr, self.max_lr, self.steps = min_lr, max_lr, steps
        self.beta, self.factor, self.on_step = beta, factor, on_step
        self.rates, self.losses, self.smoothed = [], [], []
        self.average, self.lowest, self.stopped = 0.0, math.inf, "max_reached"

    def rate(self, i):
        """The learning rate of update i (0-based): min_lr at 0, max_lr at steps - 1."""
        return self.min_lr * (self.max_lr / self.min_lr) ** (i / max(self.steps - 1, 1))

    def on_batch_end(self, step, logs):
        loss = logs["loss"]
        self.average = self.beta * self.average + (1 - self.beta) * loss
        smooth = self.average / (1 - self.beta ** step)  # bias correction: step counts from 1
        self.rates.append(logs["learning_rate"])
        self.losses.append(loss)
        self.smoothed.append(smooth)
        self.lowest = min(self.lowest, smooth)
        if self.on_step is not None:
            self.on_step(step)
        if not math.isfinite(smooth) or smooth > self.factor * self.lowest:
            self.stopped = "exploded"
            self.trainer.stop("completed")
        elif step >= self.steps:
            self.trainer.stop("completed")
        else:
            self.trainer.optimizer.learning_rate = self.rate(step)


def steepest(rates, smoothed):
    """Index of the rate where the smoothed loss falls fastest per decade of rate.

    As in fastai's "steep" suggestion, the first tenth of the points (the moving
    average is still warming up) and the last five (the loss is exploding) are
    left out. The slope is taken over a window of a tenth of the points (at least
    2) rather than between neighbours, whose differences are mostly batch noise; the
    suggestion is the middle of the steepest window. None when fewer than 3 points
    remain or the loss never falls.
    """
    n = len(rates)
    lo, hi = n // 10, n - 5
    if hi - lo < 3:
        return None
    r, s = np.log10(np.array(rates[lo:hi])), np.array(smoothed[lo:hi])
    k = min(max(2, n // 10), len(r) - 1)
    with np.errstate(invalid="ignore", over="ignore"):
        slopes = (s[k:] - s[:-k]) / (r[k:] - r[:-k])
    slopes[~np.isfinite(slopes)] = np.inf
    if slopes.min() >= 0:
        return None
    return lo + int(np.argmin(slopes)) + k // 2


def check_steps(steps):
    """``steps`` if it is enough updates for a range test, else UsageError."""
    if steps < 10:
        raise UsageError(f"--steps must be at least 10 (got {steps})")
    return steps


def range_test(config: Config, ds, min_lr, max_lr, steps=100, on_step=None) -> RangeResult:
    """Run the learning-rate range test: ``steps`` updates from ``min_lr`` to ``max_lr``.

    Stops early once the smoothed loss exceeds ``DIVERGENCE_FACTOR`` times its minimum.
    Runs as many epochs as ``steps`` updates need; uses the training set only.
    """
    log_grid(min_lr, max_lr, 2)  # same checks on --min/--max
    check_steps(steps)
    batch = config.training.batch_size
    per_epoch = 1 if batch == "full" else math.ceil(len(ds.X_train) / min(batch, len(ds.X_train)))
    test = RangeTest(min_lr, max_lr, steps, on_step=on_step)
    # Early stopping would end the test on the noise of a rising rate; a schedule would fight it.
    config = config.model_copy(deep=True)
    config.training.early_stopping = None
    config.training.schedule = ScheduleConfig()
    trainer = pipeline.build_trainer(config, ds, [test], learning_rate=min_lr,
                                     epochs=math.ceil(steps / per_epoch))
    result = pipeline.fit(trainer, config, ds, validation=False)
    stopped = "exploded" if result.status == "diverged" else test.stopped
    out = RangeResult(test.rates, test.losses, test.smoothed, stopped)
    out.best_index = steepest(test.rates, test.smoothed)
    # Three digits are all a learning rate needs; the rate printed is the rate written.
    out.best = None if out.best_index is None else float(f"{test.rates[out.best_index]:.3g}")
    return out


# --- output ---------------------------------------------------------------------------------
RUN_FIELDS = ("learning_rate", "train_loss", "val_loss", "best_loss", "best_epoch", "diverged",
              "diverged_epoch", "epochs_run")
MORE_FIELDS = ("unstable_epoch", "stopped", "fold_losses", "sd", "epochs_spent")  # with defaults in Run


def grid_json(result: SweepResult, config: Config | None = None):
    """The sweep as plain data for ``--json`` (``print_json`` writes nan and inf as null).

    Every rate of the grid has a run, with ``status`` completed, unstable, stalled,
    diverged, or ``not run`` (the sweep was interrupted: ``interrupted`` is true).
    ``config`` (the resolved config), ``epochs`` and ``folds`` are what ``--resume``
    checks a later sweep against. (``advice`` is added by the command.)
    """
    best = result.best
    runs = [{**{name: getattr(r, name) for name in RUN_FIELDS}, "status": result.status(r),
             "unstable_epoch": r.unstable_epoch, "stopped": r.stopped, "fold_losses": r.fold_losses,
             "mean": r.best_loss if r.fold_losses is not None else None, "sd": r.sd, "epochs_spent": r.spent}
            for r in result.runs]
    runs += [{**dict.fromkeys(RUN_FIELDS + MORE_FIELDS + ("mean",)), "learning_rate": lr, "status": "not run"}
             for lr in result.not_run]
    return {
        "runs": sorted(runs, key=lambda r: r["learning_rate"]),
        "best": None if best is None else {"learning_rate": best.learning_rate,
                                           result.judged_on: best.best_loss},
        "judged_on": result.judged_on,
        "interrupted": bool(result.not_run),
        "epochs": result.epochs,
        "mode": result.mode,
        "folds": result.folds,
        "chance_loss": result.chance,
        "edge": result.edge,
        "epochs_spent": result.epochs_spent,
        "rungs": result.rungs if result.mode == "halving" else None,
        "config": None if config is None else to_dict(config),
    }


def previous_runs(data, where, config: Config, learning_rates, epochs, folds=None):
    """The finished runs of an earlier ``--json`` output ``data`` (read from ``where``), for
    ``--resume``; UsageError naming what differs if it was another config or grid."""
    if not (isinstance(data, dict) and isinstance(data.get("runs"), list) and isinstance(data.get("config"), dict)
            and all(isinstance(r, dict) and "learning_rate" in r for r in data["runs"])
            and data.get("mode", "grid") == "grid"):
        raise UsageError(f"--resume {where}: not the output of 'nncli lr-sweep --json' (grid mode)")
    before, now = dict(_flatten(data["config"])), dict(_flatten(to_dict(config)))
    differ = [f"{key} ({os.path.basename(where)}: {before.get(key)!r}, now: {now.get(key)!r})"
              for key in dict.fromkeys([*before, *now]) if before.get(key) != now.get(key)]
    if differ:
        raise UsageError(f"--resume {where} was another config: {'; '.join(differ)}")
    if data.get("epochs") != epochs:
        raise UsageError(f"--resume {where}: the epochs per run differ ({data.get('epochs')} then, {epochs} now); "
                         "give the same --epochs")
    if data.get("folds") != folds:
        raise UsageError(f"--resume {where}: the folds differ ({data.get('folds')} then, {folds} now); "
                         "give the same --folds")
    rates = [r["learning_rate"] for r in data["runs"]]
    if rates != list(learning_rates):
        raise UsageError(f"--resume {where}: the grid differs ({len(rates)} rates then, {len(learning_rates)} "
                         "now); give the same --min, --max and --num")
    nan_if_null = ("train_loss", "best_loss")
    try:
        return [Run(**{name: math.nan if r[name] is None and name in nan_if_null else r[name] for name in RUN_FIELDS},
                    **{name: r[name] for name in MORE_FIELDS if r.get(name) is not None})
                for r in data["runs"] if r.get("status") in ("completed", "unstable", "stalled", "diverged")]
    except (KeyError, TypeError):
        raise UsageError(f"--resume {where}: a run is incomplete; not the output of 'nncli lr-sweep --json'") from None


def _flatten(value, prefix=""):
    """(dotted key, value) pairs of nested dicts and lists."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else None
    if items is None:
        yield prefix, value
        return
    for key, item in items:
        yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))


def range_json(result: RangeResult):
    """The range test as plain data for ``--json`` (``print_json`` writes nan and inf as null)."""
    best = result.best_index
    return {
        "points": [{"learning_rate": lr, "loss": loss, "smoothed_loss": s}
                   for lr, loss, s in zip(result.learning_rates, result.losses, result.smoothed)],
        "best": None if best is None else {"learning_rate": result.best,
                                           "smoothed_loss": result.smoothed[best]},
        "stopped": result.stopped,
    }


def config_with_learning_rate(config: Config, learning_rate, path) -> str:
    """YAML text of ``config`` with ``learning_rate``, to be written at ``path``
    (data paths as :func:`nncli.io.runs.config_text` writes them)."""
    from nncli.io.runs import config_text

    return config_text(config, path, learning_rate=float(learning_rate))
