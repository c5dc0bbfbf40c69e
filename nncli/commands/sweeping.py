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
from dataclasses import dataclass, field

import numpy as np

from nncli import interrupts
from nncli.commands import pipeline
from nncli.config import Config, to_dict
from nncli.config.schema import ScheduleConfig
from nncli.errors import UsageError
from nncli.core.training import Callback

DIVERGENCE_FACTOR = 4.0  # loss above 4x its minimum: diverged (grid) / stop (range)
TIE_TOLERANCE = 0.01     # validation losses within 1% of the best count as a tie
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
    training), reached at ``best_epoch``; nan when no epoch completed.
    """

    learning_rate: float
    train_loss: float          # training loss of the last epoch run (nan: became non-finite)
    val_loss: float | None     # best validation loss; None without validation data
    best_loss: float
    best_epoch: int | None
    diverged: bool
    diverged_epoch: int | None
    epochs_run: int


class DivergenceGuard(Callback):
    """Stop a run as diverged once its training loss exceeds ``factor`` x its minimum.

    (A non-finite loss is caught by the Trainer itself.)
    """

    def __init__(self, factor=DIVERGENCE_FACTOR):
        self.factor = factor
        self.on_train_begin({})

    def on_train_begin(self, logs):
        self.lowest, self.diverged_epoch = math.inf, None  # reusable for another fit

    def on_epoch_end(self, epoch, logs):
        loss = logs["train_loss"]
        self.lowest = min(self.lowest, loss)
        if loss > self.factor * self.lowest:
            self.diverged_epoch = epoch
            self.trainer.stop("diverged")


def run_one(config: Config, ds, learning_rate, epochs=None) -> Run:
    """Train ``config`` on ``ds`` at ``learning_rate`` and summarise the run."""
    guard = DivergenceGuard()
    trainer = pipeline.build_trainer(config, ds, [guard], learning_rate=learning_rate, epochs=epochs)
    result = pipeline.fit(trainer, config, ds)
    history = result.history
    key = "val_loss" if ds.X_val is not None else "train_loss"
    judged = np.array([logs[key] for logs in history], dtype=float)
    finite = np.isfinite(judged)
    best_index = int(np.argmin(np.where(finite, judged, np.inf))) if finite.any() else None
    best_loss = float(judged[best_index]) if best_index is not None else math.nan
    diverged = result.status == "diverged"
    return Run(
        learning_rate=float(learning_rate),
        # A non-finite loss ends the epoch early and leaves it out of the history.
        train_loss=math.nan if result.diverged_epoch is not None or not history
        else float(history[-1]["train_loss"]),
        val_loss=(best_loss if key == "val_loss" else None),
        best_loss=best_loss,
        best_epoch=None if best_index is None else best_index + 1,
        diverged=diverged,
        diverged_epoch=(result.diverged_epoch or guard.diverged_epoch) if diverged else None,
        epochs_run=result.epochs_run,
    )


def near_best(runs):
    """The runs that did not diverge whose loss is within ``TIE_TOLERANCE`` of the lowest."""
    usable = [r for r in runs if not r.diverged and math.isfinite(r.best_loss)]
    if not usable:
        return []
    lowest = min(r.best_loss for r in usable)
    return [r for r in usable if r.best_loss <= lowest + TIE_TOLERANCE * abs(lowest)]


def recommend(runs):
    """The run to recommend: lowest best loss among runs that did not diverge.

    Runs within ``TIE_TOLERANCE`` (relative) of the lowest go to the smaller rate,
    which is the safer one. None when every run diverged.
    """
    return min(near_best(runs), key=lambda r: r.learning_rate, default=None)


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

    def __post_init__(self):
        self.runs = sorted(self.runs, key=lambda r: r.learning_rate)
        self.best = recommend(self.runs)
        if self.best is None:
            return
        ties = near_best(self.runs)
        self.lowest = min(ties, key=lambda r: r.best_loss)
        # An edge rate with no near-tie says the loss was still falling there; one that
        # won a near-tie says the loss is flat there, and a wider grid would not help.
        if len(self.runs) > 1 and len(ties) == 1:
            self.edge = "low" if ties[0] is self.runs[0] else "high" if ties[0] is self.runs[-1] else None


def grid_sweep(config: Config, ds, learning_rates, epochs=None, jobs=1, scheduler=None, on_run=None):
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
        Called in this process as each run finishes, in completion order.
    """
    epochs = epochs or config.training.epochs
    pipeline.check_fit(config, ds)  # a bad config fails here, not once per worker
    on_run = on_run or (lambda run: None)
    if scheduler is not None:
        runs = _run_dask(scheduler, config, ds, learning_rates, epochs, on_run)
    elif jobs > 1 and len(learning_rates) > 1:
        runs = _run_pool(min(jobs, len(learning_rates)), config, ds, learning_rates, epochs, on_run)
    else:
        runs = _run_here(config, ds, learning_rates, epochs, on_run)
    return SweepResult(runs, "val_loss" if ds.X_val is not None else "train_loss", epochs)


def _single_threaded_blas():
    """Limit BLAS to one thread: runs are parallel already, and the same thread
    count everywhere keeps results identical whatever ``jobs`` is."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _run_here(config, ds, learning_rates, epochs, on_run):
    runs = []
    with _single_threaded_blas():
        for lr in learning_rates:
            runs.append(run_one(config, ds, lr, epochs))
            on_run(runs[-1])
    return runs


# Set once per worker process by _init_worker, so the arrays cross the pipe once per
# worker rather than once per run.
_WORKER = {}


def _init_worker(config, ds):
    interrupts.ignore_ctrl_c()
    _single_threaded_blas()  # for the life of the worker process
    _WORKER.update(config=config, ds=ds)


def _run_in_worker(learning_rate, epochs):
    return run_one(_WORKER["config"], _WORKER["ds"], learning_rate, epochs)


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


def _run_pool(jobs, config, ds, learning_rates, epochs, on_run):
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(jobs, mp_context=_pool_context(), initializer=_init_worker,
                               initargs=(config, ds))
    runs = []
    try:
        # submit() starts the workers; interrupted inside Process.start(), it would lose track
        # of a worker that is already starting, which then prints a traceback when this
        # process has gone. Starting them takes about a second.
        with interrupts.held():
            futures = [pool.submit(_run_in_worker, lr, epochs) for lr in learning_rates]
        for future in as_completed(futures):
            runs.append(future.result())
            on_run(runs[-1])
    except BaseException as exc:
        # Ctrl-C or a failed run: do not wait for the runs still going. On Ctrl-C, the
        # runs that finished while this process waited still count (on_run keeps them).
        if isinstance(exc, KeyboardInterrupt):
            with interrupts.held():
                _report_finished(futures, runs, on_run)
        _terminate(pool)
        raise
    pool.shutdown()
    return runs


def _report_finished(futures, runs, on_run):
    """Pass the finished runs not yet in ``runs`` to ``on_run``."""
    for future in futures:
        if future.done() and not future.cancelled() and future.exception() is None \
                and not any(run is future.result() for run in runs):
            runs.append(future.result())
            on_run(runs[-1])


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


def _run_dask(address, config, ds, learning_rates, epochs, on_run):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError("--scheduler needs Dask: pip install 'nncli[dask]'") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"cannot connect to the Dask scheduler at {address}: {exc}; check the address, "
                         "and that 'dask scheduler' runs there") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=DASK_WORKER_TIMEOUT)
        except (TimeoutError, OSError):
            raise UsageError(f"the Dask scheduler at {address} has no workers (waited "
                             f"{DASK_WORKER_TIMEOUT} s); start one with: dask worker {address}") from None
        # Sent to every worker once; each run then refers to it by key.
        config_f, ds_f = client.scatter([config, ds], broadcast=True, hash=False)
        futures = [client.submit(run_one, config_f, ds_f, lr, epochs, pure=False) for lr in learning_rates]
        runs = []
        try:
            for future in as_completed(futures):
                runs.append(future.result())
                on_run(runs[-1])
        except BaseException:
            client.cancel(futures)
            raise
    return runs


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


def grid_json(result: SweepResult, config: Config | None = None):
    """The sweep as plain data for ``--json`` (``print_json`` writes nan and inf as null).

    Every rate of the grid has a run, with ``status`` completed, diverged, or ``not run``
    (the sweep was interrupted: ``interrupted`` is true). ``config`` (the resolved config)
    and ``epochs`` are what ``--resume`` checks a later sweep against.
    """
    best = result.best
    runs = [{**{name: getattr(r, name) for name in RUN_FIELDS}, "status": "diverged" if r.diverged else "completed"}
            for r in result.runs]
    runs += [{**dict.fromkeys(RUN_FIELDS), "learning_rate": lr, "status": "not run"} for lr in result.not_run]
    return {
        "runs": sorted(runs, key=lambda r: r["learning_rate"]),
        "best": None if best is None else {"learning_rate": best.learning_rate,
                                           result.judged_on: best.best_loss},
        "judged_on": result.judged_on,
        "interrupted": bool(result.not_run),
        "epochs": result.epochs,
        "config": None if config is None else to_dict(config),
    }


def previous_runs(data, where, config: Config, learning_rates, epochs):
    """The finished runs of an earlier ``--json`` output ``data`` (read from ``where``), for
    ``--resume``; UsageError naming what differs if it was another config or grid."""
    if not (isinstance(data, dict) and isinstance(data.get("runs"), list) and isinstance(data.get("config"), dict)
            and all(isinstance(r, dict) and "learning_rate" in r for r in data["runs"])):
        raise UsageError(f"--resume {where}: not the output of 'nncli lr-sweep --json' (grid mode)")
    before, now = dict(_flatten(data["config"])), dict(_flatten(to_dict(config)))
    differ = [f"{key} ({os.path.basename(where)}: {before.get(key)!r}, now: {now.get(key)!r})"
              for key in dict.fromkeys([*before, *now]) if before.get(key) != now.get(key)]
    if differ:
        raise UsageError(f"--resume {where} was another config: {'; '.join(differ)}")
    if data.get("epochs") != epochs:
        raise UsageError(f"--resume {where}: the epochs per run differ ({data.get('epochs')} then, {epochs} now); "
                         "give the same --epochs")
    rates = [r["learning_rate"] for r in data["runs"]]
    if rates != list(learning_rates):
        raise UsageError(f"--resume {where}: the grid differs ({len(rates)} rates then, {len(learning_rates)} "
                         "now); give the same --min, --max and --num")
    try:
        return [Run(**{name: math.nan if r[name] is None and name in ("train_loss", "best_loss") else r[name]
                       for name in RUN_FIELDS})
                for r in data["runs"] if r.get("status") in ("completed", "diverged")]
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
