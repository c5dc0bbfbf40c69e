"""Atomic file writes: a temporary file in the same folder, then a rename.

A crash or Ctrl-C in the middle of a write never leaves a truncated file under the
final name, and an existing file stays untouched until the new one is complete; the
new file keeps the permissions of the file it replaces.
A symbolic link is followed (the file it points to is replaced, the link stays); a
device or a named pipe (``-o /dev/null``) is written in place, as a rename would
replace it with a plain file.
"""

import contextlib
import os
import secrets
import stat
from pathlib import Path

from nncli.errors import OutputError, UsageError


def check_writable(path, what="output file"):
    """Raise UsageError now if ``path`` cannot be written later (missing or read-only folder)."""
    path, target = Path(path), _target(path)
    if str(path) == "-":
        raise UsageError(f"{what} cannot go to stdout ('-'); give a file name")
    if target.is_dir():
        raise UsageError(f"{what} {path} is a directory; give a file name")
    if _special(target):
        if not os.access(target, os.W_OK):
            raise UsageError(f"cannot write {what} {path}: permission denied; check its permissions")
        return
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {what} {path}: folder {path.parent} does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {what} {path}: folder {path.parent} is not writable")


def _target(path):
    """The file that writing ``path`` changes: symbolic links followed."""
    return Path(os.path.realpath(path))


def _special(target):
    """True for an existing file that is not a plain file or a folder (/dev/null, a named pipe)."""
    return target.exists() and not target.is_file() and not target.is_dir()


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path`` for writing; rename it over ``path`` on success.

    On any failure the temporary file is removed and ``path`` is left as it was; an
    OSError (disk full, folder removed, ...) becomes an OutputError naming ``path``.
    """
    path, target = Path(path), _target(path)
    if _special(target):
        with _in_place(path, target, mode) as f:
            yield f
        return
    # The name is chosen before the file is made, so that a Ctrl-C at any moment, even
    # just after it is made, finds the name to remove.
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        # O_EXCL: never write into a file that someone else made; mode 0o666 less the umask, as open() gives.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, mode, **_text_options(mode)) as f:
            _keep_mode(fd, target)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        if not isinstance(exc, FileExistsError):  # that file is not ours
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc) from None
        raise


def _keep_mode(fd, target):
    """Give the new file the permissions of the file it replaces (a private model stays private)."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return
    os.fchmod(fd, mode)


@contextlib.contextmanager
def _in_place(path, target, mode):
    try:
        with open(target, mode, **_text_options(mode)) as f:
            yield f
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def _text_options(mode):
    return {} if "b" in mode else {"encoding": "utf-8", "newline": ""}


def _cannot_write(path, exc):
    return OutputError(f"cannot write {path}: {exc.strerror or exc}; the file is unchanged")
