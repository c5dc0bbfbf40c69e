"""predict's fast number formatting (orjson) against Python's repr and NumPy's str, value by value.

nncli.commands.scoring.format_numbers writes values with orjson where it writes them in the
same form as Python (float64) and NumPy (float32), and falls back value by value elsewhere. This
checks that claim on many more values than the test suite can afford: for each dtype, values
log-uniform over every decade from 1e-12 to 1e20 (and to the dtype's largest), integers, halves,
values rounded to a few digits and the neighbours of powers of ten.

    python bench/number_format.py              # about 13 million values, 15 s
    python bench/number_format.py --millions 2

Exits 1 and prints the first mismatches if any string differs.
"""

import argparse
import sys
import time

import numpy as np

from nncli.commands.scoring import _same_form, _shortest, _usable_orjson, format_numbers


def samples(rng, dtype, n):
    """n values of ``dtype`` in several families (see the module docstring)."""
    big = 38 if dtype == np.float32 else 300
    k = n // 6
    powers = 10.0 ** np.arange(-12, big)
    with np.errstate(over="ignore"):
        families = [
            10.0 ** rng.uniform(-12, 20, k),
            10.0 ** rng.uniform(-12, big, k),
            np.round(rng.random(k) * 10.0 ** rng.integers(0, 9, k)),
            np.round(rng.random(k) * 2e6) / 2,
            np.round(rng.random(k) * 10.0 ** (digits := rng.integers(1, 8, k))) / 10.0 ** digits
            * 10.0 ** rng.integers(-6, 8, k),
            np.concatenate([np.nextafter(powers, np.inf), np.nextafter(powers, 0), powers]),
        ]
        values = np.concatenate(families)
        values = (values * np.where(rng.random(len(values)) < 0.5, -1.0, 1.0)).astype(dtype)
    return values[np.isfinite(values)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--millions", type=float, default=16)
    args = parser.parse_args()
    if _usable_orjson() is None:
        sys.exit("orjson is missing or formats differently here: format_numbers does not use it")
    rng = np.random.default_rng(0)
    total, fast_path, bad = 0, 0, []
    start = time.perf_counter()
    per_dtype = int(args.millions * 1e6 / 2)
    for dtype in (np.float64, np.float32):
        for done in range(0, per_dtype, 1_000_000):
            values = samples(rng, dtype, min(1_000_000, per_dtype - done))
            fast, slow = format_numbers(values), _shortest(values)
            total += len(values)
            fast_path += int(_same_form(values).sum())
            bad += [(dtype.__name__, f, s) for f, s in zip(fast, slow) if f != s][:10]
    print(f"{total:,} values checked ({fast_path:,} of them written by orjson) in "
          f"{time.perf_counter() - start:.0f} s: {len(bad)} mismatch(es)")
    for line in bad[:10]:
        print("  ", *line)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
