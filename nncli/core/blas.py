"""How many threads NumPy's BLAS uses for the matrix products, and a way to set it.

Small products run faster on one thread (handing them to a second costs more than it
saves); large ones use every core. predict and evaluate keep BLAS on one thread for small
networks, because the other core is parsing the next chunk of the file.
"""

import os
from contextlib import nullcontext

# A step whose largest matrix product has fewer multiply-adds than this runs with one
# BLAS thread: handing such products to a second thread costs more than it saves, and
# one thread is steadier on a busy machine (measurements in bench/BENCHMARKS.md).
MULTITHREAD_MIN_MACS = 4_000_000


# predict and evaluate: below this many multiply-adds per row, the forward pass costs less than
# parsing the row, and a second BLAS thread only contends with the parser (measured on 200,000 rows:
# 18,000 per row ran 0.29 s on one thread, 0.33 s on two; 69,000 0.56 and 0.52 s; 268,000 1.45 and 0.93 s).
SCORING_MULTITHREAD_MIN_MACS_PER_ROW = 40_000


def limit_blas(threads):
    """A context within which NumPy's BLAS uses ``threads`` threads (threadpoolctl).

    ``threads`` equal to the core count is BLAS's own default: nothing is set (and
    threadpoolctl is not loaded), so a limit set around the block stays in force.
    """
    if threads == (os.cpu_count() or 1):
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def blas_threads_for(sizes, batch_rows, cores=None):
    """BLAS threads for training a network of layer ``sizes`` on batches of ``batch_rows``.

    One thread when the step's largest matrix product is small (fewer than
    MULTITHREAD_MIN_MACS multiply-adds), every core otherwise.
    """
    cores = cores or os.cpu_count() or 1
    largest = batch_rows * max(a * b for a, b in zip(sizes, sizes[1:]))
    return 1 if largest < MULTITHREAD_MIN_MACS else cores


def scoring_threads(sizes, cores=None):
    """BLAS threads for predicting with a network of layer ``sizes`` while another thread parses."""
    cores = cores or os.cpu_count() or 1
    per_row = sum(a * b for a, b in zip(sizes, sizes[1:]))
    return 1 if per_row < SCORING_MULTITHREAD_MIN_MACS_PER_ROW else cores
