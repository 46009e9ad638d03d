"""What the shards of one data-parallel training step share: sums over the whole batch.

Most layers treat each sample on its own, so the shards of a batch
(``scratchnet.parallel``) never need each other until their gradients are added. A
layer whose forward depends on the whole batch (BatchNormalization's mean and variance)
does: each shard's runner computes its partial sums, :meth:`ShardGroup.allreduce` waits
for every shard's, and hands each shard the same total, added in shard order. Results
therefore depend on the number of workers only through the order of float sums, and are
bit-identical run to run for a fixed number of workers.

Every shard of a step calls ``allreduce`` the same number of times, in the same order
(the layers run in the same order on every shard). When a shard fails, the engine calls
:meth:`ShardGroup.abort`, so no other shard waits forever for it.
"""

from __future__ import annotations

import threading

import numpy as np


class ShardGroup:
    """The ``shards`` concurrent shards of one training step.

    Parameters
    ----------
    shards : int
        How many threads will call :meth:`allreduce` each time.
    """

    def __init__(self, shards: int):
        self.shards = shards
        self._barrier = threading.Barrier(shards)
        self._parts: list = [None] * shards
        self.error: BaseException | None = None  # the failure that aborted the step

    def allreduce(self, shard: int, *parts: np.ndarray) -> tuple[np.ndarray, ...]:
        """Each part summed over the shards, in shard order; the same arrays' values on
        every shard. Blocks until every shard has contributed."""
        self._parts[shard] = parts
        self._barrier.wait()
        totals = tuple(np.array(p, copy=True) for p in self._parts[0])
        for other in self._parts[1:]:
            for total, p in zip(totals, other, strict=True):
                total += p
        # No shard may overwrite its part for the next allreduce while another still reads.
        self._barrier.wait()
        return totals

    def abort(self, error: BaseException) -> None:
        """Release every shard waiting in :meth:`allreduce`; they raise BrokenBarrierError."""
        if self.error is None:
            self.error = error
        self._barrier.abort()
