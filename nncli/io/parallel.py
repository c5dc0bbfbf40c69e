"""NumPy work shared between two threads: NumPy releases the GIL in its loops, so the
threads run on two cores. Used by training's load, on arrays of a million rows."""

from concurrent.futures import ThreadPoolExecutor

THREADS = 2  # the data path is bound by memory more than by arithmetic: more threads gain little
# Below this many rows the work is too short for threads to pay for starting them and for
# handing the GIL back and forth (the statistics of 16 columns of 1,000 rows: 1.3 ms on two
# threads, 0.24 ms on one; of 100,000 rows about even).
THREADED_ROWS = 100_000


def map_on_threads(fn, items, rows):
    """``[fn(item) for item in items]``, the items shared among THREADS threads.

    ``rows``: how many rows each item works on; fewer than THREADED_ROWS, or fewer than two
    items, run in the calling thread. NumPy's errstate is per thread: an ``fn`` that needs
    one sets it itself. An exception of ``fn`` is raised here.
    """
    items = list(items)
    if len(items) < 2 or rows < THREADED_ROWS:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(fn, items))
