"""Atomic file writes: a temporary file in the same folder, then a rename.

A crash or Ctrl-C in the middle of a write never leaves a truncated file under the
final name, and an existing file stays untouched until the new one is complete.
"""

import contextlib
import os
import tempfile
from pathlib import Path

from nncli.errors import OutputError, UsageError


def check_writable(path, what="output file"):
    """Raise UsageError now if ``path`` cannot be written later (missing or read-only folder)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if str(path) == "-":
        raise UsageError(f"{what} cannot go to stdout ('-'); give a file name")
    if path.is_dir():
        raise UsageError(f"{what} {path} is a directory; give a file name")
    if not folder.is_dir():
        raise UsageError(f"cannot write {what} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {what} {path}: folder {folder} is not writable")


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path`` for writing; rename it over ``path`` on success.

    On any failure the temporary file is removed and ``path`` is left as it was; an
    OSError (disk full, folder removed, ...) becomes an OutputError naming ``path``.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".",
                                   prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc) from None
        raise


def _cannot_write(path, exc):
    return OutputError(f"cannot write {path}: {exc.strerror or exc}; the file is unchanged")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
