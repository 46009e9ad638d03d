"""Whether a kernel call may use numba's thread pool: decided per calling thread.

A data-parallel step (``scratchnet.parallel``) runs each shard of a batch on its own
Python thread, one per core. Those threads must run every kernel on their own core:
waking numba's pool from two threads at once would put four workers on two cores (and
numba's ``workqueue`` layer does not allow concurrent launches at all). So the shard
threads enter :func:`serial_kernels`, and each kernel's dispatcher asks :func:`use_pool`
before it runs the ``*_parallel`` kernel or its ``*_serial`` twin. The twins give
bit-identical results, so this changes only speed.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

_local = threading.local()


def use_pool(work: int = 1, threshold: int = 1) -> bool:
    """True if a kernel with ``work`` units (>= ``threshold``) may use the thread pool here."""
    return work >= threshold and not getattr(_local, "serial", False)


@contextmanager
def serial_kernels():
    """Inside this block, :func:`use_pool` is False for the calling thread only."""
    before = getattr(_local, "serial", False)
    _local.serial = True
    try:
        yield
    finally:
        _local.serial = before
