"""Ctrl-C and SIGTERM: the one module that sets signal handlers.

Both signals mean "stop": by default they raise KeyboardInterrupt, which the CLI turns
into exit code 130 (SIGTERM too, so that temporary files and worker processes are
cleaned up the same way). Code that must react otherwise for a while pushes a
*reaction* with :func:`reacting`: a function ``reaction(signum) -> bool`` that returns
True when it has dealt with the signal, or False to pass it on (to the reaction pushed
before it, and finally to KeyboardInterrupt). Training stops at the end of the batch;
a sweep holds signals while it starts its workers; the CSV reader notes an interrupt
that pandas would otherwise swallow.
"""

import contextlib
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_reactions = []  # innermost last


def _handle(signum, frame):
    for reaction in reversed(_reactions):
        if reaction(signum):
            return
    raise KeyboardInterrupt


def install():
    """Make SIGINT and SIGTERM raise KeyboardInterrupt (the console script does this first)."""
    for sig in SIGNALS:
        signal.signal(sig, _handle)


@contextlib.contextmanager
def reacting(reaction):
    """Within the block, a signal first goes to ``reaction(signum)`` (see the module docstring).

    Signal handlers can be set from the main thread only; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _handle) for sig in SIGNALS}
    _reactions.append(reaction)
    try:
        yield
    finally:
        _reactions.remove(reaction)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def held():
    """Hold Ctrl-C and SIGTERM until the block ends, then raise KeyboardInterrupt."""
    received = []
    with reacting(lambda signum: received.append(signum) or True):
        yield
    if received:
        raise KeyboardInterrupt


def ignore_ctrl_c():
    """In a worker process: Ctrl-C reaches the whole process group; only the parent handles it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
