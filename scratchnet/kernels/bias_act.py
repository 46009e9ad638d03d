"""Bias + activation, fused, for the layers that end in ``z = x W + b`` (Dense, Conv2D).

Done separately, ``z += b``, ``y = max(z, 0)``, the mask ``z > 0``, ``dz = dy * mask``
and ``db = dz.sum(0)`` are five passes over the layer's output; for the seed CNN's first
convolution that is 11 MB each. Here the forward is one pass and the backward one pass:

    forward:   y = max(z + b, 0)                 (in place over z; NaN stays NaN)
    backward:  dz = dy * [y > 0],  db = sum_rows dz

The mask is recovered from ``y`` (y > 0 exactly where z + b > 0), so nothing else is kept.
NaN and inf behave as in that NumPy: a NaN in z + b gives a NaN output (its mask is 0),
and ``dy * 0`` is NaN where dy is NaN or inf, so a non-finite value is never hidden.

Rows are split into a fixed number of chunks (not one per thread), each summed in order
into its own row of partial sums: parallel without races, and the result does not depend
on the thread count, so training stays bit-for-bit reproducible.

Each ``foo_parallel`` kernel has a ``foo_serial`` twin running the same chunk code on one
thread, bit for bit the same, and ``foo`` picks one of them: the twin for outputs below
``PARALLEL_MIN_ELEMENTS`` (waking the pool costs more than a Dense layer's whole
(128, 128) output takes) and on threads that already own a core. ``foo_reference`` is the
plain NumPy definition, equal to the kernels up to the order of the column sums.
"""

import numpy as np
from numba import njit, prange

from scratchnet.kernels.threads import use_pool

CHUNKS = 16  # partial sums for the bias gradient; fixed so results never depend on threads
PARALLEL_MIN_ELEMENTS = 1 << 16  # smaller outputs run the *_serial twins


def parallel_for(a) -> bool:
    """Whether an output as large as ``a`` is worth the thread pool (and may use it here)."""
    return use_pool(a.size, PARALLEL_MIN_ELEMENTS)


# -- NumPy references: the definitions --------------------------------------------------------
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
    """dz (P, F) <- dy * [y > 0];  db (F,) <- dz.sum(axis=0); returns db."""
    dz[...] = dy * (y > 0)
    db[...] = dz.sum(axis=0)
    return db


def column_sums_reference(a, out):
    """out (F,) <- a.sum(axis=0) for a (P, F); returns out."""
    out[...] = a.sum(axis=0)
    return out


# -- the work of one chunk of rows, shared by the parallel kernels and their twins -------------
@njit(cache=True, nogil=True, inline="always")
def _bias_relu_rows(z, b, k):
    zero = z.dtype.type(0)
    for i in range(z.shape[0] * k // CHUNKS, z.shape[0] * (k + 1) // CHUNKS):
        for j in range(z.shape[1]):
            v = z[i, j] + b[j]
            # max(v, 0) as np.maximum has it: "not v <= 0" keeps a NaN, "v > 0" would not.
            z[i, j] = zero if v <= zero else v


@njit(cache=True, nogil=True, inline="always")
def _bias_add_rows(z, b, k):
    for i in range(z.shape[0] * k // CHUNKS, z.shape[0] * (k + 1) // CHUNKS):
        for j in range(z.shape[1]):
            z[i, j] += b[j]


@njit(cache=True, nogil=True, inline="always")
def _relu_backward_rows(dy, y, dz, partial, k):
    zero, one = y.dtype.type(0), y.dtype.type(1)
    for i in range(dy.shape[0] * k // CHUNKS, dy.shape[0] * (k + 1) // CHUNKS):
        for j in range(dy.shape[1]):
            # A product with the mask, not a select, so a NaN or inf dy stays visible.
            g = dy[i, j] * (one if y[i, j] > zero else zero)
            dz[i, j] = g
            partial[k, j] += g


@njit(cache=True, nogil=True, inline="always")
def _column_sum_rows(a, partial, k):
    for i in range(a.shape[0] * k // CHUNKS, a.shape[0] * (k + 1) // CHUNKS):
        for j in range(a.shape[1]):
            partial[k, j] += a[i, j]


@njit(cache=True, nogil=True, inline="always")
def _sum_partials(partial, out):
    out[:] = 0
    for k in range(CHUNKS):
        for j in range(partial.shape[1]):
            out[j] += partial[k, j]


# -- parallel kernels (prange over chunks) and serial twins -----------------------------------
@njit(cache=True, nogil=True, parallel=True)
def bias_relu_parallel(z, b):
    """:func:`bias_relu` on numba's thread pool, parallel over row chunks."""
    for k in prange(CHUNKS):
        _bias_relu_rows(z, b, k)
    return z


@njit(cache=True, nogil=True)
def bias_relu_serial(z, b):
    """:func:`bias_relu` on the calling thread: bit-identical to :func:`bias_relu_parallel`."""
    for k in range(CHUNKS):
        _bias_relu_rows(z, b, k)
    return z


@njit(cache=True, nogil=True, parallel=True)
def bias_add_parallel(z, b):
    """:func:`bias_add` on numba's thread pool, parallel over row chunks."""
    for k in prange(CHUNKS):
        _bias_add_rows(z, b, k)
    return z


@njit(cache=True, nogil=True)
def bias_add_serial(z, b):
    """:func:`bias_add` on the calling thread: bit-identical to :func:`bias_add_parallel`."""
    for k in range(CHUNKS):
        _bias_add_rows(z, b, k)
    return z


@njit(cache=True, nogil=True, parallel=True)
def relu_bias_backward_parallel(dy, y, dz, db):
    """:func:`relu_bias_backward` on numba's thread pool, parallel over row chunks."""
    partial = np.zeros((CHUNKS, dy.shape[1]), dtype=dz.dtype)
    for k in prange(CHUNKS):
        _relu_backward_rows(dy, y, dz, partial, k)
    _sum_partials(partial, db)
    return db


@njit(cache=True, nogil=True)
def relu_bias_backward_serial(dy, y, dz, db):
    """:func:`relu_bias_backward` on the calling thread: bit-identical to the parallel kernel."""
    partial = np.zeros((CHUNKS, dy.shape[1]), dtype=dz.dtype)
    for k in range(CHUNKS):
        _relu_backward_rows(dy, y, dz, partial, k)
    _sum_partials(partial, db)
    return db


@njit(cache=True, nogil=True, parallel=True)
def column_sums_parallel(a, out):
    """:func:`column_sums` on numba's thread pool, parallel over row chunks."""
    partial = np.zeros((CHUNKS, a.shape[1]), dtype=out.dtype)
    for k in prange(CHUNKS):
        _column_sum_rows(a, partial, k)
    _sum_partials(partial, out)
    return out


@njit(cache=True, nogil=True)
def column_sums_serial(a, out):
    """:func:`column_sums` on the calling thread: bit-identical to :func:`column_sums_parallel`."""
    partial = np.zeros((CHUNKS, a.shape[1]), dtype=out.dtype)
    for k in range(CHUNKS):
        _column_sum_rows(a, partial, k)
    _sum_partials(partial, out)
    return out


# -- dispatchers: the pool only for large outputs, and only where the thread may use it --------
def bias_relu(z, b):
    """z (P, F) <- max(z + b, 0) in place, for C-contiguous z and b (F,) of one dtype; returns z."""
    kernel = bias_relu_parallel if parallel_for(z) else bias_relu_serial
    return kernel(z, b)


def bias_add(z, b):
    """z (P, F) <- z + b in place; returns z."""
    return (bias_add_parallel if parallel_for(z) else bias_add_serial)(z, b)


def relu_bias_backward(dy, y, dz, db):
    """dz (P, F) <- dy * [y > 0] and db (F,) <- dz.sum(axis=0), for y a ReLU output; returns db."""
    kernel = relu_bias_backward_parallel if parallel_for(dy) else relu_bias_backward_serial
    return kernel(dy, y, dz, db)


def column_sums(a, out):
    """out (F,) <- a.sum(axis=0) for a (P, F), in a fixed chunk order; returns out."""
    return (column_sums_parallel if parallel_for(a) else column_sums_serial)(a, out)
