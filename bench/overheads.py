"""What nncli spends outside the arithmetic: start-up, the live display, the bookkeeping.

Run from the repository root, after ``pip install -e '.[bench]'``:

    python bench/overheads.py startup        # `nncli --help` etc. against a bare `python -c pass`
    python bench/overheads.py display        # tiny through `nncli train` on a terminal, live vs --quiet
    python bench/overheads.py bookkeeping    # medium through Trainer.fit vs the same steps bare

Each prints a small Markdown table; figures are medians of alternating runs.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import run as bench  # noqa: E402  (bench/run.py: workloads and data)


def wall(command, env=None):
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def alternating(runs, measures):
    """{label: [one value per run]}: the measures take turns, in reverse order every other run."""
    labels = list(measures)
    values = {label: [] for label in labels}
    for r in range(runs):
        for label in labels if r % 2 == 0 else labels[::-1]:
            values[label].append(measures[label]())
    return values


# The start-up budgets (issue "Room to grow"): seconds over `python -c pass`, by command.
STARTUP_BUDGETS = {"--help": 0.10, "inspect": 0.15, "predict": 0.45, "evaluate": 0.45}


def startup(runs):
    """Median wall time of each command, alternating, its excess over `python -c pass` and its budget."""
    nncli = shutil.which("nncli") or os.path.join(os.path.dirname(sys.executable), "nncli")
    folder = tempfile.mkdtemp()
    model, rows = os.path.join(folder, "iris.npz"), os.path.join(folder, "3rows.csv")
    subprocess.run([nncli, "train", os.path.join(ROOT, "configs", "iris.yaml"), "-o", model, "--quiet",
                    "--set", "training.epochs=2"], check=True)
    with open(os.path.join(ROOT, "datasets", "iris.csv")) as src, open(rows, "w") as dst:
        dst.writelines(src.readlines()[:4])
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
        "nncli --help": [nncli, "--help"],
    }
    help_text = subprocess.run([nncli, "--help"], capture_output=True, text=True).stdout
    section = help_text.split("Commands:")[-1].splitlines()
    # Command lines are indented by two spaces; wrapped descriptions by more.
    for name in [line.split()[0] for line in section if line.startswith("  ") and not line.startswith("   ")]:
        commands[f"nncli {name} --help"] = [nncli, name, "--help"]
    commands["nncli inspect model.npz"] = [nncli, "inspect", model]
    commands["nncli predict model.npz 3rows.csv"] = [nncli, "predict", model, rows]
    commands["nncli evaluate model.npz 3rows.csv"] = [nncli, "evaluate", model, rows]
    times = alternating(runs, {label: (lambda c=command: wall(c)) for label, command in commands.items()})
    base = statistics.median(times["python -c pass"])
    print("\n| command | median s | over `python -c pass` | budget |")
    print("|---|---:|---:|---:|")
    for label, values in times.items():
        over = statistics.median(values) - base
        kind = "--help" if label.endswith("--help") else label.split()[1] if label.startswith("nncli") else None
        budget = STARTUP_BUDGETS.get(kind)
        verdict = "" if budget is None else f"{budget:.2f} {'ok' if over <= budget else 'MISSED'}"
        print(f"| `{label}` | {statistics.median(values):.3f} | {over:+.3f} | {verdict} |")


def tiny_files(folder):
    """The tiny workload as a CSV file and a config, as `nncli train` reads them."""
    w = bench.WORKLOADS["tiny"]
    X, Y, _ = bench.make_data(w)
    csv = os.path.join(folder, "tiny.csv")
    header = ",".join([f"x{i}" for i in range(w.features)] + ["y"])
    np.savetxt(csv, np.hstack([X, Y]), delimiter=",", header=header, comments="", fmt="%.7g")
    config = os.path.join(folder, "tiny.yaml")
    layers = "\n".join(f"    - {{units: {layer['units']}, activation: {layer['activation']}}}" for layer in w.layers())
    with open(config, "w") as f:
        f.write(f"data:\n  path: {csv}\n  target: y\n  validation: 0.0\n"
                f"model:\n  layers:\n{layers}\nloss: mse\n"
                f"training:\n  learning_rate: {w.learning_rate}\n  epochs: {w.epochs}\n"
                f"  batch_size: {w.batch_size}\n  seed: 0\n")
    return config


def train_seconds(config, folder, terminal):
    """The fit time `nncli train --json` reports, with stderr on a terminal (live display) or not."""
    nncli = shutil.which("nncli") or os.path.join(os.path.dirname(sys.executable), "nncli")
    out = os.path.join(folder, "summary.json")
    command = f"{nncli} train {config} -o {folder}/m.npz --json > {out}"
    if terminal:
        # `script` gives the command a pseudo-terminal, as an interactive shell would.
        subprocess.run(["script", "-qec", command, "/dev/null"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True, env=dict(os.environ, COLUMNS="100", LINES="30"))
    else:
        subprocess.run(command + " --quiet", shell=True, check=True, stderr=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)["seconds"]


def display(runs):
    """tiny through `nncli train`: live display on a terminal against --quiet."""
    with tempfile.TemporaryDirectory() as folder:
        config = tiny_files(folder)
        times = alternating(runs, {"quiet": lambda: train_seconds(config, folder, terminal=False),
                                   "live": lambda: train_seconds(config, folder, terminal=True)})
    quiet, live = statistics.median(times["quiet"]), statistics.median(times["live"])
    ratios = [b / a for a, b in zip(times["quiet"], times["live"])]
    print("\n| tiny via `nncli train` | median fit seconds |")
    print("|---|---:|")
    print(f"| --quiet | {quiet:.4f} |")
    print(f"| live display (terminal) | {live:.4f} |")
    print(f"\nlive / quiet, median of paired runs: {statistics.median(ratios):.3f}")


def bare_fit(trainer, X, Y):
    """The steps of Trainer.fit on the same batches, without losses, callbacks or history."""
    from nncli.core.network import Workspace

    net, loss, optimizer = trainer.network, trainer.loss, trainer.optimizer
    batch = trainer.batch_size
    workspace = Workspace(net, batch)
    X_batch, Y_batch = np.empty((batch, X.shape[1]), X.dtype), np.empty((batch, Y.shape[1]), Y.dtype)
    ticks = [time.perf_counter()]
    with trainer._blas_limit(batch):
        for _ in range(trainer.epochs):
            order = trainer.rng.permutation(len(X))
            # The parameter and gradient vectors, updated in one step, as Trainer does.
            params, grads = [net.parameter_vector()], [workspace.gradient_vector]
            for start in range(0, len(X), batch):
                rows = order[start:start + batch]
                Xb = X.take(rows, axis=0, out=X_batch[:len(rows)], mode="clip")
                Yb = Y.take(rows, axis=0, out=Y_batch[:len(rows)], mode="clip")
                Zs, As = net.forward(Xb, workspace)
                net.backward(Xb, Yb, Zs, As, loss, workspace)
                optimizer.update(params, grads)
            ticks.append(time.perf_counter())
    return list(np.diff(ticks))


def bookkeeping(runs, blas_threads=None):
    """medium: Trainer.fit as `nncli train` runs it against the bare steps."""
    w = bench.WORKLOADS["medium"]
    X, Y, labels = bench.make_data(w)
    weights = bench.initial_weights(w)

    def run_fit():
        seconds, _ = bench.run_nncli(w, X, Y, labels, [P.copy() for P in weights], blas_threads)
        return statistics.median(seconds)

    def run_bare():
        trainer = bench.build_nncli_trainer(w, X, Y, labels, [])
        trainer.network.set_weights([P.copy() for P in weights])
        trainer.blas_threads = blas_threads
        return statistics.median(bare_fit(trainer, X, Y))

    times = alternating(runs, {"Trainer.fit": run_fit, "bare steps": run_bare})
    fit, bare = statistics.median(times["Trainer.fit"]), statistics.median(times["bare steps"])
    ratios = [a / b for a, b in zip(times["Trainer.fit"], times["bare steps"])]
    print("\n| medium | median s/epoch |")
    print("|---|---:|")
    print(f"| Trainer.fit (plain display, history, loss per batch) | {fit:.4f} |")
    print(f"| the same steps bare | {bare:.4f} |")
    print(f"\nTrainer.fit / bare, median of paired runs: {statistics.median(ratios):.3f}; "
          f"best of runs: {min(times['Trainer.fit']):.4f} / {min(times['bare steps']):.4f} s/epoch "
          f"= {min(times['Trainer.fit']) / min(times['bare steps']):.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["startup", "display", "bookkeeping"])
    parser.add_argument("-r", "--runs", type=int, default=None, help="Runs of each (default 11, 7, 5).")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="bookkeeping: BLAS threads for both (default: nncli's choice).")
    args = parser.parse_args(argv)
    runs = args.runs or {"startup": 11, "display": 7, "bookkeeping": 5}[args.what]
    if args.what == "bookkeeping":
        bookkeeping(runs, args.blas_threads)
    else:
        {"startup": startup, "display": display}[args.what](runs)


if __name__ == "__main__":
    main()
