"""Peak memory and speed of `nncli predict` and `nncli evaluate` as the input grows.

Trains small models on the shipped iris and house_prices data, writes CSV files of
10,000 and 2,000,000 rows drawn from those datasets (once, into --data-dir, outside
the repository), then runs each command in a fresh subprocess and reads that
process's own peak resident memory (ru_maxrss from os.wait4). Chunked reading should
keep the peak flat: the acceptance bound is 1.5x the 10,000-row peak.

    python bench/predict_memory.py                      # 10k vs 2M rows, chunks of 50,000
    python bench/predict_memory.py --rows 200000 --chunk-size 10000
    python bench/predict_memory.py --format parquet     # the same rows as Parquet files (pyarrow)

Not a test: it takes a minute or two and its timings depend on the machine.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATASETS = {
    # name: (csv, target, layers, loss)
    "iris": ("iris.csv", "species", "[{units: 16, activation: relu}, {units: 3, activation: softmax}]",
             "cross_entropy"),
    "house_prices": ("house_prices.csv", "price",
                     "[{units: 16, activation: relu}, {units: 1, activation: linear}]", "mse"),
}


def train(folder, name):
    """Train a model on a shipped dataset (a few epochs: speed and memory do not depend on fit)."""
    csv, target, layers, loss = DATASETS[name]
    config = folder / f"{name}.yaml"
    config.write_text(f"data: {{path: {REPO / 'datasets' / csv}, target: {target}}}\n"
                      f"model: {{layers: {layers}}}\nloss: {loss}\n"
                      "training: {learning_rate: 0.01, epochs: 20, optimizer: adam}\n")
    model = folder / f"{name}.npz"
    subprocess.run([sys.executable, "-m", "nncli", "train", str(config), "-o", str(model), "--quiet"], check=True)
    return model


def make_csv(folder, name, n_rows, seed=0):
    """A CSV of ``n_rows`` rows resampled from a shipped dataset, numbers jittered by 1%."""
    path = folder / f"{name}_{n_rows}.csv"
    if path.exists():
        return path
    source = (REPO / "datasets" / DATASETS[name][0]).read_text().splitlines()
    header, body = source[0], [line.split(",") for line in source[1:]]
    numeric = [j for j, v in enumerate(body[0]) if _is_number(v)]
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(header + "\n")
        for start in range(0, n_rows, 100_000):
            m = min(100_000, n_rows - start)
            picks = rng.integers(0, len(body), m)
            jitter = rng.normal(1.0, 0.01, (m, len(numeric)))
            lines = []
            for i, row in zip(picks, jitter):
                values = list(body[i])
                for j, factor in zip(numeric, row):
                    values[j] = f"{float(values[j]) * factor:.4g}"
                lines.append(",".join(values))
            f.write("\n".join(lines) + "\n")
    tmp.rename(path)
    return path


def make_parquet(folder, name, n_rows):
    """The CSV of ``make_csv`` as a Parquet file (pyarrow's default row groups), converted in
    pieces of 100,000 rows so that making it does not need the whole file in memory."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / f"{name}_{n_rows}.parquet"
    if path.exists():
        return path
    tmp, writer = path.with_suffix(".tmp"), None
    text = [c for c in ("species", "neighbourhood")]
    for part in pd.read_csv(make_csv(folder, name, n_rows), chunksize=100_000, dtype={c: str for c in text}):
        table = pa.Table.from_pandas(part, preserve_index=False)
        writer = writer or pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table)
    writer.close()
    tmp.rename(path)
    return path


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def measure(args):
    """(peak RSS in MiB, seconds) of one command run in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "nncli", *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"nncli {' '.join(map(str, args))} failed: {proc.stderr.read().decode()}")
    return usage.ru_maxrss / 1024, seconds  # ru_maxrss is in KiB on Linux


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/nncli-bench"))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv",
                        help="the input files' format (parquet: predictions written as Parquet too)")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)

    print(f"{args.format} input, chunk size {args.chunk_size:,}; peak RSS of the nncli process\n")
    print(f"{'model':<13} {'command':<9} {'rows':>10} {'peak RSS':>10} {'seconds':>8} {'rows/s':>9} {'ratio':>6}")
    worst = 0.0
    for name in args.datasets:
        model = train(args.data_dir, name)
        for command in ("predict", "evaluate"):
            base = None
            for n_rows in (args.small, args.rows):
                data = (make_parquet if args.format == "parquet" else make_csv)(args.data_dir, name, n_rows)
                extra = ["-o", args.data_dir / f"predictions.{args.format}"] if command == "predict" else ["--json"]
                rss, seconds = measure([command, model, data, "--chunk-size", args.chunk_size, *extra])
                base = base or rss
                worst = max(worst, rss / base)
                print(f"{name:<13} {command:<9} {n_rows:>10,} {rss:>7.0f} MiB {seconds:>8.1f} "
                      f"{n_rows / seconds:>9,.0f} {rss / base:>5.2f}x", flush=True)
    print(f"\nlargest ratio of peak RSS, {args.rows:,} vs {args.small:,} rows: {worst:.2f}x (bound: 1.5x)")
    return 0 if worst <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
