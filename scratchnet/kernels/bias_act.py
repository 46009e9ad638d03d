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
"""

import numpy as np
from numba import njit, prange

CHUNKS = 16  # partial sums for the bias gradient; fixed so results never depend on threads


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
    bounds = _chunk_bounds(a.shape[0])
    partial = np.stack([a[lo:hi].sum(axis=0) for lo, hi in zip(bounds[:-1], bounds[1:],
                                                                strict=True)])
    out[:] = partial.sum(axis=0)
    return out


def _chunk_bounds(rows):
    return [rows * k // CHUNKS for k in range(CHUNKS + 1)]


@njit(cache=True, parallel=True)
def bias_relu(z, b):
    """numba: z (P, F) <- max(z + b, 0) in place, parallel over rows."""
    zero = z.dtype.type(0)
    for i in prange(z.shape[0]):
        for j in range(z.shape[1]):
            v = z[i, j] + b[j]
            z[i, j] = v if v > zero else zero
    return z


@njit(cache=True, parallel=True)
def bias_add(z, b):
    """numba: z (P, F) <- z + b in place, parallel over rows."""
    for i in prange(z.shape[0]):
        for j in range(z.shape[1]):
            z[i, j] += b[j]
    return z


@njit(cache=True, parallel=True)
def relu_bias_backward(dy, y, dz, db):
    """numba: dz <- dy * [y > 0] and db <- column sums of dz, parallel over row chunks."""
    rows, cols = dy.shape
    partial = np.zeros((CHUNKS, cols), dtype=dz.dtype)
    zero = y.dtype.type(0)
    for k in prange(CHUNKS):
        for i in range(rows * k // CHUNKS, rows * (k + 1) // CHUNKS):
            for j in range(cols):
                g = dy[i, j] if y[i, j] > zero else zero
                dz[i, j] = g
                partial[k, j] += g
    _sum_partials(partial, db)
    return db


@njit(cache=True, parallel=True)
def column_sums(a, out):
    """numba: out (F,) <- a.sum(axis=0) for a (P, F), parallel over row chunks."""
    rows, cols = a.shape
    partial = np.zeros((CHUNKS, cols), dtype=out.dtype)
    for k in prange(CHUNKS):
        for i in range(rows * k // CHUNKS, rows * (k + 1) // CHUNKS):
            for j in range(cols):
                partial[k, j] += a[i, j]
    _sum_partials(partial, out)
    return out


@njit(cache=True)
def _sum_partials(partial, out):
    out[:] = 0
    for k in range(partial.shape[0]):
        for j in range(partial.shape[1]):
            out[j] += partial[k, j]
