"""nncli against PyTorch and scikit-learn: seconds per epoch on the same work.

Run from the repository root, after ``pip install -e '.[bench]'``:

    python bench/run.py                      # every workload, 3 rounds (about 6 minutes on 2 cores)
    python bench/run.py -w tiny -w medium -r 5
    python bench/run.py --threads-sweep      # nncli alone with 1 and with 2 BLAS threads

Each workload trains the same network from the same initial weights, with plain
mini-batch SGD (no momentum, no weight decay), the same batch size, learning rate
and number of epochs, in three contenders:

- nncli: ``pipeline.build_trainer`` exactly as ``nncli train`` assembles it (Trainer,
  Network, loss, optimizer, the plain-text display as a callback, the history);
- PyTorch: ``torch.nn.Sequential`` with ``torch.optim.SGD`` and ``torch.set_num_threads(cores)``;
- scikit-learn: ``MLPRegressor`` / ``MLPClassifier`` (solver sgd, momentum 0, constant rate,
  alpha 0, no early stopping), warm-started from the same weights.

The contenders alternate within each round (the order rotates from round to round)
because this machine's speed drifts; the table quotes medians of the per-epoch times
and the median over rounds of the paired ratios. Nothing here is part of the test suite.
"""

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

CORES = os.cpu_count() or 1


@dataclass
class Workload:
    """One benchmark problem: synthetic data, a network, and how it is trained."""

    name: str
    rows: int
    features: int
    hidden: list
    outputs: int
    task: str  # regression | binary | multiclass
    batch_size: int | None  # None: full batch
    epochs: int
    learning_rate: float
    hidden_activation: str = "relu"

    @property
    def loss(self):
        return {"regression": "mse", "binary": "binary_cross_entropy", "multiclass": "cross_entropy"}[self.task]

    @property
    def output_activation(self):
        return {"regression": "linear", "binary": "sigmoid", "multiclass": "softmax"}[self.task]

    @property
    def sizes(self):
        return [self.features] + self.hidden + [self.outputs]

    def layers(self):
        return ([{"units": n, "activation": self.hidden_activation} for n in self.hidden]
                + [{"units": self.outputs, "activation": self.output_activation}])

    @property
    def n_params(self):
        return sum((a + 1) * b for a, b in zip(self.sizes, self.sizes[1:]))

    def gemms(self):
        """The matrix products of one step: (label, m, k, n, A, B layout) with A (m, k) @ B (k, n).

        Forward Z = A_prev W for every layer; backward dW = A_prev^T dZ for every layer and
        dA_prev = dZ W^T for every layer but the first (no gradient with respect to X).
        """
        m = self.rows if self.batch_size is None else self.batch_size
        out = []
        for l, (n_in, n_out) in enumerate(zip(self.sizes, self.sizes[1:])):
            out.append(("A W", m, n_in, n_out))
            out.append(("A^T dZ", n_in, m, n_out))
            if l > 0:
                out.append(("dZ W^T", m, n_out, n_in))
        return out

    def flops_per_epoch(self):
        """Multiply-add FLOPs (2 m k n per product) that one epoch really needs."""
        m = self.rows if self.batch_size is None else self.batch_size
        steps = self.rows / m
        return steps * sum(2 * a * b * c for _, a, b, c in self.gemms())


WORKLOADS = {
    w.name: w
    for w in [
        Workload("tiny", 1_000, 8, [16], 1, "regression", 32, 50, 0.01),
        Workload("small-class", 20_000, 30, [64, 64], 2, "multiclass", 64, 10, 0.05),
        Workload("medium", 100_000, 50, [256, 256], 1, "regression", 256, 5, 0.01),
        Workload("wide", 60_000, 784, [512, 256], 10, "multiclass", 128, 2, 0.05),
        Workload("full-batch", 5_000, 20, [32], 1, "binary", None, 500, 0.5),
    ]
}


# ----------------------------------------------------------------------------- data


def make_data(w: Workload, seed=0):
    """Synthetic (X, Y, labels) in float32: X standard normal, targets from a random teacher net.

    Y is (rows, outputs): the standardised target for regression, 0/1 for binary, one-hot
    for multiclass; ``labels`` holds the class indices (None for regression).
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((w.rows, w.features), dtype=np.float32)
    H = np.tanh(X @ rng.standard_normal((w.features, 32), dtype=np.float32) / np.sqrt(w.features))
    scores = H @ rng.standard_normal((32, max(w.outputs, 1)), dtype=np.float32)
    if w.task == "regression":
        y = scores[:, :1] + 0.1 * rng.standard_normal((w.rows, 1), dtype=np.float32)
        return X, ((y - y.mean()) / y.std()).astype(np.float32), None
    if w.task == "binary":
        labels = (scores[:, 0] > np.median(scores[:, 0])).astype(np.int64)
        return X, labels[:, None].astype(np.float32), labels
    labels = scores.argmax(axis=1)
    return X, np.eye(w.outputs, dtype=np.float32)[labels], labels


def initial_weights(w: Workload, seed=1):
    """[W1, b1, ...] from nncli's own initializers (He for relu, Xavier otherwise)."""
    from nncli.core.network import Network

    net = Network(w.features, w.layers(), dtype=np.float32)
    net.initialize(np.random.default_rng(seed))
    return net.get_weights()


# ----------------------------------------------------------------------------- contenders


class EpochClock:
    """Timestamps of the start of training and of every epoch end."""

    def __init__(self):
        self.marks = []

    def start(self):
        self.marks = [time.perf_counter()]

    def tick(self):
        self.marks.append(time.perf_counter())

    def epoch_seconds(self):
        return list(np.diff(self.marks))


def build_nncli_trainer(w, X, Y, labels, callbacks):
    """A Trainer from ``pipeline.build_trainer``, exactly as ``nncli train`` assembles it."""
    from nncli.commands import pipeline
    from nncli.config import Config
    from nncli.io.dataset import Dataset

    config = Config.model_validate({
        "data": {"path": f"{w.name}.csv", "target": "y"},
        "model": {"layers": w.layers()},
        "loss": w.loss,
        "training": {"learning_rate": w.learning_rate, "epochs": w.epochs,
                     "batch_size": "full" if w.batch_size is None else w.batch_size,
                     "optimizer": "sgd", "seed": 0, "dtype": "float32"},
    })
    classes = [] if labels is None else [str(c) for c in range(max(2, w.outputs))]
    ds = Dataset(X_train=X, Y_train=Y, X_val=None, Y_val=None,
                 features=[f"x{i}" for i in range(w.features)], columns=[], target="y",
                 task=w.task, classes=classes, x_mean=np.zeros(w.features), x_std=np.ones(w.features),
                 y_mean=np.zeros(1), y_std=np.ones(1))
    return pipeline.build_trainer(config, ds, callbacks)


def run_nncli(w, X, Y, labels, weights, blas_threads=None):
    """Train through ``pipeline.build_trainer``, as ``nncli train`` does; (epoch seconds, final loss)."""
    from rich.console import Console

    from nncli.ui.live import TrainingDisplay
    from nncli.core.training import Callback

    clock = EpochClock()

    class Ticks(Callback):
        def on_train_begin(self, logs):
            clock.start()

        def on_epoch_end(self, epoch, logs):
            clock.tick()

    # The display as `nncli train` shows it when stderr is not a terminal.
    display = TrainingDisplay(Console(file=io.StringIO(), width=100), mode="plain", title=w.name)
    trainer = build_nncli_trainer(w, X, Y, labels, [display, Ticks()])
    trainer.network.set_weights(weights)
    if blas_threads is not None:
        trainer.blas_threads = blas_threads
    result = trainer.fit(X, Y)
    assert result.status == "completed", result.status
    return clock.epoch_seconds(), result.history[-1]["train_loss"]


def run_torch(w, X, Y, labels, weights):
    """The same network and SGD in PyTorch, with batches drawn from a fresh permutation each epoch."""
    import torch

    torch.set_num_threads(CORES)
    torch.manual_seed(0)
    modules = []
    for l, (n_in, n_out) in enumerate(zip(w.sizes, w.sizes[1:])):
        linear = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weights[2 * l].T.copy()))
            linear.bias.copy_(torch.from_numpy(weights[2 * l + 1]))
        modules.append(linear)
        if l < len(w.hidden):
            modules.append({"relu": torch.nn.ReLU(), "tanh": torch.nn.Tanh(),
                            "sigmoid": torch.nn.Sigmoid()}[w.hidden_activation])
    model = torch.nn.Sequential(*modules)
    # The output activation lives inside the loss, as in nncli (softmax + CE, sigmoid + BCE).
    if w.task == "regression":
        loss_fn, target = torch.nn.MSELoss(), torch.from_numpy(Y)
    elif w.task == "binary":
        loss_fn, target = torch.nn.BCEWithLogitsLoss(), torch.from_numpy(Y)
    else:
        loss_fn, target = torch.nn.CrossEntropyLoss(), torch.from_numpy(labels)
    inputs = torch.from_numpy(X)
    optimizer = torch.optim.SGD(model.parameters(), lr=w.learning_rate, momentum=0.0)
    n = len(X)
    batch = n if w.batch_size is None else min(w.batch_size, n)
    generator = torch.Generator().manual_seed(0)
    clock = EpochClock()
    clock.start()
    for _ in range(w.epochs):
        total = 0.0
        order = torch.randperm(n, generator=generator) if batch < n else None
        for start in range(0, n, batch):
            if order is None:
                xb, yb = inputs, target
            else:
                idx = order[start:start + batch]
                xb, yb = inputs[idx], target[idx]
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        clock.tick()
    return clock.epoch_seconds(), total / n


def run_sklearn(w, X, Y, labels, weights):
    """The same network in scikit-learn's MLP, warm-started from the same weights.

    scikit-learn's squared error is half nncli's mse, so its learning rate is doubled (the
    same steps) and its loss doubled (the same number). A two-class softmax output (which
    MLPClassifier would turn into one logistic unit) is kept by training on one-hot
    targets with the output activation set to softmax.
    """
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    regression = w.task == "regression"
    common = dict(hidden_layer_sizes=tuple(w.hidden), activation=w.hidden_activation,
                  solver="sgd", momentum=0.0, nesterovs_momentum=False, learning_rate="constant",
                  alpha=0.0, batch_size=w.rows if w.batch_size is None else w.batch_size,
                  shuffle=w.batch_size is not None, early_stopping=False,
                  n_iter_no_change=10**9, tol=0.0, random_state=0, warm_start=True)
    if regression:
        est = MLPRegressor(learning_rate_init=2 * w.learning_rate, **common)
        target = Y[:, 0]
    else:
        est = MLPClassifier(learning_rate_init=w.learning_rate, **common)
        target = labels if w.task == "binary" else Y.astype(bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # One iteration on a few rows creates every attribute; then the weights are replaced.
        est.set_params(max_iter=1)
        est.fit(X[:64], target[:64])
        est.coefs_ = [P.copy() for P in weights[0::2]]
        est.intercepts_ = [P.copy() for P in weights[1::2]]
        if w.task == "multiclass":
            est.out_activation_ = "softmax"
        est.loss_curve_, est.best_loss_, est._no_improvement_count = [], np.inf, 0
        est.set_params(max_iter=w.epochs)
        clock = EpochClock()
        # The estimator calls this once at the end of every epoch.
        original = est._update_no_improvement_count

        def tick(*args, **kwargs):
            clock.tick()
            return original(*args, **kwargs)

        est._update_no_improvement_count = tick
        clock.start()
        est.fit(X, target)
    loss = est.loss_curve_[-1] * (2 if regression else 1)
    return clock.epoch_seconds(), loss


CONTENDERS = {"nncli": run_nncli, "torch": run_torch, "sklearn": run_sklearn}


# ----------------------------------------------------------------------------- GEMM bound


def time_call(fn, min_seconds=0.05, repeats=5):
    """Best time of one call of ``fn`` (each measurement loops for at least ``min_seconds``)."""
    fn()
    best = np.inf
    for _ in range(repeats):
        count, start = 0, time.perf_counter()
        while True:
            fn()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / count)
    return best


def gemm_rates(w: Workload, threads_options=(1, CORES)):
    """GFLOP/s of numpy.matmul (into a preallocated output) for each product of a step."""
    rng = np.random.default_rng(0)
    rows = []
    for label, m, k, n in w.gemms():
        # Operands laid out as the network holds them (A^T and W^T are transposed views).
        if label == "A^T dZ":
            A = rng.standard_normal((k, m), dtype=np.float32).T
        else:
            A = rng.standard_normal((m, k), dtype=np.float32)
        B = (rng.standard_normal((n, k), dtype=np.float32).T if label == "dZ W^T"
             else rng.standard_normal((k, n), dtype=np.float32))
        C = np.empty((m, n), np.float32)
        rates = {}
        for threads in threads_options:
            with threadpool_limits(threads, user_api="blas"):
                seconds = time_call(lambda: np.matmul(A, B, out=C))
            rates[threads] = 2 * m * k * n / seconds / 1e9
        rows.append({"product": label, "m": m, "k": k, "n": n, "gflops": rates})
    return rows


def gemm_bound(w: Workload, rates):
    """Seconds per epoch of the products alone: at the best rate seen, and shape by shape."""
    m = w.rows if w.batch_size is None else w.batch_size
    steps = w.rows / m
    best = max(max(r["gflops"].values()) for r in rates)
    at_best = w.flops_per_epoch() / (best * 1e9)
    by_shape = steps * sum(2 * r["m"] * r["k"] * r["n"] / (max(r["gflops"].values()) * 1e9) for r in rates)
    return best, at_best, by_shape


# ----------------------------------------------------------------------------- driver


def median(values):
    return statistics.median(values) if values else float("nan")


def run_workload(w, rounds, contenders, log):
    X, Y, labels = make_data(w)
    weights = initial_weights(w)
    times = {c: [] for c in contenders}
    per_round = {c: [] for c in contenders}
    losses = {c: [] for c in contenders}
    for r in range(rounds):
        order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
        for name in order:
            seconds, loss = CONTENDERS[name](w, X, Y, labels, [P.copy() for P in weights])
            times[name] += seconds
            per_round[name].append(median(seconds))
            losses[name].append(loss)
            log(f"  {w.name:<11} round {r + 1} {name:<7} {median(seconds) * 1e3:9.2f} ms/epoch  loss {loss:.5f}")
    result = {
        "workload": w.name,
        "median_epoch_seconds": {c: median(times[c]) for c in contenders},
        "final_loss": {c: median(losses[c]) for c in contenders},
        "ratios": {},
    }
    for other in contenders[1:]:
        if "nncli" in contenders:
            pairs = [a / b for a, b in zip(per_round["nncli"], per_round[other])]
            result["ratios"][other] = median(pairs)
    return result


def threads_sweep(w, rounds, log):
    """nncli alone with 1 and with CORES BLAS threads, alternating: median ms per epoch each."""
    X, Y, labels = make_data(w)
    weights = initial_weights(w)
    options = sorted({1, CORES})
    times = {t: [] for t in options}
    for r in range(rounds):
        for t in options if r % 2 == 0 else options[::-1]:
            seconds, _ = run_nncli(w, X, Y, labels, [P.copy() for P in weights], blas_threads=t)
            times[t].append(median(seconds))
    result = {t: median(v) for t, v in times.items()}
    log(f"  {w.name:<11} " + "  ".join(f"{t} thread(s) {s * 1e3:8.2f} ms/epoch" for t, s in result.items()))
    return result


def compare_revisions(w, revisions, rounds, log):
    """nncli at git revision OLD against NEW (default: the working tree), alternating,
    each run in its own process; ``revisions`` is "OLD" or "OLD..NEW"."""
    import subprocess
    import tempfile

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    revision, _, new = revisions.partition("..")
    new = new or "working tree"
    times = {revision: [], new: []}
    with tempfile.TemporaryDirectory() as old_tree, tempfile.TemporaryDirectory() as new_tree:
        trees = {revision: old_tree, new: new_tree if new != "working tree" else root}
        for rev, folder in trees.items():
            if folder != root:
                archive = subprocess.run(["git", "-C", root, "archive", rev, "nncli"],
                                         check=True, capture_output=True).stdout
                subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        for r in range(rounds):
            for label in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
                env = dict(os.environ, PYTHONPATH=trees[label])
                out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", w.name],
                                     env=env, check=True, capture_output=True, text=True).stdout
                seconds, loss = json.loads(out.splitlines()[-1])
                times[label].append(median(seconds))
                log(f"  {w.name:<11} round {r + 1} {label:<12} {median(seconds) * 1e3:9.2f} ms/epoch  loss {loss:.5f}")
    before, after = times[revision], times[new]
    return {"before": median(before), "after": median(after),
            "ratio": median([a / b for a, b in zip(after, before)]),
            "best_before": min(before), "best_after": min(after)}


def blas_description():
    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(f"{i['internal_api']} {i.get('version')} ({i.get('architecture')}, "
                     f"{i['num_threads']} threads)" for i in infos) or "unknown"


def print_table(results, gemm, out):
    print("\n| workload | nncli s/epoch | PyTorch s/epoch | scikit-learn s/epoch | nncli / PyTorch "
          "| nncli / scikit-learn | final loss nncli / PyTorch / scikit-learn | % of GEMM bound |", file=out)
    print("|---|---:|---:|---:|---:|---:|---|---:|", file=out)
    for res in results:
        t, loss, ratio = res["median_epoch_seconds"], res["final_loss"], res["ratios"]
        bound = gemm.get(res["workload"])
        pct = "" if bound is None else (f"{100 * bound['at_best'] / t['nncli']:.0f}% "
                                        f"({100 * bound['by_shape'] / t['nncli']:.0f}% by shape)")
        cells = [res["workload"]] + [f"{t[c]:.4f}" if c in t else "-" for c in ("nncli", "torch", "sklearn")]
        cells += [f"{ratio[c]:.2f}x" if c in ratio else "-" for c in ("torch", "sklearn")]
        cells += [" / ".join(f"{loss[c]:.4f}" if c in loss else "-" for c in ("nncli", "torch", "sklearn")), pct]
        print("| " + " | ".join(cells) + " |", file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-w", "--workload", action="append", choices=list(WORKLOADS),
                        help="Run only this workload (repeatable). Default: all.")
    parser.add_argument("-r", "--rounds", type=int, default=3, help="Rounds per workload (default 3).")
    parser.add_argument("-c", "--contender", action="append", choices=list(CONTENDERS),
                        help="Run only this contender (repeatable). Default: all.")
    parser.add_argument("--threads-sweep", action="store_true",
                        help="Time nncli with 1 and with all BLAS threads instead.")
    parser.add_argument("--compare", metavar="OLD[..NEW]",
                        help="Time nncli at git revision OLD against NEW (default: the working tree) instead.")
    parser.add_argument("--json", type=str, help="Also write the results to this JSON file.")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one nncli run, for --compare
    args = parser.parse_args(argv)
    if args.worker:
        w = WORKLOADS[args.worker]
        X, Y, labels = make_data(w)
        print(json.dumps(run_nncli(w, X, Y, labels, initial_weights(w))))
        return

    def log(message):
        print(message, file=sys.stderr, flush=True)

    names = args.workload or list(WORKLOADS)
    contenders = [c for c in CONTENDERS if c in (args.contender or CONTENDERS)]
    started = time.perf_counter()
    log(f"python {platform.python_version()}, numpy {np.__version__}, {CORES} cores, BLAS: {blas_description()}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if var in os.environ:
            log(f"  {var}={os.environ[var]}")
    if args.compare:
        old, _, new = args.compare.partition("..")
        print(f"\n| workload | nncli {old} ms/epoch | {new or 'working tree'} ms/epoch | after / before "
              "| best of rounds: before, after |")
        print("|---|---:|---:|---:|---|")
        for name in names:
            c = compare_revisions(WORKLOADS[name], args.compare, args.rounds, log)
            print(f"| {name} | {c['before'] * 1e3:.2f} | {c['after'] * 1e3:.2f} | {c['ratio']:.2f}x "
                  f"| {c['best_before'] * 1e3:.2f}, {c['best_after'] * 1e3:.2f} |", flush=True)
        return
    if args.threads_sweep:
        sweep = {n: threads_sweep(WORKLOADS[n], args.rounds, log) for n in names}
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"threads_sweep": sweep}, f, indent=1)
        return

    gemm, results = {}, []
    for name in names:
        w = WORKLOADS[name]
        if name in ("medium", "wide"):
            rates = gemm_rates(w)
            best, at_best, by_shape = gemm_bound(w, rates)
            gemm[name] = {"rates": rates, "best_gflops": best, "at_best": at_best, "by_shape": by_shape}
            for r in rates:
                log(f"  {name:<11} GEMM {r['product']:<7} ({r['m']}x{r['k']}) @ ({r['k']}x{r['n']}): "
                    + ", ".join(f"{g:.1f} GFLOP/s at {t} thread(s)" for t, g in r["gflops"].items()))
            log(f"  {name:<11} {w.flops_per_epoch() / 1e9:.1f} GFLOP per epoch: {at_best:.3f} s at the best "
                f"rate ({best:.1f} GFLOP/s), {by_shape:.3f} s shape by shape")
        results.append(run_workload(w, args.rounds, contenders, log))

    print(f"\nnumpy {np.__version__}, BLAS {blas_description()}; {CORES} cores; "
          f"{args.rounds} rounds; {time.perf_counter() - started:.0f} s in all")
    print_table(results, gemm, sys.stdout)
    for name, g in gemm.items():
        print(f"\n{name}: best numpy GEMM {g['best_gflops']:.1f} GFLOP/s; products alone "
              f"{g['at_best']:.3f} s per epoch at that rate, {g['by_shape']:.3f} s at each shape's own rate")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "gemm": gemm, "blas": blas_description(), "cores": CORES},
                      f, indent=1, default=str)


if __name__ == "__main__":
    main()
