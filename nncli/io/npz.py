"""The arrays of an ``.npz`` archive, read without NumPy: each one's dtype, shape and bytes.

Model and checkpoint files are ``.npz`` archives (a zip of ``.npy`` files). This reader
parses the archive and the ``.npy`` headers itself, so that ``nncli inspect`` can check and
show a model without loading NumPy (half its start-up time); the other commands turn the
members into NumPy arrays with ``Member.array()``. Object arrays (pickles, which could run
code) are refused, never read, as ``numpy.load(allow_pickle=False)`` refuses them; sizes
are checked before anything is allocated, so a crafted archive cannot claim terabytes.
"""

import array
import ast
import io
import math
import re
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass

from nncli.errors import ModelFileError

MAGIC = b"\x93NUMPY"
# A crafted archive can declare arrays of terabytes, or expand a few kilobytes into
# gigabytes (a zip bomb); such sizes are refused before anything is allocated.
MAX_EXPANSION, SMALL_ENOUGH = 20, 64 * 2**20
# NumPy's names of the plain dtypes, by (kind, bytes per item).
NAMES = {("f", 2): "float16", ("f", 4): "float32", ("f", 8): "float64", ("b", 1): "bool",
         **{("i", n): f"int{8 * n}" for n in (1, 2, 4, 8)}, **{("u", n): f"uint{8 * n}" for n in (1, 2, 4, 8)},
         ("c", 8): "complex64", ("c", 16): "complex128"}
_FLOAT_CODES = {2: "e", 4: "f", 8: "d"}
KINDS = "biufcSU"  # the kinds of plain arrays (O: objects, refused; V: records, not in a model)
SIZES = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8), "c": (8, 16)}  # bytes per item  # struct / array type codes of the float sizes


@dataclass(frozen=True)
class Member:
    """One array of the archive: ``descr`` as in the ``.npy`` header (``"<f4"``, ``"<U12"``)."""

    descr: str
    shape: tuple
    fortran_order: bool
    data: bytes

    @property
    def kind(self):
        """NumPy's kind character: "f" float, "i" integer, "U" text, ..."""
        return self.descr[1]

    @property
    def itemsize(self):
        n = int(self.descr[2:] or 0)
        return 4 * n if self.kind == "U" else n

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def dtype_name(self):
        """The dtype's name as NumPy gives it (``float32``; ``<U12`` for text)."""
        return NAMES.get((self.kind, self.itemsize), self.descr)

    def text(self):
        """The string of a 0-d text array (UTF-32, padded with NULs, as NumPy stores it)."""
        encoding = "utf-32-be" if self.descr[0] == ">" else "utf-32-le"
        return self.data.decode(encoding).rstrip("\0")

    def floats(self):
        """The values of a float array as Python floats, in C order (``ndarray.ravel().tolist()``)."""
        values = array.array(_FLOAT_CODES[self.itemsize]) if self.itemsize != 2 else None
        if values is None:  # float16: no array type code
            order = ">" if self.descr[0] == ">" else "<"
            flat = list(struct.unpack(f"{order}{self.size}e", self.data))
        else:
            values.frombytes(self.data)
            if (self.descr[0] == ">") != (sys.byteorder == "big"):
                values.byteswap()
            flat = values.tolist()
        if self.fortran_order and len(self.shape) > 1:
            flat = _fortran_to_c(flat, self.shape)
        return flat

    def all_finite(self):
        """True if every value of a float array is finite (no NaN, no infinity)."""
        values = self.floats()
        return math.isfinite(sum(values)) or all(map(math.isfinite, values))  # the sum can overflow

    def array(self):
        """The member as a NumPy array (a copy: writable, owning its memory)."""
        import numpy as np

        flat = np.frombuffer(self.data, dtype=np.dtype(self.descr), count=self.size)
        return flat.reshape(self.shape, order="F" if self.fortran_order else "C").copy()


def _fortran_to_c(flat, shape):
    """Values stored in Fortran order (first index fastest), reordered to C order."""
    strides, step = [], 1
    for n in shape:
        strides.append(step)
        step *= n
    out = []

    def walk(axis, offset):
        if axis == len(shape):
            out.append(flat[offset])
            return
        for i in range(shape[axis]):
            walk(axis + 1, offset + i * strides[axis])

    walk(0, 0)
    return out


def read_npz(raw, where, what="an nncli model", kind="model", advice="; train the model again"):
    """{name: Member} of the ``.npz`` archive ``raw`` (bytes); ModelFileError says what is wrong.

    ``what``, ``kind`` and ``advice`` word the messages ("an nncli checkpoint", ...).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
            total = sum(m.file_size for m in members)
            if total > SMALL_ENOUGH and total > MAX_EXPANSION * len(raw):
                raise ModelFileError(f"{where} expands to {total / 2**20:.0f} MiB from {len(raw) / 2**20:.1f} MiB; "
                                     f"it is not {what}")
            arrays = {}
            for m in members:
                with archive.open(m) as f:
                    arrays[m.filename.removesuffix(".npy")] = _read_member(f, m, where, what, kind)
            return arrays
    except ModelFileError:
        raise
    except _Damaged as exc:
        raise ModelFileError(f"{where} is damaged or not {what}: {exc}") from None
    # zipfile's own errors for a damaged archive: a bad directory or checksum, an "encrypted"
    # flag, an unknown compression method, a cut stream.
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, zlib.error, RuntimeError, NotImplementedError,
            ValueError) as exc:
        raise ModelFileError(f"{where} is truncated or damaged ({exc}){advice}") from None


class _Damaged(Exception):
    """An .npy member that is not what its header says."""


def _read_member(f, info, where, what, kind):
    """One .npy member: its header checked, then its data (never unpickled)."""
    name = info.filename.removesuffix(".npy")
    magic = f.read(8)
    if len(magic) < 8 or not magic.startswith(MAGIC):
        raise _Damaged(f"array {name!r} is not an .npy array")
    version = (magic[6], magic[7])
    if version not in ((1, 0), (2, 0)):
        raise ModelFileError(f"{where}: array {name!r} uses .npy format {version}, which nncli {kind}s never use")
    size_format = "<H" if version == (1, 0) else "<I"
    length_bytes = f.read(struct.calcsize(size_format))
    if len(length_bytes) < struct.calcsize(size_format):
        raise EOFError(f"array {name!r} ends in its header")
    (length,) = struct.unpack(size_format, length_bytes)
    header = f.read(length)
    if len(header) < length:
        raise EOFError(f"array {name!r} ends in its header")
    descr, shape, fortran_order = _parse_header(header.decode("latin1"), name)
    if not isinstance(descr, str) or descr[1:2] in ("O", "V") or len(descr) < 2:
        # Object (and structured) arrays: NumPy would unpickle them; nncli never writes them.
        raise ModelFileError(f"{where} holds object arrays, which nncli refuses to load (they could run code); "
                             f"it is not {what}")
    member = Member(descr, shape, fortran_order, b"")
    expected = member.size * member.itemsize
    if expected > info.file_size:
        raise ModelFileError(f"{where}: array {name!r} declares shape {shape} but the file holds less data; "
                             "it is truncated or damaged")
    data = f.read(expected)
    if len(data) < expected:
        raise _Damaged(f"array {name!r} holds {len(data)} bytes of data, {expected} expected for shape {shape}")
    return Member(descr, shape, fortran_order, data)


def _parse_header(text, name):
    """(descr, shape, fortran_order) of an .npy header: a Python dict literal, as NumPy reads it."""
    try:
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise _Damaged(f"array {name!r} has an unreadable header") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise _Damaged(f"array {name!r} has an unreadable header")
    shape = header["shape"]
    if (not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape)
            or not isinstance(header["fortran_order"], bool)):
        raise _Damaged(f"array {name!r} has an unreadable header")
    descr = header["descr"]
    plain = isinstance(descr, str) and re.fullmatch(f"[<>|=][{KINDS}][0-9]+", descr)
    if plain and descr[1] in SIZES and int(descr[2:]) not in SIZES[descr[1]]:
        plain = None  # a float of 3 bytes, say: no such dtype
    if isinstance(descr, str) and descr[1:2] not in ("O", "V") and not plain:
        raise _Damaged(f"array {name!r} has an unknown dtype {descr!r}")
    return descr, shape, header["fortran_order"]
