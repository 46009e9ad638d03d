"""SHA-256 verification of data files, cached so each file is hashed once.

Hashing a 29 MB archive costs tens of milliseconds, and the data folder may be
read-only (a shared mount), so the cache does not live next to the data: it is a
small JSON file in the user cache folder (see :func:`cache_dir`), keyed by the
file's real path, size, modification time, inode change time (ctime, in nanoseconds)
and inode number. The mtime alone is not enough: ``cp -p``, ``rsync -t`` and
``touch -r`` put an old mtime back on a rewritten file, but no user call can set the
ctime, and any write or ``utime`` moves it forward; a file replaced by another gets a
new inode. A file whose ctime is less than ``RACY_SECONDS`` old is hashed but not
cached: the kernel stamps times at a clock tick (milliseconds), so a rewrite within
the same tick could keep the same ctime (git's "racily clean" problem). If
the cache folder cannot be written either, verification results are kept in
memory for the life of the process.

Files whose official checksum is unknown (``sha256=None`` in the registry) are
not verified; :func:`verify_file` returns their actual hash so that callers can
report it, and the CLI lists them as "no official checksum".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from pathlib import Path

from .atomic import atomic_write
from .errors import ChecksumMismatchError

__all__ = [
    "sha256_file",
    "cache_dir",
    "VerificationCache",
    "get_cache",
    "verify_file",
    "cached_sha256",
    "mismatch_message",
]

_CACHE_FILE = "verified-sha256.json"
_CHUNK = 1 << 20
#: Files changed more recently than this are never cached (see the module docstring).
RACY_SECONDS = 2.0


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the lower-case hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def cache_dir() -> Path:
    """The per-user cache folder of scratchnet.

    ``$SCRATCHNET_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/scratchnet``, else
    ``~/.cache/scratchnet`` (``%LOCALAPPDATA%\\scratchnet`` on Windows).
    """
    if env := os.environ.get("SCRATCHNET_CACHE_DIR"):
        return Path(env).expanduser()
    if env := os.environ.get("XDG_CACHE_HOME"):
        return Path(env).expanduser() / "scratchnet"
    if os.name == "nt" and (env := os.environ.get("LOCALAPPDATA")):
        return Path(env) / "scratchnet"
    return Path.home() / ".cache" / "scratchnet"


def _key(path: Path) -> str:
    st = path.stat()
    return (f"{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"
            f"|{st.st_ino}")


def _racy(path: Path) -> bool:
    """Whether ``path`` changed so recently that another change could keep its ctime."""
    return time.time_ns() - path.stat().st_ctime_ns < RACY_SECONDS * 1e9


class VerificationCache:
    """A ``{path|size|mtime_ns|ctime_ns|inode: sha256}`` table, persisted as JSON when possible.

    Parameters
    ----------
    file
        JSON file to persist to, or None for a purely in-memory cache.
    """

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self._entries: dict[str, str] = {}
        self._loaded = False
        self._lock = threading.Lock()

    @property
    def persistent(self) -> bool:
        """False once the cache has fallen back to memory only."""
        return self.file is not None

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self.file is None:
            return
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # missing or corrupt cache: start empty, it is only a cache
        if isinstance(data, dict):
            self._entries.update({k: v for k, v in data.items() if isinstance(v, str)})

    def lookup(self, path: str | os.PathLike[str]) -> str | None:
        """The recorded SHA-256 of ``path`` as it is now, or None if not recorded."""
        with self._lock:
            self._load()
            return self._entries.get(_key(Path(path)))

    def record(self, path: str | os.PathLike[str], sha256: str) -> None:
        """Remember that ``path`` (as it is now) has hash ``sha256``; not if it just changed."""
        if _racy(Path(path)):
            return
        with self._lock:
            self._load()
            self._entries[_key(Path(path))] = sha256
            if self.file is None:
                return
            try:
                self.file.parent.mkdir(parents=True, exist_ok=True)
                # Merge with what other processes may have written meanwhile.
                with contextlib.suppress(OSError, ValueError):
                    on_disk = json.loads(self.file.read_text(encoding="utf-8"))
                    if isinstance(on_disk, dict):
                        self._entries = {**on_disk, **self._entries}
                with atomic_write(self.file) as fh:
                    fh.write(json.dumps(self._entries, indent=0, sort_keys=True).encode())
            except OSError:
                self.file = None  # not writable: keep verifying in memory only

    def clear(self) -> None:
        """Forget every entry, in memory and on disk."""
        with self._lock:
            self._entries.clear()
            self._loaded = True
            if self.file is not None:
                with contextlib.suppress(FileNotFoundError):
                    self.file.unlink()


_CACHES: dict[Path, VerificationCache] = {}


def get_cache() -> VerificationCache:
    """The cache for the current :func:`cache_dir` (one instance per folder)."""
    file = cache_dir() / _CACHE_FILE
    if file not in _CACHES:
        _CACHES[file] = VerificationCache(file)
    return _CACHES[file]


def cached_sha256(path: str | os.PathLike[str], cache: VerificationCache | None = None) -> str:
    """SHA-256 of ``path``, computed at most once per (path, size, mtime, ctime, inode)."""
    cache = get_cache() if cache is None else cache
    sha = cache.lookup(path)
    if sha is None:
        sha = sha256_file(path)
        cache.record(path, sha)
    return sha


def mismatch_message(path: str | os.PathLike[str], actual: str, expected: str) -> str:
    """Explain a checksum mismatch and what to do about it."""
    return (
        f"{os.fspath(path)} has SHA-256 {actual}, but the official file has {expected}.\n"
        "This means the file is not the official one: it may be truncated or corrupted "
        "(an interrupted copy or download), come from a different release or a repack, "
        "or have been modified. Training on it would silently give different results.\n"
        "Delete it and download it again (python -m scratchnet.data download NAME), or copy "
        "a verified file in its place; to use it anyway, pass verify=False."
    )


def verify_file(
    path: str | os.PathLike[str],
    expected: str | None,
    *,
    cache: VerificationCache | None = None,
) -> str:
    """Check ``path`` against its official SHA-256, using the verification cache.

    Parameters
    ----------
    path
        The file to check.
    expected
        Official lower-case hex SHA-256, or None when no official value is known
        (the file is then accepted and its actual hash returned).
    cache
        Defaults to :func:`get_cache`.

    Returns
    -------
    str
        The file's actual SHA-256.

    Raises
    ------
    ChecksumMismatchError
        If the hash differs from ``expected``.
    """
    actual = cached_sha256(path, cache)
    if expected is not None and actual != expected.lower():
        raise ChecksumMismatchError(mismatch_message(path, actual, expected))
    return actual
