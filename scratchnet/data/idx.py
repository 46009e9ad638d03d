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
from collections.abc import Iterator
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
# Compressed bytes read per step, and the most decompressed bytes held at once
# (a multiple of 28 * 28 so that image records rarely straddle two chunks).
_IN_CHUNK = 1 << 20
_OUT_CHUNK = 784 * 4096
_MAX_DEFLATE_RATIO = 1032
_MAX_NDIM = 64  # NumPy's limit


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


class _StreamEnded(Exception):
    """Internal: a gzip member ended early (the caller knows how much was promised)."""


def _gunzip_chunks(fh: BinaryIO, first: bytes, name: str) -> Iterator[bytes]:
    """Yield the decompressed content of a (possibly multi-member) gzip stream in chunks.

    Reads ``fh`` piecewise and never holds more than about ``_OUT_CHUNK`` bytes of
    output at a time, so the caller can decode into its final array directly.

    Raises
    ------
    _StreamEnded
        If the input ends inside a gzip member.
    IDXFormatError
        If the compressed data is corrupt.
    """
    inflater = zlib.decompressobj(wbits=31)
    in_member = True
    data = first
    consumed = 0
    try:
        while True:
            if not data:
                data = fh.read(_IN_CHUNK)
                consumed += len(data)
                if not data:
                    if not in_member:
                        return
                    # zlib may still hold output that max_length held back.
                    out = inflater.decompress(b"", _OUT_CHUNK)
                    if out:
                        yield out
                        continue
                    if not inflater.eof:
                        raise _StreamEnded
                    in_member = False
                    continue
            if not in_member:
                # Between members: gzip writers may pad with zero bytes (gzip.py
                # ignores them too); anything else must be another member.
                data = data.lstrip(b"\x00")
                if not data:
                    continue
                inflater = zlib.decompressobj(wbits=31)
                in_member = True
            out = inflater.decompress(data, _OUT_CHUNK)
            data = inflater.unconsumed_tail
            if out:
                yield out
            if inflater.eof:
                data = inflater.unused_data + data
                in_member = False
    except zlib.error as exc:
        raise IDXFormatError(
            f"{name}: corrupt gzip stream within the first {consumed} compressed bytes: {exc}"
        ) from None


def _raw_chunks(fh: BinaryIO, first: bytes) -> Iterator[bytes]:
    if first:
        yield first
    while chunk := fh.read(_OUT_CHUNK):
        yield chunk


def _decode(
    chunks: Iterator[bytes], name: str, swap_last_axes: bool, limit: int,
    exact_limit: bool = True,
) -> np.ndarray:
    """Decode IDX content arriving in chunks straight into the result array.

    ``limit`` bounds how many content bytes the source can possibly hold (exactly, when
    ``exact_limit``: an uncompressed source). A header promising more is refused at
    once, never by allocating what a corrupt header asks for; a payload longer than
    promised is refused at its first extra byte.
    """
    head = bytearray()
    try:
        for chunk in chunks:
            head += chunk
            if len(head) >= 4 and len(head) >= 4 + 4 * head[3]:
                break
        dtype, shape, header_size = _parse_header(head, name)
    except _StreamEnded:
        raise IDXFormatError(
            f"{name}: truncated gzip stream: it ended after {len(head)} decompressed bytes, "
            "inside the IDX header"
        ) from None
    native = dtype.newbyteorder("=")
    if len(shape) > _MAX_NDIM:
        raise IDXFormatError(
            f"{name}: the IDX header declares {len(shape)} dimensions; NumPy arrays have at "
            f"most {_MAX_NDIM}, and MNIST-style files have 1 to 3: the file is corrupt")
    expected = math.prod(shape) * dtype.itemsize
    if swap_last_axes and len(shape) < 2:
        raise IDXFormatError(f"{name}: cannot swap the last two axes of a {len(shape)}-D array")
    out_shape = shape[:-2] + (shape[-1], shape[-2]) if swap_last_axes else shape
    if header_size + expected > limit:
        # The file cannot hold what the header promises: say so without allocating it
        # or decompressing the rest just to count it.
        raise IDXFormatError(
            f"{name}: IDX payload too short: header {shape} of {native} promises "
            f"{expected} bytes after the {header_size}-byte header, "
            + (f"file has {limit - header_size}" if exact_limit else
               f"more than the file can hold (at most {limit - header_size})"))
    out = np.empty(out_shape, native)  # a genuine MemoryError means a genuine huge file
    # Whole records along axis 0 go into ``out`` as they arrive: byte-swapped and,
    # if asked, transposed on the way, so no second full-size copy is ever made.
    rec_items = math.prod(shape[1:]) if len(shape) > 1 else 1
    rec_bytes = rec_items * dtype.itemsize
    flat = out.reshape(-1)
    written = 0  # records written to ``out``
    received = 0  # payload bytes received (counted again, as they are written)
    carry = b""  # the start of a record split between two chunks

    def too(which: str, actual: int) -> IDXFormatError:
        return IDXFormatError(
            f"{name}: IDX payload too {which}: header {shape} of {native} promises "
            f"{expected} bytes after the {header_size}-byte header, file has {actual}"
        )

    def put(data: memoryview) -> None:
        nonlocal written
        k = len(data) // rec_bytes
        block = np.frombuffer(data, dtype, count=k * rec_items)
        if swap_last_axes and len(shape) == 2:
            out[:, written : written + k] = block.reshape(k, shape[1]).T  # records become columns
        elif swap_last_axes:
            out[written : written + k] = block.reshape((k,) + shape[1:]).swapaxes(-1, -2)
        else:
            flat[written * rec_items : (written + k) * rec_items] = block
        written += k

    try:
        payload = memoryview(bytes(head[header_size:]))
        while True:
            if len(payload):
                if received + len(payload) > expected:
                    # Stop at the first byte past the promise: an overlong payload may
                    # be gigabytes of compressed zeros, not worth decompressing to count.
                    raise IDXFormatError(
                        f"{name}: IDX payload too long: header {shape} of {native} promises "
                        f"{expected} bytes after the {header_size}-byte header, file has at "
                        f"least {received + len(payload)} (reading stopped there)")
                received += len(payload)
                if carry:
                    need = rec_bytes - len(carry)
                    carry += bytes(payload[:need])
                    payload = payload[need:]
                    if len(carry) == rec_bytes:
                        put(memoryview(carry))
                        carry = b""
                whole = len(payload) // rec_bytes * rec_bytes
                if whole:
                    put(payload[:whole])
                if len(payload) > whole:
                    carry += bytes(payload[whole:])
            chunk = next(chunks, None)
            if chunk is None:
                break
            payload = memoryview(chunk)
    except _StreamEnded:
        raise IDXFormatError(
            f"{name}: truncated gzip stream: the IDX header promises "
            f"{header_size + expected} bytes, the stream ended after {header_size + received}"
        ) from None
    if received != expected:
        raise too("short", received)
    return out


def parse_idx(buf: bytes | bytearray, name: str = "<bytes>") -> np.ndarray:
    """Decode an uncompressed IDX byte string into an array.

    Parameters
    ----------
    buf
        The whole (decompressed) file content.
    name
        Used in error messages only.

    Returns
    -------
    numpy.ndarray
        Shape as in the header, native byte order, writable.

    Raises
    ------
    IDXFormatError
        If the header is invalid or the payload size differs from the header's promise.
    """
    return _decode(iter([bytes(buf)]), name, swap_last_axes=False, limit=len(buf))


def read_idx(
    source: str | os.PathLike[str] | BinaryIO, *, swap_last_axes: bool = False
) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw.

    The file is decoded piecewise straight into the result, so reading needs
    little more memory than the result itself.

    Parameters
    ----------
    source
        A path, or a binary file object positioned at the start of the file.
    swap_last_axes
        Return the array with its last two axes swapped (C-contiguous), e.g.
        EMNIST's transposed ``(N, 28, 28)`` images upright. Done record by
        record while decoding, so it costs no extra full-size copy.

    Returns
    -------
    numpy.ndarray
        The stored array in native byte order, writable and C-contiguous, e.g.
        uint8 ``(N, 28, 28)`` for an MNIST image file or uint8 ``(N,)`` for a
        label file.

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
            return _read_open_file(fh, name, swap_last_axes)
    return _read_open_file(source, str(getattr(source, "name", "<stream>")), swap_last_axes)


def _read_open_file(fh: BinaryIO, name: str, swap_last_axes: bool) -> np.ndarray:
    try:
        size = os.fstat(fh.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        data = fh.read()  # a stream of unknown length: hold it to know its size
        size, fh = len(data), io.BytesIO(data)
    head = fh.read(2)
    if head == _GZIP_MAGIC:
        # Deflate expands at most 1032:1, which bounds what a gzip file can hold.
        limit = size * _MAX_DEFLATE_RATIO
        return _decode(_gunzip_chunks(fh, head, name), name, swap_last_axes, limit,
                       exact_limit=False)
    return _decode(_raw_chunks(fh, head), name, swap_last_axes, size)


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
