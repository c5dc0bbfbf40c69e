"""NumPy work shared between two threads: NumPy releases the GIL in its loops, so the
threads run on two cores. Used by training's load, on arrays of a million rows."""

from concurrent.futures import ThreadPoolExecutor

THREADS = 2  # the data path is bound by memory more than by arithmetic: more threads gain little


def map_on_threads(fn, items):
    """``[fn(item) for item in items]``, the items shared among THREADS threads.

    Fewer than two items run in the calling thread. NumPy's errstate is per thread: an
    ``fn`` that needs one sets it itself. An exception of ``fn`` is raised here.
    """
    items = list(items)
    if len(items) < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(fn, items))
