"""numba kernels for the hot loops, each with a plain NumPy reference beside it.

Conventions, so every kernel reads the same way:

- ``foo_parallel`` is the numba kernel (``@njit(cache=True, nogil=True, parallel=True)``),
  with ``prange`` only over independent axes such as the batch, so no two iterations
  write one element;
- ``foo_serial`` is its twin on the calling thread: the same per-row or per-sample code
  in a plain loop, so the same result bit for bit. Every kernel releases the GIL, so two
  threads can run them at once;
- ``foo`` is a plain Python dispatcher with the same arguments, and the one the layers
  call: it runs ``foo_parallel`` only when ``threads.use_pool`` allows it (the call is
  large enough to pay for waking the pool, and the calling thread does not already own a
  core, as a shard of a data-parallel step does), ``foo_serial`` otherwise;
- ``foo_reference`` is the plain NumPy definition of what ``foo`` computes. ``tests/``
  check every kernel against it to a stated tolerance, float32 and float64, NaN and inf
  included, and check the twins and the dispatcher against each other bit for bit;
- kernels take C-contiguous arrays of one float dtype and never allocate in a dtype
  other than their inputs'. Callers (the layers) validate shapes and dtypes, so bad
  input never reaches numba;
- no kernel uses a ``fastmath`` flag: results must not depend on whether numba compiled
  a kernel or loaded it from its cache (``lstm`` writes its fused multiply-adds out).

This package imports nothing else from scratchnet.
"""
