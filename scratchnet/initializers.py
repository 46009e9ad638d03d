"""Weight initialisers, matching Keras's defaults so parameter statistics agree.

All take a ``numpy.random.Generator`` and return an array of the requested dtype,
drawn in float64 and cast once (so float32 and float64 models start from the
same numbers up to rounding).
"""

from __future__ import annotations

import numpy as np


def glorot_uniform(shape, fan_in: int, fan_out: int, rng: np.random.Generator, dtype):
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out)): Keras's default kernel init."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(shape, rng: np.random.Generator, dtype, gain: float = 1.0):
    """A (rows, cols) matrix with orthonormal rows or columns: Keras's recurrent init.

    QR of a Gaussian matrix, with the signs of R's diagonal folded into Q so the
    result is uniformly distributed over orthogonal matrices.
    """
    rows, cols = shape
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    # q.T is Fortran-ordered; kernels and in-place finite differences need C order.
    return np.ascontiguousarray(gain * q[:rows, :cols], dtype=dtype)


def zeros(shape, dtype):
    return np.zeros(shape, dtype=dtype)
