"""Model files: zip archives of ``.npy`` arrays and small ``.json`` members, written
atomically and read with every size checked before anything is decompressed.

One mechanism for every file scratchnet writes about a model (weights, backups, whole
models), with one exception type, :class:`ModelFileError`, whose message names the file
and the problem. Reading never runs code: no pickle (object arrays are refused), only
``.npy`` and ``.json`` members, only stored or deflated ones.

Why sizes first: a zip member declares its uncompressed size in the central directory,
and deflate expands up to 1032:1, so a 2 MB file can unpack to 2 GB. :func:`read_archive`
compares each declared size with what the caller expects (``limits``) and with what the
compressed bytes can hold, before reading a byte of it; then reads exactly the declared
size, so a member that lies about its size fails its CRC instead of growing.

Writes go to a temporary file ``.<name>.<pid>-<random>.part`` in the same folder, fsynced
and renamed over the final name: a file under its final name is always complete. A
process killed mid-write leaves its ``.part`` file behind; the next write to that folder
removes such files whose process is gone (:func:`remove_stale_parts`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["ArchiveReader", "ModelFileError", "atomic_replace", "open_archive", "read_archive",
           "remove_stale_parts", "write_archive"]

#: Deflate's largest expansion: 1032 output bytes per input byte (zlib's tech notes).
_MAX_DEFLATE_RATIO = 1032
#: The largest ``.npy`` header NumPy writes for arrays of reasonable rank.
_NPY_HEADER_MAX = 4096
#: JSON members describe a model; a megabyte is generous.
JSON_LIMIT = 1 << 20
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_PART = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}\.part$")


class ModelFileError(ValueError):
    """A model file (weights, backup, saved model) cannot be used: names the path and why."""

    def __init__(self, path, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# -- writing ----------------------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a leftover's writer, say)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_parts(folder) -> list[Path]:
    """Delete the ``.part`` files of writes whose process has died; return them.

    Only files of this module's pattern are touched, and only when their writer's pid
    no longer runs (a write in progress in another process keeps its file).
    """
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            m = _PART.match(entry.name)
            if m and entry.is_file() and not pid_alive(int(m["pid"])):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def atomic_replace(path):
    """Yield a binary file that becomes ``path`` on success (fsynced, renamed), or vanishes."""
    path = Path(path)
    remove_stale_parts(path.parent)
    tmp = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part"
    try:
        with open(tmp, "xb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_archive(path, arrays: Mapping[str, np.ndarray],
                  meta: Mapping[str, object] | None = None) -> Path:
    """Write ``arrays`` as ``<key>.npy`` members and ``meta`` as ``<key>.json``, atomically.

    Members are stored uncompressed (weights do not compress, and storing is fastest).
    """
    path = Path(path)
    with atomic_replace(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
        for key, value in arrays.items():
            value = np.asarray(value)
            if value.dtype.hasobject:
                raise TypeError(f"{key}: object arrays cannot be saved without pickle")
            with zf.open(f"{key}.npy", "w", force_zip64=value.nbytes > 1 << 30) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)
        for key, value in (meta or {}).items():
            zf.writestr(f"{key}.json", json.dumps(value, sort_keys=True))
    return path


# -- reading ----------------------------------------------------------------------------------
class ArchiveReader:
    """An archive opened for checked reading, member by member (see :func:`open_archive`).

    ``declared`` gives each member's declared uncompressed size (from the zip's directory,
    before anything is read) so that a caller can compare it with what it expects, e.g. a
    saved model's weights with the shapes its configuration implies, before allocating.
    """

    def __init__(self, path: Path, zf: zipfile.ZipFile, size: int, kind: str):
        self.path, self.kind, self._zf, self._size = path, kind, zf, size
        self._infos = {info.filename: info for info in zf.infolist()}

    def members(self) -> list[str]:
        """Every member's file name, as the zip's directory lists it."""
        return list(self._infos)

    def names(self) -> list[str]:
        """Every member's key (its name without ``.npy``/``.json``)."""
        return [name.rsplit(".", 1)[0] for name in self._infos]

    def declared(self, key: str, ext: str = "npy") -> int | None:
        """The uncompressed size member ``<key>.<ext>`` declares, or None if absent; a
        ModelFileError if its compressed bytes could not hold that much."""
        info = self._infos.get(f"{key}.{ext}")
        if info is None:
            return None
        _check_info(self.path, info, self._size, {key: info.file_size}, 0)
        return info.file_size

    def compressed(self, key: str, ext: str = "npy") -> bool:
        """Whether member ``<key>.<ext>`` is deflated (scratchnet stores its members)."""
        info = self._infos.get(f"{key}.{ext}")
        return info is not None and info.compress_type != zipfile.ZIP_STORED

    def read_json(self, key: str):
        """The JSON member ``<key>.json`` (at most ``JSON_LIMIT`` bytes), or a ModelFileError."""
        info = self._infos.get(f"{key}.json")
        if info is None:
            raise ModelFileError(self.path, f"is not a {self.kind}: it has no {key}.json")
        _check_info(self.path, info, self._size, {}, 0)
        return json.loads(self._read(info).decode("utf-8"))

    def read_all(self, limits: Mapping[str, int] | None = None, default_limit: int = 1 << 28):
        """Every member, each checked (:func:`read_archive`'s ``limits``) before any is read."""
        limits = dict(limits or {})
        infos = list(self._infos.values())
        for info in infos:
            _check_info(self.path, info, self._size, limits, default_limit)
        arrays, meta = {}, {}
        for info in infos:
            data = self._read(info)
            key, ext = info.filename.rsplit(".", 1)
            if ext == "json":
                meta[key] = json.loads(data.decode("utf-8"))
            else:
                arrays[key] = _parse_npy(self.path, info.filename, data)
        return arrays, meta

    def _read(self, info: zipfile.ZipInfo) -> bytes:
        with self._zf.open(info) as member:
            data = member.read(info.file_size + 1)  # +1: a lie shows as a CRC error
        if len(data) != info.file_size:
            raise ModelFileError(self.path, f"member {info.filename!r} holds {len(data)} "
                                 f"bytes, its header says {info.file_size}")
        return data


@contextlib.contextmanager
def open_archive(path, kind: str = "weights file"):
    """Open ``path`` as an archive and yield an :class:`ArchiveReader`.

    Anything wrong with the file, raised inside the block as well (a damaged member found
    while reading it), comes out as one :class:`ModelFileError` naming the path.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            magic = f.read(6)
            if magic == _NPY_MAGIC:
                raise ModelFileError(path, f"is a single .npy array, not a {kind} (a .npz zip "
                                     "archive); save weights with model.save_weights('w.npz')")
            if magic[:4] not in _ZIP_MAGICS:
                raise ModelFileError(path, f"is not a {kind}: it does not start as a zip "
                                     f"archive (first bytes {magic[:4]!r})")
            f.seek(0)
            with zipfile.ZipFile(f) as zf:
                yield ArchiveReader(path, zf, size, kind)
    except ModelFileError:
        raise
    except FileNotFoundError:
        raise ModelFileError(path, f"no such file (expected a {kind})") from None
    except IsADirectoryError:
        raise ModelFileError(path, f"is a folder, not a {kind}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
            NotImplementedError, RuntimeError, ValueError, struct.error, TypeError,
            OverflowError, KeyError, IndexError, UnicodeDecodeError) as err:
        # RecursionError (a RuntimeError): JSON nested thousands deep.
        raise ModelFileError(path, f"is not a valid {kind} (damaged or truncated?): "
                             f"{type(err).__name__}: {err}") from None


def read_archive(path, limits: Mapping[str, int] | None = None, default_limit: int = 1 << 28,
                 kind: str = "weights file") -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Read an archive written by :func:`write_archive` (or ``np.savez``), checking first.

    Parameters
    ----------
    path : path
    limits : {key: bytes}, optional
        The largest array data each ``<key>.npy`` member may hold (its expected nbytes);
        a member not listed may hold ``default_limit`` bytes.
    default_limit : int
    kind : str
        What the file should be, for the messages ('weights file', 'backup').

    Returns
    -------
    arrays : {key: ndarray}
    meta : {key: JSON value}

    Raises
    ------
    ModelFileError
        For anything wrong with the file, before reading more than its declared, checked sizes.
    """
    with open_archive(path, kind) as archive:
        return archive.read_all(limits, default_limit)


def _check_info(path, info: zipfile.ZipInfo, size: int, limits, default_limit) -> None:
    name = info.filename
    if info.flag_bits & 0x1:
        raise ModelFileError(path, f"member {name!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelFileError(path, f"member {name!r} uses compression method "
                             f"{info.compress_type}; only stored and deflated are read")
    if "." not in name or name.rsplit(".", 1)[1] not in ("npy", "json"):
        raise ModelFileError(path, f"member {name!r} is neither .npy nor .json")
    key, ext = name.rsplit(".", 1)
    limit = JSON_LIMIT if ext == "json" else limits.get(key, default_limit) + _NPY_HEADER_MAX
    if info.file_size > limit:
        raise ModelFileError(path, f"member {name!r} declares {info.file_size} bytes, more "
                             f"than the {limit} it can hold")
    if info.compress_size > size:
        raise ModelFileError(path, f"member {name!r} declares {info.compress_size} "
                             f"compressed bytes, more than the file's {size}")
    most = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED
                                 else _MAX_DEFLATE_RATIO)
    if info.file_size > most:
        raise ModelFileError(path, f"member {name!r} declares {info.file_size} bytes from "
                             f"{info.compress_size} compressed ones, which is impossible")


def _parse_npy(path, name: str, data: bytes) -> np.ndarray:
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
    except ValueError:
        raise ModelFileError(path, f"member {name!r} is not a .npy array") from None
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ModelFileError(path, f"member {name!r} has .npy version {version}")
    if dtype.hasobject:
        raise ModelFileError(path, f"member {name!r} holds Python objects, which would need "
                             "pickle to load; refused")
    if dtype.kind not in "biufcUS":
        raise ModelFileError(path, f"member {name!r} has dtype {dtype}, not a numeric array")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count * dtype.itemsize != len(data) - f.tell():
        raise ModelFileError(path, f"member {name!r}: shape {shape} of {dtype} needs "
                             f"{count * dtype.itemsize} bytes, it holds {len(data) - f.tell()}")
    array = np.frombuffer(data, dtype, count=count, offset=f.tell())
    array = array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
    return array.copy()
