"""The data path: how long nncli takes to read a large CSV, against the parser alone.

Generates (once, into --data-dir, outside the repository) a CSV of --rows rows × 10
columns — 8 numeric features, one 4-category text column, a numeric target — about 81 MB
at 1,000,000 rows, trains a 32-unit model on a small sample of it, then times, as
medians of alternating runs:

- `cat` of the file (the bytes floor) and `pandas.read_csv` of it alone, whole (pandas >= 3.1
  parses it on several threads) and in chunks of 50,000 rows (on one thread, as predict reads);
- `nncli predict MODEL big.csv -o out.csv` and `nncli evaluate MODEL big.csv`, with pyarrow (when
  installed) and without it (NNCLI_NO_ARROW=1: the pandas path);
- training's load: read, encode, split and standardise (nncli.io.dataset.load_dataset,
  as `nncli train` calls it), and `nncli train` for one epoch with `validation: 0`.

    python bench/datapath.py                 # 1,000,000 rows, 5 alternating runs
    python bench/datapath.py --rows 200000 --runs 3

Each line gives the median seconds, MB/s and the ratio to `pandas.read_csv` alone: of the medians,
and the median of the ratios of each round (paired).
Not a test: it takes a few minutes and its timings depend on the machine.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CATEGORIES = ("north", "south", "east", "west")


def make_csv(folder, rows, seed=0):
    """The benchmark CSV: x0..x7 (floats of varied scale), region (text), y (numeric target)."""
    path = Path(folder) / f"big_{rows}.csv"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(",".join([f"x{j}" for j in range(8)] + ["region", "y"]) + "\n")
        for start in range(0, rows, 200_000):
            m = min(200_000, rows - start)
            X = rng.normal(size=(m, 8)) * np.array([1, 10, 100, 0.1, 5, 1, 1000, 2])
            region = rng.integers(0, 4, m)
            y = X[:, 0] + 0.01 * X[:, 1] + np.array([0.0, 1, 2, 3])[region] + rng.normal(size=m)
            cols = [np.char.mod("%.6g", X[:, j]) for j in range(8)]
            cols += [np.asarray(CATEGORIES)[region], np.char.mod("%.6g", y)]
            f.write("\n".join(",".join(row) for row in zip(*cols)) + "\n")
    os.replace(tmp, path)
    return path


def write_config(folder, csv, epochs=1, validation=0.0):
    config = Path(folder) / "big.yaml"
    config.write_text(f"data: {{path: {csv}, target: y, validation: {validation}}}\n"
                      "model: {layers: [{units: 32, activation: relu}, {units: 1, activation: linear}]}\n"
                      f"loss: mse\ntraining: {{learning_rate: 0.001, epochs: {epochs}, optimizer: adam, "
                      "batch_size: 256}\n")
    return config


def train_model(folder, csv):
    sample = Path(folder) / "sample.csv"
    with open(csv) as src, open(sample, "w") as dst:
        for i, line in enumerate(src):
            if i > 20_000:
                break
            dst.write(line)
    model = Path(folder) / "big.npz"
    subprocess.run([sys.executable, "-m", "nncli", "train", str(write_config(folder, sample, epochs=3)),
                    "-o", str(model), "--quiet"], check=True)
    return model


def timed(command, env=None):
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env=None if env is None else {**os.environ, **env})
    return time.perf_counter() - start


WITHOUT_ARROW = {"NNCLI_NO_ARROW": "1"}  # nncli as without pyarrow installed: the pandas path


PANDAS_ALONE = "import sys, pandas; pandas.read_csv(sys.argv[1])"
# pandas >= 3.1 parses a whole local file on several threads; in chunks (as predict and evaluate
# must read, to keep memory flat) it parses on one. This is that serial parse, alone.
PANDAS_CHUNKED = "import sys, pandas; [None for _ in pandas.read_csv(sys.argv[1], chunksize=50_000)]"
LOAD_ALONE = ("import sys; from nncli.config import load_config; from nncli.commands import pipeline; "
              "pipeline.prepare_data(load_config(sys.argv[1]))")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "nncli-datapath"))
    args = parser.parse_args(argv)
    os.makedirs(args.data_dir, exist_ok=True)
    csv = make_csv(args.data_dir, args.rows)
    model = train_model(args.data_dir, csv)
    config = write_config(args.data_dir, csv)
    out = Path(args.data_dir) / "out.csv"
    py = sys.executable
    commands = {
        "cat (bytes floor)": ["cat", str(csv)],
        "pandas.read_csv alone": [py, "-c", PANDAS_ALONE, str(csv)],
        "pandas.read_csv in chunks of 50,000": [py, "-c", PANDAS_CHUNKED, str(csv)],
        "nncli predict -o out.csv": [py, "-m", "nncli", "predict", str(model), str(csv), "-o", str(out)],
        "nncli evaluate": [py, "-m", "nncli", "evaluate", str(model), str(csv), "--json"],
        "nncli predict, without pyarrow": [py, "-m", "nncli", "predict", str(model), str(csv), "-o", str(out)],
        "nncli evaluate, without pyarrow": [py, "-m", "nncli", "evaluate", str(model), str(csv), "--json"],
        "training's load (prepare_data)": [py, "-c", LOAD_ALONE, str(config)],
        "nncli train, 1 epoch": [py, "-m", "nncli", "train", str(config), "-o",
                                 str(Path(args.data_dir) / "m1.npz"), "--quiet"],
    }
    times = {label: [] for label in commands}
    labels = list(commands)
    load = [os.getloadavg()[0]]
    for r in range(args.runs):
        for label in labels if r % 2 == 0 else labels[::-1]:
            times[label].append(timed(commands[label], WITHOUT_ARROW if "without pyarrow" in label else None))
    load.append(os.getloadavg()[0])
    size_mb = csv.stat().st_size / 1e6
    base = statistics.median(times["pandas.read_csv alone"])
    print(f"\n{args.rows:,} rows, {size_mb:.0f} MB, medians of {args.runs} alternating runs; "
          f"load average {load[0]:.1f} at the start, {load[1]:.1f} at the end\n")
    print("| step | seconds | MB/s | × read_csv | × read_csv, paired | × chunked read_csv, paired |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, values in times.items():
        t = statistics.median(values)
        paired, chunked = (statistics.median(v / b for v, b in zip(values, times[reference]))
                           for reference in ("pandas.read_csv alone", "pandas.read_csv in chunks of 50,000"))
        print(f"| {label} | {t:.2f} | {size_mb / t:,.0f} | {t / base:.2f} | {paired:.2f} | {chunked:.2f} |")


if __name__ == "__main__":
    main()
