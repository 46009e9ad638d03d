"""Verified downloads: single files from mirrors, and members streamed out of a zip.

Guarantees
----------
* Every request has a timeout, and every loop over URLs and retries is bounded.
* Bytes go to a hidden ``.<name>.part`` file next to the destination; the final
  name appears (by ``os.replace``) only after the whole file has been received
  and its SHA-256 matches. A file that fails verification is deleted.
* A dropped connection is resumed with an HTTP ``Range`` request from the last
  byte received, both within one call and, for single files, across calls (the
  ``.part`` file is kept after a network failure so the next attempt continues
  it). Servers that ignore ``Range`` are handled by re-reading and skipping.
* EMNIST comes from NIST's ``gzip.zip`` (about 562 MB) without keeping a copy of
  it: the archive is read as a stream, only the requested members are
  decompressed to disk, each is checked against the zip's CRC-32 and size and
  against its official SHA-256, and the stream is closed as soon as every
  requested member is done.

Only the standard library's ``urllib`` is used (no ``requests``), with a tqdm
progress bar showing bytes and rate.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .errors import ChecksumMismatchError, DownloadError
from .zipstream import ZipMember, ZipStream

__all__ = [
    "DownloadOptions",
    "ResumableStream",
    "download_file",
    "extract_zip_members",
    "part_path",
]

USER_AGENT = "scratchnet-data/0.1 (Python urllib)"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class DownloadOptions:
    """How patiently to download.

    Attributes
    ----------
    timeout
        Seconds to wait for a connection or for any single read.
    retries
        How many times one URL is re-requested after a network failure before the
        next URL is tried (so each URL gets at most ``retries + 1`` requests).
    backoff
        Seconds before the first retry; doubled for each further retry.
    progress
        Show a tqdm progress bar (bytes and rate) on stderr.
    """

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    progress: bool = True


# Errors after which asking again may help (as opposed to e.g. a 404).
_TRANSIENT = (
    TimeoutError,
    ConnectionError,
    http.client.IncompleteRead,
    http.client.BadStatusLine,
    urllib.error.URLError,
)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in (408, 425, 429) or exc.code >= 500
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, socket.gaierror):
        return False  # no DNS (typically offline): retrying the same host will not help
    return isinstance(exc, _TRANSIENT)


def _is_network_error(exc: BaseException) -> bool:
    """True for failures of one URL after which the next mirror should be tried."""
    return isinstance(exc, _TRANSIENT)  # includes HTTPError, a subclass of URLError


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot connect ({exc.reason})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


def _rejected(what: str, source: str, actual: str, expected: str) -> str:
    return (
        f"{what} from {source} has SHA-256 {actual}, but the official file has {expected}: "
        "what was received is not the official file (a broken or stale mirror, an error "
        "page, or a truncated transfer), so it was deleted"
    )


def part_path(dest: Path) -> Path:
    """The hidden partial-download file for ``dest`` (never matched by file lookup)."""
    return dest.with_name(f".{dest.name}.part")


class ResumableStream:
    """A read-only binary stream over an HTTP(S) URL that survives dropped connections.

    When the connection fails or ends before ``Content-Length`` bytes, the stream
    reconnects (at most ``options.retries`` times, with exponential backoff) and
    asks for the remaining bytes with ``Range: bytes=<pos>-``. If the server
    answers ``200`` instead of ``206``, the bytes already seen are skipped.

    Parameters
    ----------
    url
        The resource.
    options
        Timeouts, retries and backoff.
    start
        Byte offset to start at (to continue a ``.part`` file).
    on_bytes
        Called with the number of bytes after every read (drives the progress bar);
        may be set after construction, once the total size is known.
    """

    def __init__(
        self,
        url: str,
        options: DownloadOptions,
        start: int = 0,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.url = url
        self.options = options
        self.pos = start
        self.total: int | None = None
        self.range_supported: bool | None = None
        self.on_bytes = on_bytes
        self._retries_left = options.retries
        self._delay = options.backoff
        self._resp: http.client.HTTPResponse | None = None
        self._connect_with_retries()

    # -- connection handling ----------------------------------------------------------
    def _connect(self) -> None:
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if self.pos:
            headers["Range"] = f"bytes={self.pos}-"
        req = urllib.request.Request(self.url, headers=headers)
        resp = urllib.request.urlopen(req, timeout=self.options.timeout)
        length = resp.headers.get("Content-Length")
        if self.pos and resp.status == 206:
            self.range_supported = True
            # "bytes START-END/TOTAL": make sure the server resumes where we stopped.
            crange = resp.headers.get("Content-Range", "")
            first = crange.removeprefix("bytes ").split("-", 1)[0]
            if not first.isdigit() or int(first) != self.pos:
                resp.close()
                raise ConnectionError(
                    f"asked to resume at byte {self.pos}, the server sent {crange!r}"
                )
            total = crange.rsplit("/", 1)[-1]
            if total.isdigit():
                self.total = int(total)
            elif length is not None:
                self.total = self.pos + int(length)
        else:
            if self.pos:
                self.range_supported = False
            self.total = int(length) if length is not None else None
            # The server sent the whole resource: drop what we already have.
            to_skip = self.pos
            while to_skip:
                chunk = resp.read(min(to_skip, _CHUNK))
                if not chunk:
                    raise http.client.IncompleteRead(b"", to_skip)
                to_skip -= len(chunk)
        self._resp = resp

    def _connect_with_retries(self, first_error: BaseException | None = None) -> None:
        error = first_error
        while True:
            if error is not None:
                if not _is_transient(error) or self._retries_left <= 0:
                    raise error
                self._retries_left -= 1
                time.sleep(self._delay)
                self._delay *= 2
            try:
                self._connect()
                return
            except Exception as exc:  # classified by _is_transient above
                self._close_response()
                error = exc

    def _close_response(self) -> None:
        if self._resp is not None:
            with contextlib.suppress(Exception):
                self._resp.close()
            self._resp = None

    # -- file-like interface ----------------------------------------------------------
    def read(self, n: int = _CHUNK) -> bytes:
        """Read up to ``n`` bytes; ``b""`` only at the true end of the resource."""
        while True:
            try:
                if self._resp is None:
                    raise ConnectionResetError("connection lost")
                chunk = self._resp.read(n)
                if not chunk and self.total is not None and self.pos < self.total:
                    raise http.client.IncompleteRead(b"", self.total - self.pos)
            except Exception as exc:
                self._close_response()
                self._connect_with_retries(exc)
                continue
            self.pos += len(chunk)
            if self.on_bytes is not None and chunk:
                self.on_bytes(len(chunk))
            return chunk

    def close(self) -> None:
        """Close the connection."""
        self._close_response()

    def __enter__(self) -> ResumableStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _progress_bar(desc: str, total: int | None, initial: int, options: DownloadOptions) -> tqdm:
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not options.progress,
        leave=False,
        dynamic_ncols=True,
    )


def _fetch_one(url: str, dest: Path, sha256: str | None, options: DownloadOptions) -> None:
    """Download ``url`` into ``dest`` via its ``.part`` file; see :func:`download_file`."""
    part = part_path(dest)
    start = part.stat().st_size if part.exists() else 0
    digest = hashlib.sha256()
    if start:
        with open(part, "rb") as fh:  # hash what an earlier attempt already received
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    # If the server ignores Range, the stream skips the bytes we already have, so
    # appending to the part file is right either way. The bar appears only once the
    # server has answered, so failures print no empty bars.
    try:
        stream = ResumableStream(url, options, start=start)
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not start:
            raise
        # "Range not satisfiable": an earlier run received every byte but stopped
        # before verifying. Verify the part file as it is; if it is bad, start over.
        stream = None
    if stream is None:
        if sha256 is None or digest.hexdigest() == sha256.lower():
            os.replace(part, dest)
            return
        part.unlink()
        _fetch_one(url, dest, sha256, options)
        return
    with stream:
        with _progress_bar(dest.name, stream.total, start, options) as bar:
            stream.on_bytes = bar.update
            with open(part, "ab") as out:
                while chunk := stream.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                out.flush()
                os.fsync(out.fileno())
    actual = digest.hexdigest()
    if sha256 is not None and actual != sha256.lower():
        part.unlink(missing_ok=True)
        raise ChecksumMismatchError(_rejected(dest.name, url, actual, sha256))
    os.replace(part, dest)


def download_file(
    urls: Iterable[str],
    dest: str | os.PathLike[str],
    sha256: str | None,
    options: DownloadOptions | None = None,
) -> Path:
    """Download one file, trying each URL in turn, and verify it.

    Parameters
    ----------
    urls
        Mirrors of the same file, tried in order.
    dest
        Final path. Its folder must exist and be writable.
    sha256
        Official hex SHA-256, or None to accept any content (not recommended).
    options
        See :class:`DownloadOptions`.

    Returns
    -------
    pathlib.Path
        ``dest``, which now holds the verified file.

    Raises
    ------
    DownloadError
        If every URL failed; the message lists each URL with its reason. A
        ``.part`` file left by a network failure is resumed by the next call;
        one that failed verification has been deleted.
    """
    dest = Path(dest)
    options = options or DownloadOptions()
    failures: list[str] = []
    for url in urls:
        try:
            _fetch_one(url, dest, sha256, options)
            return dest
        except ChecksumMismatchError as exc:
            failures.append(f"{url}: rejected, {exc}")
        except Exception as exc:
            if not _is_network_error(exc):
                raise
            failures.append(f"{url}: {_describe(exc)}")
            if isinstance(exc, urllib.error.HTTPError):
                # An error page is not part of the file: do not resume from it.
                part_path(dest).unlink(missing_ok=True)
    raise DownloadError(f"could not download {dest.name}:\n  " + "\n  ".join(failures))


# --- zip archives --------------------------------------------------------------------------
def _stream_members(
    url: str,
    wanted: Mapping[str, tuple[Path, str | None]],
    done: set[str],
    options: DownloadOptions,
) -> None:
    with ResumableStream(url, options) as stream:
        with _progress_bar(Path(url).name or url, stream.total, 0, options) as bar:
            stream.on_bytes = bar.update
            archive = ZipStream(stream)
            while len(done) < len(wanted):
                member = archive.next_member()
                if member is None:
                    break
                target = wanted.get(member.name)
                if target is None or member.name in done:
                    archive.skip_member(member)
                    continue
                _extract_member(archive, member, *target, source=url)
                done.add(member.name)
    missing = sorted(set(wanted) - done)
    if missing:
        raise DownloadError(f"{url} does not contain {', '.join(missing)}")


def _extract_member(
    archive: ZipStream, member: ZipMember, dest: Path, sha256: str | None, *, source: str
) -> None:
    """Write one member to ``dest`` via a ``.part`` file, checking CRC-32, size and SHA-256."""
    part = part_path(dest)
    digest = hashlib.sha256()
    try:
        with open(part, "wb") as out:

            def sink(data: bytes) -> None:
                out.write(data)
                digest.update(data)

            archive.copy_member(member, sink)  # raises if CRC-32 or size disagree
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256.lower():
            raise ChecksumMismatchError(_rejected(member.name, source, actual, sha256))
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def extract_zip_members(
    urls: Iterable[str],
    members: Mapping[str, tuple[str | os.PathLike[str], str | None]],
    options: DownloadOptions | None = None,
) -> list[Path]:
    """Stream a remote zip archive and keep only the requested, verified members.

    Parameters
    ----------
    urls
        Mirrors of the archive, tried in order.
    members
        ``{member name in the archive: (destination path, official SHA-256 or None)}``.
        A member without an official SHA-256 is checked against the archive's
        CRC-32 and size only.
    options
        See :class:`DownloadOptions`.

    Returns
    -------
    list of pathlib.Path
        The destinations, in the order of ``members``.

    Raises
    ------
    DownloadError
        If some member could not be obtained from any URL; the message gives
        each URL's reason. Members already verified and moved into place are kept.
    """
    options = options or DownloadOptions()
    wanted = {m: (Path(d), s) for m, (d, s) in members.items()}
    done: set[str] = set()
    failures: list[str] = []
    for url in urls:
        try:
            _stream_members(url, wanted, done, options)
            return [dest for dest, _ in wanted.values()]
        except (ChecksumMismatchError, DownloadError) as exc:
            failures.append(f"{url}: {exc}")
        except Exception as exc:
            if not _is_network_error(exc):
                raise
            failures.append(f"{url}: {_describe(exc)}")
    names = ", ".join(sorted(set(wanted) - done))
    raise DownloadError(f"could not extract {names}:\n  " + "\n  ".join(failures))
