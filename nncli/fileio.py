"""Atomic file writes: a temporary file in the same folder, then a rename.

A crash or Ctrl-C in the middle of a write never leaves a truncated file under the
final name, and an existing file stays untouched until the new one is complete.
"""

import contextlib
import os
import tempfile
from pathlib import Path

from nncli.errors import UsageError


def check_writable(path, what="output file"):
    """Raise UsageError now if ``path`` cannot be written later (missing or read-only folder)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"{what} {path} is a directory; give a file name")
    if not folder.is_dir():
        raise UsageError(f"cannot write {what} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {what} {path}: folder {folder} is not writable")


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path`` for writing; rename it over ``path`` on success."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".",
                               prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
