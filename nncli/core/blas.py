"""NumPy's BLAS: how many threads it uses for the matrix products, and its gemm called directly.

Small products run faster on one thread (handing them to a second costs more than it
saves); large ones use every core. predict and evaluate keep BLAS on one thread for small
networks, because the other core is parsing the next chunk of the file.

numpy's ``matmul`` always asks BLAS for C = A B (alpha 1, beta 0), so a gradient step
W - learning_rate dW costs separate passes over memory after the product. BLAS's gemm
takes the step in the product: with beta = 1 it accumulates into C, which already holds W,
and alpha = -learning_rate scales the product. ``gemm`` calls the gemm of the OpenBLAS that
numpy itself loaded (found with threadpoolctl, so the thread limits above apply to it),
through ctypes. Where that library is not found (numpy built against another BLAS),
``gemm`` returns False and the caller keeps numpy's path.
"""

import ctypes
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


# --- gemm: C <- alpha A B + beta C in one call ----------------------------------------
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
# Symbol names of numpy's OpenBLAS wheels: ILP64 (64-bit integers) and LP64 builds.
_NAMES = (("scipy_cblas_{}gemm64_", ctypes.c_int64), ("scipy_cblas_{}gemm", ctypes.c_int32))
_functions = None  # {dtype: ctypes function}, filled on first use


def _load():
    import numpy as np
    from threadpoolctl import threadpool_info

    found = {}
    for info in threadpool_info():
        if info.get("internal_api") != "openblas" or "numpy" not in info.get("filepath", ""):
            continue
        library = ctypes.CDLL(info["filepath"])
        for pattern, integer in _NAMES:
            for dtype, letter, real in ((np.float32, "s", ctypes.c_float), (np.float64, "d", ctypes.c_double)):
                function = getattr(library, pattern.format(letter), None)
                if function is None or np.dtype(dtype) in found:
                    continue
                function.restype = None
                function.argtypes = ([ctypes.c_int] * 3 + [integer] * 3
                                     + [real, ctypes.c_void_p, integer, ctypes.c_void_p, integer,
                                        real, ctypes.c_void_p, integer])
                found[np.dtype(dtype)] = (function, real)
        break
    return found


def _operand(X):
    """(transpose flag, leading dimension) of the 2-d array X for a row-major gemm, or None."""
    item = X.itemsize
    if X.strides[1] == item and X.strides[0] % item == 0 and X.strides[0] >= item * X.shape[1]:
        return _NO_TRANS, max(1, X.strides[0] // item, X.shape[1])
    if X.strides[0] == item and X.strides[1] % item == 0 and X.strides[1] >= item * X.shape[0]:
        return _TRANS, max(1, X.strides[1] // item, X.shape[0])
    return None


def gemm(alpha, A, B, beta, C):
    """C <- alpha A B + beta C in place, in one BLAS call; True if done, False if not possible.

    Parameters
    ----------
    A : ndarray of shape (m, k)
    B : ndarray of shape (k, n)
    C : ndarray of shape (m, n), rows contiguous; A, B and C of one dtype (float32 or float64)

    A and B may be transposed views (``X.T``). BLAS rounds alpha AB + beta C once per
    element after summing the products (in blocks of k for large k), as numpy's
    matmul followed by a separate multiply and add would not.
    """
    global _functions
    if _functions is None:
        _functions = _load()
    entry = _functions.get(C.dtype)
    if entry is None or A.dtype != C.dtype or B.dtype != C.dtype or min(C.shape) == 0 or A.shape[1] == 0:
        return False
    a, b = _operand(A), _operand(B)
    if a is None or b is None or C.strides[1] != C.itemsize or C.strides[0] < C.itemsize * C.shape[1]:
        return False
    function, real = entry
    (m, k), n = A.shape, B.shape[1]
    function(_ROW_MAJOR, a[0], b[0], m, n, k, alpha, A.ctypes.data, a[1], B.ctypes.data, b[1],
             beta, C.ctypes.data, max(1, C.strides[0] // C.itemsize))
    return True
