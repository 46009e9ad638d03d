"""Bias + activation, fused, for the layers that end in ``z = x W + b`` (Dense, Conv2D).

Done separately, ``z += b``, ``y = max(z, 0)``, the mask ``z > 0``, ``dz = dy * mask``
and ``db = dz.sum(0)`` are five passes over the layer's output; for the seed CNN's first
convolution that is 11 MB each. Here the forward is one pass and the backward one pass:

    forward:   y = max(z + b, 0)                 (in place over z)
    backward:  dz = dy * [y > 0],  db = sum_rows dz

The mask is recovered from ``y`` (y > 0 exactly where z + b > 0), so nothing else is kept.

Rows are split into a fixed number of chunks (not one per thread), each summed in order
into its own row of partial sums: parallel without races, and the result does not depend
on the thread count, so training stays bit-for-bit reproducible.

Every kernel has a ``*_serial`` twin running the same chunk code on one thread. Waking
the thread pool costs tens of microseconds, more than a Dense layer's whole (128, 128)
output takes, so ``parallel_for(a)`` sends arrays below ``PARALLEL_MIN_ELEMENTS`` to the
twins. Both give bit-identical results.
"""

import numpy as np
from numba import njit, prange

from scratchnet.kernels.threads import use_pool

CHUNKS = 16  # partial sums for the bias gradient; fixed so results never depend on threads
PARALLEL_MIN_ELEMENTS = 1 << 16  # smaller outputs run the *_serial twins


def parallel_for(a) -> bool:
    """Whether an output as large as ``a`` is worth the thread pool (and may use it here)."""
    return use_pool(a.size, PARALLEL_MIN_ELEMENTS)


# -- NumPy references -------------------------------------------------------------------------
def bias_relu_reference(z, b):
    """z (P, F) <- max(z + b, 0), in place; returns z."""
    z += b
    np.maximum(z, 0, out=z)
    return z


def bias_add_reference(z, b):
    """z (P, F) <- z + b, in place; returns z."""
    z += b
    return z


def relu_bias_backward_reference(dy, y, dz, db):
    """dz (P, F) <- dy * [y > 0];  db (F,) <- column sums of dz, in the kernel's chunk order."""
    np.multiply(dy, y > 0, out=dz)
    return column_sums_reference(dz, db)


def column_sums_reference(a, out):
    """out (F,) <- a.sum(axis=0), summed chunk by chunk as ``column_sums`` does."""
    bounds = [a.shape[0] * k // CHUNKS for k in range(CHUNKS + 1)]
    partial = np.stack([a[lo:hi].sum(axis=0) for lo, hi in zip(bounds[:-1], bounds[1:],
                                                                strict=True)])
    out[:] = partial.sum(axis=0)
    return out


# -- the work of one chunk of rows, shared by the parallel kernels and their twins -------------
@njit(cache=True, nogil=True)
def _bias_relu_rows(z, b, k):
    zero = z.dtype.type(0)
    for i in range(z.shape[0] * k // CHUNKS, z.shape[0] * (k + 1) // CHUNKS):
        for j in range(z.shape[1]):
            v = z[i, j] + b[j]
            z[i, j] = v if v > zero else zero


@njit(cache=True, nogil=True)
def _bias_add_rows(z, b, k):
    for i in range(z.shape[0] * k // CHUNKS, z.shape[0] * (k + 1) // CHUNKS):
        for j in range(z.shape[1]):
            z[i, j] += b[j]


@njit(cache=True, nogil=True)
def _relu_backward_rows(dy, y, dz, partial, k):
    zero = y.dtype.type(0)
    for i in range(dy.shape[0] * k // CHUNKS, dy.shape[0] * (k + 1) // CHUNKS):
        for j in range(dy.shape[1]):
            g = dy[i, j] if y[i, j] > zero else zero
            dz[i, j] = g
            partial[k, j] += g


@njit(cache=True, nogil=True)
def _column_sum_rows(a, partial, k):
    for i in range(a.shape[0] * k // CHUNKS, a.shape[0] * (k + 1) // CHUNKS):
        for j in range(a.shape[1]):
            partial[k, j] += a[i, j]


@njit(cache=True, nogil=True)
def _sum_partials(partial, out):
    out[:] = 0
    for k in range(CHUNKS):
        for j in range(partial.shape[1]):
            out[j] += partial[k, j]


# -- parallel kernels (prange over chunks) and serial twins -----------------------------------
@njit(cache=True, nogil=True, parallel=True)
def bias_relu(z, b):
    """numba: z (P, F) <- max(z + b, 0) in place, parallel over row chunks."""
    for k in prange(CHUNKS):
        _bias_relu_rows(z, b, k)
    return z


@njit(cache=True, nogil=True)
def bias_relu_serial(z, b):
    for k in range(CHUNKS):
        _bias_relu_rows(z, b, k)
    return z


@njit(cache=True, nogil=True, parallel=True)
def bias_add(z, b):
    """numba: z (P, F) <- z + b in place, parallel over row chunks."""
    for k in prange(CHUNKS):
        _bias_add_rows(z, b, k)
    return z


@njit(cache=True, nogil=True)
def bias_add_serial(z, b):
    for k in range(CHUNKS):
        _bias_add_rows(z, b, k)
    return z


@njit(cache=True, nogil=True, parallel=True)
def relu_bias_backward(dy, y, dz, db):
    """numba: dz <- dy * [y > 0] and db <- column sums of dz, parallel over row chunks."""
    partial = np.zeros((CHUNKS, dy.shape[1]), dtype=dz.dtype)
    for k in prange(CHUNKS):
        _relu_backward_rows(dy, y, dz, partial, k)
    _sum_partials(partial, db)
    return db


@njit(cache=True, nogil=True)
def relu_bias_backward_serial(dy, y, dz, db):
    partial = np.zeros((CHUNKS, dy.shape[1]), dtype=dz.dtype)
    for k in range(CHUNKS):
        _relu_backward_rows(dy, y, dz, partial, k)
    _sum_partials(partial, db)
    return db


@njit(cache=True, nogil=True, parallel=True)
def column_sums(a, out):
    """numba: out (F,) <- a.sum(axis=0) for a (P, F), parallel over row chunks."""
    partial = np.zeros((CHUNKS, a.shape[1]), dtype=out.dtype)
    for k in prange(CHUNKS):
        _column_sum_rows(a, partial, k)
    _sum_partials(partial, out)
    return out


@njit(cache=True, nogil=True)
def column_sums_serial(a, out):
    partial = np.zeros((CHUNKS, a.shape[1]), dtype=out.dtype)
    for k in range(CHUNKS):
        _column_sum_rows(a, partial, k)
    _sum_partials(partial, out)
    return out
