"""numba kernels for the hot loops, each with a plain NumPy reference beside it.

Conventions, so every kernel reads the same way:

- ``foo`` is the numba kernel (``@njit(cache=True)``; ``parallel=True`` only over
  independent axes such as the batch, so no two iterations write one element);
- ``foo_reference`` is the plain NumPy version that defines what ``foo`` must compute,
  and ``tests/`` prove the two equal for float32 and float64;
- kernels take C-contiguous arrays of one float dtype and never allocate in a
  dtype other than their inputs'. Callers (the layers) validate shapes and dtypes, so
  bad input never reaches numba.

This package imports nothing else from scratchnet.
"""
