"""The BLAS library's thread count, read and set while the process runs.

A data-parallel step (``scratchnet.parallel``) gives each core its own shard of the
batch, so every GEMM inside it must run on one thread: two shards each calling a
multi-threaded BLAS at once oversubscribe the cores (measured: benchmarks/README.md,
"Data parallelism and the fast Conv2D's sizes").

NumPy has no API for this. NumPy's wheels ship OpenBLAS, whose C API can set the count
(``openblas_set_num_threads``; the scipy-openblas build NumPy uses prefixes and
suffixes the names). On Linux the OpenBLAS libraries loaded in this process are listed
in ``/proc/self/maps``; ctypes opens them again (the loader hands back the library
already loaded) and calls that API. The setting is process-wide (OpenBLAS's
``openblas_set_num_threads_local`` is not thread-local in its pthreads builds), so a
GEMM that another thread of the program runs during a sharded step gets one thread too.

Anywhere else (macOS's Accelerate, MKL, no /proc) :func:`controllable` is False and
scratchnet keeps its single-process path, where BLAS threads itself.
"""

from __future__ import annotations

import ctypes
import os
import threading
from contextlib import contextmanager
from functools import cache

# The names of OpenBLAS's setter and getter across its builds: plain, 64-bit-integer
# ("64_" suffix) and the scipy-openblas wheels NumPy ships ("scipy_" prefix).
_NAMES = [(f"{p}openblas_set_num_threads{s}", f"{p}openblas_get_num_threads{s}")
          for p in ("scipy_", "") for s in ("64_", "")]
_lock = threading.Lock()


class _OpenBLAS:
    """One loaded OpenBLAS library's thread-count setter and getter."""

    def __init__(self, path: str, setter, getter):
        self.path, self._set, self._get = path, setter, getter
        self._set.argtypes, self._set.restype = [ctypes.c_int], None
        self._get.argtypes, self._get.restype = [], ctypes.c_int

    def get(self) -> int:
        return int(self._get())

    def set(self, n: int) -> None:
        self._set(int(n))


def _mapped_libraries(maps="/proc/self/maps") -> list[str]:
    """Paths of the shared objects named like OpenBLAS that this process has mapped."""
    try:
        with open(maps) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    # address perms offset dev inode [path]: only lines with a path have six fields
    paths = {parts[5] for parts in (line.split(maxsplit=5) for line in lines)
             if len(parts) == 6}
    return sorted(p for p in paths if "openblas" in os.path.basename(p).lower()
                  and os.path.isfile(p))


@cache
def libraries() -> tuple[_OpenBLAS, ...]:
    """Every OpenBLAS loaded in this process whose thread count can be set (after NumPy)."""
    import numpy  # noqa: F401  (NumPy loads its OpenBLAS on import)

    found = []
    for path in _mapped_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _NAMES:
            if hasattr(lib, set_name) and hasattr(lib, get_name):
                found.append(_OpenBLAS(path, getattr(lib, set_name), getattr(lib, get_name)))
                break
    return tuple(found)


def controllable() -> bool:
    """Whether scratchnet can set the BLAS thread count in this process."""
    return bool(libraries())


def threads() -> int | None:
    """The thread count of the first controllable BLAS, or None if there is none."""
    libs = libraries()
    return libs[0].get() if libs else None


@contextmanager
def single_threaded():
    """Run the block with every controllable BLAS on one thread, then restore the counts.

    A no-op where the thread count cannot be set. The change is process-wide, so a lock
    keeps two such blocks (two models trained from two threads) from interleaving.
    """
    libs = libraries()
    with _lock:
        before = [lib.get() for lib in libs]
        for lib in libs:
            lib.set(1)
        try:
            yield
        finally:
            for lib, n in zip(libs, before, strict=True):
                lib.set(n)
