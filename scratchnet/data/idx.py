"""Reading and writing IDX files, the binary array format of MNIST and EMNIST.

Layout (all integers big-endian)::

    offset 0   two zero bytes
    offset 2   element type code (see ``TYPE_CODES``)
    offset 3   number of dimensions d
    offset 4   d dimension sizes, uint32 each
    then       prod(sizes) elements of the given type, big-endian, C order

Files may be gzip-compressed; ``read_idx`` recognises gzip by its magic bytes,
not by the file name, so a raw file called ``*.gz`` or a gzipped file without
the suffix both read correctly.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .atomic import atomic_write
from .errors import IDXFormatError

__all__ = ["TYPE_CODES", "read_idx", "write_idx", "parse_idx"]

#: IDX element type code -> big-endian NumPy dtype.
TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def _code_for_dtype(dtype: np.dtype) -> int:
    """Return the IDX type code that stores ``dtype`` without loss."""
    for code, idx_dtype in TYPE_CODES.items():
        # Compare kind and size only: byte order is handled on write.
        if dtype.kind == idx_dtype.kind and dtype.itemsize == idx_dtype.itemsize:
            return code
    supported = ", ".join(str(d.newbyteorder("=")) for d in TYPE_CODES.values())
    raise TypeError(f"IDX cannot store dtype {dtype}; supported: {supported}")


def _parse_header(buf: bytes | bytearray | memoryview, name: str) -> tuple[np.dtype, tuple, int]:
    """Decode the header at the start of ``buf``.

    Returns
    -------
    dtype, shape, header_size
    """
    if len(buf) < 4:
        raise IDXFormatError(
            f"{name}: not an IDX file: expected at least 4 header bytes, got {len(buf)}"
        )
    zero, code, ndim = struct.unpack_from(">HBB", buf, 0)
    if zero != 0:
        raise IDXFormatError(
            f"{name}: not an IDX file: the magic number must start with two zero bytes, "
            f"got 0x{bytes(buf[:4]).hex()}"
        )
    if code not in TYPE_CODES:
        known = ", ".join(f"0x{c:02X}" for c in TYPE_CODES)
        raise IDXFormatError(f"{name}: unknown IDX element type code 0x{code:02X} (known: {known})")
    header_size = 4 + 4 * ndim
    if len(buf) < header_size:
        raise IDXFormatError(
            f"{name}: truncated IDX header: {ndim} dimensions need {header_size} header bytes, "
            f"got {len(buf)}"
        )
    shape = struct.unpack_from(f">{ndim}I", buf, 4)
    return TYPE_CODES[code], tuple(shape), header_size


def parse_idx(
    buf: bytes | bytearray, name: str = "<bytes>", *, writable: bool = True
) -> np.ndarray:
    """Decode an uncompressed IDX byte string into an array.

    Parameters
    ----------
    buf
        The whole (decompressed) file content. A ``bytearray`` yields a
        writable array of single-byte elements without a copy.
    name
        Used in error messages only.
    writable
        If False, single-byte data held in an immutable ``bytes`` object is
        returned as a read-only view instead of being copied.

    Returns
    -------
    numpy.ndarray
        Shape as in the header, native byte order.

    Raises
    ------
    IDXFormatError
        If the header is invalid or the payload size differs from the header's promise.
    """
    dtype, shape, header_size = _parse_header(buf, name)
    expected = math.prod(shape) * dtype.itemsize
    actual = len(buf) - header_size
    if actual != expected:
        which = "short" if actual < expected else "long"
        raise IDXFormatError(
            f"{name}: IDX payload too {which}: header {shape} of {dtype.newbyteorder('=')} "
            f"promises {expected} bytes after the {header_size}-byte header, file has {actual}"
        )
    arr = np.frombuffer(buf, dtype=dtype, offset=header_size).reshape(shape)
    if dtype.itemsize > 1:
        return arr.astype(dtype.newbyteorder("="))  # byte-swaps into a fresh array
    if writable and not arr.flags.writeable:
        arr = arr.copy()
    return arr.view(dtype.newbyteorder("="))


def _gunzip(data: bytes, name: str) -> bytes:
    """Decompress a (possibly multi-member) gzip stream; every failure is an IDXFormatError."""
    parts = []
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(wbits=31)
            parts.append(d.decompress(rest))
            if not d.eof:
                got = sum(len(p) for p in parts)
                detail = ""
                try:
                    dtype, shape, header_size = _parse_header(b"".join(parts)[:1024], name)
                    want = header_size + math.prod(shape) * dtype.itemsize
                    detail = f": the IDX header promises {want} bytes, the stream ended after {got}"
                except IDXFormatError:
                    detail = f": the stream ended after {got} decompressed bytes"
                raise IDXFormatError(f"{name}: truncated gzip stream{detail}")
            rest = d.unused_data
            # gzip writers may pad the end with zero bytes; gzip.py ignores them too.
            if rest and not rest.lstrip(b"\x00"):
                break
    except zlib.error as exc:
        raise IDXFormatError(
            f"{name}: corrupt gzip stream after {len(data) - len(rest)} of {len(data)} "
            f"compressed bytes: {exc}"
        ) from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def read_idx(
    source: str | os.PathLike[str] | BinaryIO, *, writable: bool = True
) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw.

    Parameters
    ----------
    source
        A path, or a binary file object positioned at the start of the file.
    writable
        Pass False to allow a read-only result, which saves one copy of a
        gzipped uint8 file (useful when the caller copies anyway).

    Returns
    -------
    numpy.ndarray
        The stored array in native byte order, e.g. uint8 ``(N, 28, 28)`` for
        an MNIST image file or uint8 ``(N,)`` for a label file.

    Raises
    ------
    IDXFormatError
        For a wrong magic number, an unknown type code, a payload shorter or
        longer than the header says, or a truncated or corrupt gzip stream.
        The message names the file and the expected and actual byte counts.
    OSError
        If the file cannot be opened.
    """
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        with open(name, "rb") as fh:
            return _read_open_file(fh, name, writable)
    return _read_open_file(source, str(getattr(source, "name", "<stream>")), writable)


def _read_open_file(fh: BinaryIO, name: str, writable: bool) -> np.ndarray:
    head = fh.read(2)
    if head == _GZIP_MAGIC:
        return parse_idx(_gunzip(head + fh.read(), name), name, writable=writable)
    # Raw IDX: read into a bytearray so that uint8 data needs no defensive copy.
    buf = bytearray(head)
    buf += fh.read()
    return parse_idx(buf, name)


def _idx_bytes_header(array: np.ndarray) -> bytes:
    code = _code_for_dtype(array.dtype)
    if array.ndim > 255:
        raise ValueError(f"IDX stores at most 255 dimensions, array has {array.ndim}")
    if any(n >= 2**32 for n in array.shape):
        raise ValueError(f"IDX dimension sizes must fit in uint32, got shape {array.shape}")
    return struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compresslevel: int = 6) -> Path:
    """Write ``array`` as an IDX file, atomically.

    Parameters
    ----------
    path
        Destination. If the name ends in ``.gz`` the file is gzip-compressed.
    array
        Any shape; dtype uint8, int8, int16, int32, float32 or float64 (any byte order).
    compresslevel
        gzip level 0-9, used only for ``.gz`` names.

    Returns
    -------
    pathlib.Path
        The path written.

    Notes
    -----
    The file appears under its final name only once it is complete (see
    :func:`scratchnet.data.atomic.atomic_write`). Gzip output has a zero
    timestamp and no embedded file name, so equal arrays give equal bytes.
    """
    path = Path(path)
    array = np.asarray(array)
    header = _idx_bytes_header(array)
    big = array.astype(array.dtype.newbyteorder(">"), copy=False)
    payload = np.ascontiguousarray(big).tobytes()
    with atomic_write(path) as fh:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=compresslevel
            ) as gz:
                gz.write(header)
                gz.write(payload)
        else:
            fh.write(header)
            fh.write(payload)
    return path


def read_idx_bytes(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Read IDX content held in memory, gzip-compressed or raw (see :func:`read_idx`)."""
    return read_idx(_NamedBytesIO(data, name))


class _NamedBytesIO(io.BytesIO):
    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name
