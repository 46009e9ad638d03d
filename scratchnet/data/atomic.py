"""Atomic file writes: a file under its final name is either absent or complete.

Data is written to a temporary file in the *same* folder (so that the final
``os.replace`` is a rename on one file system, which POSIX and Windows both make
atomic) and renamed over the final name only after it has been flushed and
fsynced. If anything fails, the temporary file is removed and the final name is
left untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def temp_path_for(path: str | os.PathLike[str], suffix: str = ".part") -> Path:
    """Return a fresh, unused temporary path next to ``path``.

    The name starts with a dot and ends in ``suffix`` so that a half-written
    file can never be mistaken for the real one by the data-file lookup.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a binary temporary file that replaces ``path`` atomically on success.

    Parameters
    ----------
    path
        The final file name. Its folder must exist.

    Yields
    ------
    BinaryIO
        A file object opened for binary writing. On a clean exit of the
        ``with`` block it is flushed, fsynced and renamed to ``path``; on an
        exception it is deleted and ``path`` is not touched.
    """
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates files as 0600; data files are meant to be shareable.
        # (Reading the umask needs os.umask, which races with other threads.)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
