"""numba kernels for the hot loops, each with a plain NumPy reference beside it.

Conventions, so every kernel reads the same way:

- ``foo`` is the numba kernel (``@njit(cache=True, nogil=True)``; ``parallel=True`` only
  over independent axes such as the batch, so no two iterations write one element);
- a parallel kernel has a ``foo_serial`` twin with the same result, bit for bit, for
  calls too small for the thread pool and for callers that already own a core (the
  shards of a data-parallel step: see ``threads.py``). Every kernel releases the GIL,
  so two threads can run them at once;
- ``foo_reference`` is the plain NumPy version that defines what ``foo`` must compute,
  and ``tests/`` prove the two equal for float32 and float64;
- kernels take C-contiguous arrays of one float dtype and never allocate in a
  dtype other than their inputs'. Callers (the layers) validate shapes and dtypes, so
  bad input never reaches numba.

This package imports nothing else from scratchnet.
"""
