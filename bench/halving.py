"""Successive halving against the full grid, on every shipped config (bench/BENCHMARKS.md).

For each configs/*.yaml: ``nncli lr-sweep CONFIG --num 27`` (rates 1e-5 ... 1, the config's
epochs) in grid mode and in ``--mode halving``, through the real command (``--json``), and
compares the epochs each trained (``epochs_spent``) and the rate each recommends. The target:
halving spends at most 1/3 of the grid's epochs, recommends the grid's rate or a neighbour of
it on the grid, and never keeps (recommends or continues to the last rung) a diverged rate.

    python bench/halving.py                      # all shipped configs, 27 rates (~15 min on 2 cores)
    python bench/halving.py --num 9 --configs iris,full_batch --epochs 30   # a quick look
    python bench/halving.py --write bench/BENCHMARKS.md   # replace the table between the markers

Exit code 1 when a config misses the target.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nncli.cli import app  # noqa: E402

BEGIN, END = "<!-- halving:begin -->", "<!-- halving:end -->"


def sweep(config, mode, num, epochs, jobs):
    args = ["lr-sweep", str(config), "--num", str(num), "--json", "--quiet", "--mode", mode, "--jobs", str(jobs)]
    if epochs:
        args += ["--epochs", str(epochs)]
    start = time.perf_counter()
    result = CliRunner().invoke(app, args)
    if result.exit_code not in (0, 1):
        raise RuntimeError(f"{config.name} {mode}: exit {result.exit_code}: {result.stderr}")
    return json.loads(result.stdout), time.perf_counter() - start


def compare(config, num, epochs, jobs):
    grid, grid_s = sweep(config, "grid", num, epochs, jobs)
    halving, halving_s = sweep(config, "halving", num, epochs, jobs)
    rates = [r["learning_rate"] for r in grid["runs"]]
    best = lambda data: None if data["best"] is None else data["best"]["learning_rate"]  # noqa: E731
    g, h = best(grid), best(halving)
    steps = None if g is None or h is None else abs(rates.index(g) - rates.index(h))
    kept_diverged = [r["learning_rate"] for r in halving["runs"]
                     if r["diverged"] and not (r["stopped"] or "").startswith("halved")
                     and r["learning_rate"] == h]
    ratio = halving["epochs_spent"] / grid["epochs_spent"]
    return {
        "config": config.name, "epochs": grid["epochs"], "grid_epochs": grid["epochs_spent"],
        "halving_epochs": halving["epochs_spent"], "ratio": ratio, "grid_best": g, "halving_best": h,
        "grid_steps_apart": steps, "grid_seconds": grid_s, "halving_seconds": halving_s,
        "ok": ratio <= 1 / 3 and steps is not None and steps <= 1 and not kept_diverged,
    }


def table(rows, num):
    lines = [f"{num} rates from 1e-05 to 1, each config's own epochs; epochs = epochs trained over all runs "
             "(`epochs_spent`).", "",
             "| config | epochs/run | grid epochs | halving epochs | ratio | grid best | halving best | "
             "apart | grid s | halving s | target |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['epochs']} | {r['grid_epochs']} | {r['halving_epochs']} | "
                     f"{r['ratio']:.3f} | {r['grid_best']:g} | {r['halving_best']:g} | {r['grid_steps_apart']} | "
                     f"{r['grid_seconds']:.1f} | {r['halving_seconds']:.1f} | {'ok' if r['ok'] else 'MISSED'} |")
    total_g = sum(r["grid_epochs"] for r in rows)
    total_h = sum(r["halving_epochs"] for r in rows)
    lines.append(f"| **all** | | {total_g} | {total_h} | {total_h / total_g:.3f} | | | | "
                 f"{sum(r['grid_seconds'] for r in rows):.0f} | {sum(r['halving_seconds'] for r in rows):.0f} | "
                 f"{sum(r['ok'] for r in rows)}/{len(rows)} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=27)
    parser.add_argument("--epochs", type=int, default=None, help="default: each config's own")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--configs", default="", help="comma-separated names (default: every configs/*.yaml)")
    parser.add_argument("--write", type=Path, help="put the table into this Markdown file, between the markers")
    args = parser.parse_args(argv)
    wanted = [c for c in args.configs.split(",") if c]
    configs = sorted(p for p in (ROOT / "configs").glob("*.yaml") if not wanted or p.stem in wanted)
    rows = []
    for config in configs:
        rows.append(compare(config, args.num, args.epochs, args.jobs))
        print(f"{config.name}: {rows[-1]}", file=sys.stderr, flush=True)
    text = table(rows, args.num)
    print(text)
    if args.write:
        doc = args.write.read_text(encoding="utf-8")
        block = f"{BEGIN}\n{text}\n{END}"
        doc = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda m: block, doc, flags=re.S) \
            if BEGIN in doc else doc.rstrip("\n") + "\n\n" + block + "\n"
        args.write.write_text(doc, encoding="utf-8")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
