"""Data parallelism inside one process: a batch cut into shards, one per core.

Why. A training step is a chain of GEMMs and elementwise kernels. Run on the whole
batch, each op hands both cores back and forth between OpenBLAS's and numba's thread
pools, and the small ops cannot fill two cores at all. Cut the batch in two instead,
and let each core run its half start to finish on one thread: nothing waits for a
pool, and each half's buffers fit its core's cache better (measured: benchmarks/README.md,
"Data parallelism and the fast Conv2D's sizes").

How the fast engine runs a training step on S workers (``scratchnet.fast.engine``):

1. the batch is cut into S contiguous shards whose sizes differ by at most one;
2. every layer that uses random numbers (Dropout) draws them for the whole batch, in
   batch order, exactly as it would unsharded (``Runner.draw``);
3. shard k runs forward, loss and backward on its own set of runners
   (``scratchnet.fast.runner``): they share the layers' ``params``, have their own
   ``grads`` and caches, and take their rows of the draws;
4. each shard's loss gradient is divided by the size of the whole batch, so the
   shards' grads, summed in shard order into the layers' own ``grads``, are the
   gradient of the whole batch's mean loss.

Inference cuts a batch the same way, and each shard goes through the model in the
model's inference chunks.

Inside a shard every kernel runs serially (``kernels.threads.serial_kernels``) and BLAS
on one thread (``scratchnet.blas``): the shards already fill the cores.

Reproducibility: the dropout masks depend on the seed alone, not on the number of
workers, so one and two workers run the same training up to float rounding (the
shards' GEMMs and the gradient sum add in another order). A seed gives bit-identical
weights for a fixed number of workers (by default numba's thread count, i.e. the
cores). :func:`set_workers` fixes it; ``set_workers(1)`` turns data parallelism off.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait

import numba
import numpy as np

from scratchnet import blas
from scratchnet.kernels.threads import serial_kernels

#: Fewest samples per shard. Below it a batch runs whole: a shard of a handful of
#: samples costs more in thread hand-offs than it saves.
MIN_SHARD = 8

_workers: int | None = None  # None: numba's thread count
_pool: ThreadPoolExecutor | None = None
_pool_threads = 0


def set_workers(n: int | None) -> None:
    """Use ``n`` shards per batch (1: no data parallelism; None: numba's thread count)."""
    global _workers
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"workers must be a positive integer or None, got {n!r}")
    _workers = None if n is None else int(n)


def workers() -> int:
    """The number of shards a large enough batch is cut into."""
    # numba.config.NUMBA_NUM_THREADS, not numba.get_num_threads(): the latter starts numba's
    # thread pool (its OpenMP runtime), whose threads then compete with other libraries'
    # (PyTorch's LSTM training ran at 55% beside them) although no shard ever uses them.
    return numba.config.NUMBA_NUM_THREADS if _workers is None else _workers


def shard_bounds(n: int) -> list[int] | None:
    """Bounds ``[0, ..., n]`` of the shards of an n-sample batch, or None to run it whole."""
    s = workers()
    if s < 2 or n < s * MIN_SHARD or not blas.controllable():
        return None
    return [n * k // s for k in range(s + 1)]


def _executor(threads: int) -> ThreadPoolExecutor:
    """One process-wide pool for shards 1..S-1 (shard 0 runs in the calling thread)."""
    global _pool, _pool_threads
    if _pool is None or _pool_threads < threads:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scratchnet-shard")
        _pool_threads = threads
    return _pool


def run_shards(bounds, replica_sets, fn, *arrays) -> list:
    """``[fn(replica_sets[k], *(a[lo_k:hi_k] for a in arrays)) for each shard k]``, at once.

    ``replica_sets[k]`` is whatever shard k works on (the fast engine's runners).

    An array may be None, and is passed on as None.

    Shard 0 runs in the calling thread, the others in the shard pool; all of them with
    serial kernels and single-threaded BLAS. Every shard has finished when this returns,
    also when one of them raised (the first error is re-raised).
    """

    def one(k):
        lo, hi = bounds[k], bounds[k + 1]
        with serial_kernels():
            return fn(replica_sets[k], *(None if a is None else a[lo:hi] for a in arrays))

    shards = len(bounds) - 1
    pool = _executor(shards - 1)
    with blas.single_threaded():
        futures = [pool.submit(one, k) for k in range(1, shards)]
        try:
            first = one(0)
        finally:
            # No shard may outlive single-threaded BLAS: a Ctrl-C (a second one, see
            # scratchnet.interrupt) waits for the shards before it propagates.
            interrupted = None
            while True:
                try:
                    wait(futures)
                    break
                except KeyboardInterrupt as err:
                    interrupted = err
            if interrupted is not None:
                raise interrupted
        return [first, *(f.result() for f in futures)]  # re-raises a shard's error
