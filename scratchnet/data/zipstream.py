"""Reading the members of a zip archive from a forward-only stream.

``zipfile`` needs to seek to the central directory at the end of an archive, so
it cannot read an archive while it downloads. This module walks the *local*
headers from the front instead, so members can be decompressed as their bytes
arrive and the archive itself is never stored. It handles what NIST's
``gzip.zip`` and common writers produce: stored and deflated members, with
sizes in the header or in a data descriptor after the data. Every extracted
member is checked against the CRC-32 and size recorded in the archive.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .errors import DownloadError

__all__ = ["ZipMember", "ZipStream"]

_CHUNK = 1 << 16
_LOCAL_SIG = b"PK\x03\x04"
_DESCRIPTOR_SIG = b"PK\x07\x08"
# Central directory, end of central directory, ZIP64 end record: no members follow.
_END_SIGS = (b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06")
_FLAG_ENCRYPTED = 0x1
_FLAG_DESCRIPTOR = 0x8
_STORED, _DEFLATED = 0, 8


class _Readable(Protocol):
    def read(self, n: int) -> bytes: ...


@dataclass
class ZipMember:
    """A member's local header (CRC and sizes are filled from its data descriptor)."""

    name: str
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int

    @property
    def has_descriptor(self) -> bool:
        """True when CRC and sizes follow the data instead of preceding it."""
        return bool(self.flags & _FLAG_DESCRIPTOR)


class ZipStream:
    """Walk a zip archive from a stream that can only be read forward.

    Parameters
    ----------
    stream
        Any object with ``read(n) -> bytes`` (``b""`` at the end).

    Notes
    -----
    Call :meth:`next_member`, then exactly one of :meth:`copy_member` or
    :meth:`skip_member` for it, and repeat. Malformed input raises
    :class:`~scratchnet.data.errors.DownloadError`.
    """

    def __init__(self, stream: _Readable) -> None:
        self._stream = stream
        self._buffer = b""

    # -- low-level reads with push-back ---------------------------------------------------
    def _read_some(self, n: int) -> bytes:
        if self._buffer:
            out, self._buffer = self._buffer[:n], self._buffer[n:]
            return out
        return self._stream.read(n)

    def _read_exact(self, n: int, what: str) -> bytes:
        parts, got = [], 0
        while got < n:
            chunk = self._read_some(n - got)
            if not chunk:
                raise DownloadError(f"zip archive ends inside {what} ({got} of {n} bytes)")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _unread(self, data: bytes) -> None:
        self._buffer = data + self._buffer

    # -- members ----------------------------------------------------------------------------
    def next_member(self) -> ZipMember | None:
        """Read the next local header, or return None when no members follow."""
        sig = self._read_some(4)
        if not sig:
            return None  # the stream ended without a central directory
        if len(sig) < 4:
            sig += self._read_exact(4 - len(sig), "a zip header")
        if sig in _END_SIGS:
            return None
        if sig != _LOCAL_SIG:
            raise DownloadError(f"not a zip archive or corrupt (unexpected bytes {sig!r})")
        (_ver, flags, method, _time, _date, crc, csize, usize, nlen, xlen) = struct.unpack(
            "<HHHHHIIIHH", self._read_exact(26, "a zip header")
        )
        name = self._read_exact(nlen, "a zip member name").decode("utf-8", "replace")
        self._read_exact(xlen, "a zip extra field")
        if flags & _FLAG_ENCRYPTED:
            raise DownloadError(f"zip member {name} is encrypted")
        if 0xFFFFFFFF in (csize, usize):
            raise DownloadError(f"zip member {name} uses ZIP64 sizes, which are not supported")
        if method not in (_STORED, _DEFLATED):
            raise DownloadError(f"zip member {name} uses unsupported compression method {method}")
        if method == _STORED and flags & _FLAG_DESCRIPTOR:
            raise DownloadError(f"zip member {name} is stored with unknown size; cannot stream it")
        return ZipMember(name, flags, method, crc, csize, usize)

    def copy_member(self, member: ZipMember, sink: Callable[[bytes], None]) -> None:
        """Pass the member's uncompressed bytes to ``sink`` and check CRC-32 and size.

        Raises
        ------
        DownloadError
            If the data is corrupt, or its CRC-32 or size differ from the archive's.
        """
        crc, size = self._inflate(member, sink)
        if member.has_descriptor:
            self._read_descriptor(member)
        if (crc, size) != (member.crc, member.size):
            raise DownloadError(
                f"zip member {member.name} is corrupt: CRC-32 {crc:08x} and {size} bytes, "
                f"the archive says {member.crc:08x} and {member.size} bytes"
            )

    def skip_member(self, member: ZipMember) -> None:
        """Move past a member without keeping its data.

        A deflated member whose size is only in its data descriptor must still be
        decompressed to find where it ends.
        """
        if member.method == _STORED or not member.has_descriptor:
            for _chunk in self._raw_chunks(member):
                pass
        else:
            self._inflate(member, lambda _data: None)
            self._read_descriptor(member)

    def _raw_chunks(self, member: ZipMember):
        """Yield the member's ``compressed_size`` stored bytes as they arrive."""
        left = member.compressed_size
        while left:
            chunk = self._read_some(min(left, _CHUNK))
            if not chunk:
                raise DownloadError(f"zip archive ends inside member {member.name}")
            left -= len(chunk)
            yield chunk

    def _read_descriptor(self, member: ZipMember) -> None:
        head = self._read_exact(4, "a zip data descriptor")
        if head != _DESCRIPTOR_SIG:  # the signature is optional
            self._unread(head)
        member.crc, member.compressed_size, member.size = struct.unpack(
            "<III", self._read_exact(12, "a zip data descriptor")
        )

    def _inflate(self, member: ZipMember, sink: Callable[[bytes], None]) -> tuple[int, int]:
        """Pass the member's uncompressed bytes to ``sink``; return (crc32, size)."""
        crc, size = 0, 0

        def emit(data: bytes) -> None:
            nonlocal crc, size
            if data:
                crc = zlib.crc32(data, crc)
                size += len(data)
                sink(data)

        if member.method == _STORED:
            for chunk in self._raw_chunks(member):
                emit(chunk)
            return crc, size
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as zip stores it
        left = None if member.has_descriptor else member.compressed_size
        while not inflater.eof:
            want = _CHUNK if left is None else min(left, _CHUNK)
            chunk = self._read_some(want) if want else b""
            if not chunk:
                raise DownloadError(f"zip archive ends inside member {member.name}")
            if left is not None:
                left -= len(chunk)
            try:
                emit(inflater.decompress(chunk))
            except zlib.error as exc:
                raise DownloadError(f"zip member {member.name} is corrupt: {exc}") from None
        if inflater.unused_data:
            self._unread(inflater.unused_data)  # the start of whatever follows the member
        if left:
            self._read_exact(left, f"the end of member {member.name}")
        return crc, size
