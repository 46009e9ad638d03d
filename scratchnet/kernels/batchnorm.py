"""Batch normalization over the rows of an (M, C) matrix: statistics per column (channel).

The fast BatchNormalization (``scratchnet.fast.batchnorm``) runs four kernels:

    batchnorm_moments      s1[c] = sum_r (x[r,c] - center[c]),  s2[c] = sum_r (x[r,c] - center[c])^2
    batchnorm_normalize    y = (x - mean) inv_std gamma + beta
    batchnorm_grad_sums    s1[c] = sum_r dy[r,c],  s2[c] = sum_r dy[r,c] x_hat[r,c]
    batchnorm_input_grad   dx = gamma inv_std / m (m dy - s_dy - x_hat s_dyxhat)

The sums are split from the elementwise passes so that a data-parallel step can add the
shards' partial sums (the whole batch's statistics) between them. They accumulate in
float64 arrays the caller passes in, whatever the input's dtype: a float32 sum over the
86,528 positions of a conv's channel would lose four digits. ``batchnorm_input_grad`` is
the collapsed form of the reference's full backward (``scratchnet.reference.batchnorm``);
the two are equal in exact arithmetic, and the tests hold them to a stated tolerance.

Each ``foo_parallel`` splits independent work over numba's pool: fixed chunks of rows,
each summing into its own float64 partials (added in chunk order afterwards) for the
sums, or writing its own rows for the elementwise passes. ``foo_serial`` runs the same
chunk code in a plain loop (bit for bit the same), ``foo`` picks one with ``use_pool``,
``foo_reference`` is plain NumPy.
NaN and inf propagate as in the references (no fastmath).
"""

import numpy as np
from numba import njit, prange

from scratchnet.kernels.threads import use_pool

ROW_CHUNKS = 16  # fixed row chunks: results never depend on the thread count
PARALLEL_MIN_ELEMENTS = 1 << 16  # smaller inputs run the *_serial twins


# -- NumPy references: the definitions --------------------------------------------------------
def batchnorm_moments_reference(x, center, s1, s2):
    """s1 (C,) <- sum over rows of (x - center), s2 (C,) <- of (x - center)^2 (float64)."""
    d = x.astype(np.float64) - center
    s1[...] = d.sum(axis=0)
    s2[...] = (d * d).sum(axis=0)


def batchnorm_normalize_reference(x, mean, inv_std, gamma, beta, y):
    """y (M, C) <- (x - mean) inv_std gamma + beta."""
    y[...] = (x - mean) * inv_std * gamma + beta


def batchnorm_grad_sums_reference(dy, x, mean, inv_std, s1, s2):
    """s1 (C,) <- sum over rows of dy, s2 (C,) <- of dy x_hat (float64)."""
    x_hat = (x.astype(np.float64) - mean) * inv_std
    s1[...] = dy.sum(axis=0, dtype=np.float64)
    s2[...] = (dy * x_hat).sum(axis=0)


def batchnorm_input_grad_reference(dy, x, mean, inv_std, gamma, s1, s2, m, dx):
    """dx (M, C) <- gamma inv_std / m (m dy - s1 - x_hat s2), x_hat = (x - mean) inv_std."""
    x_hat = (x - mean) * inv_std
    dx[...] = gamma * inv_std / m * (m * dy - s1 - x_hat * s2)


# -- chunk bodies shared by each parallel kernel and its serial twin ---------------------------
# The sums split the rows into ROW_CHUNKS fixed chunks; each chunk adds its rows in order
# into its own row of float64 partial sums (the inner loop runs along the channels, so it
# vectorizes), and the partials are added in chunk order. No two chunks write one value,
# and the result does not depend on the thread count.
@njit(cache=True, nogil=True, inline="always")
def _moments_chunk(x, center, p1, p2, k):
    lo, hi = x.shape[0] * k // ROW_CHUNKS, x.shape[0] * (k + 1) // ROW_CHUNKS
    a1, a2 = p1[k], p2[k]
    a1[:] = 0.0
    a2[:] = 0.0
    for r in range(lo, hi):
        row = x[r]
        for c in range(row.size):
            d = np.float64(row[c]) - center[c]
            a1[c] += d
            a2[c] += d * d


@njit(cache=True, nogil=True, inline="always")
def _grad_sums_chunk(dy, x, mean, inv_std, p1, p2, k):
    lo, hi = x.shape[0] * k // ROW_CHUNKS, x.shape[0] * (k + 1) // ROW_CHUNKS
    a1, a2 = p1[k], p2[k]
    a1[:] = 0.0
    a2[:] = 0.0
    for r in range(lo, hi):
        row, grow = x[r], dy[r]
        for c in range(row.size):
            g = np.float64(grow[c])
            a1[c] += g
            a2[c] += g * ((np.float64(row[c]) - mean[c]) * inv_std[c])


@njit(cache=True, nogil=True, inline="always")
def _add_partials(p1, p2, s1, s2):
    s1[:] = p1[0]
    s2[:] = p2[0]
    for k in range(1, ROW_CHUNKS):
        s1 += p1[k]
        s2 += p2[k]


@njit(cache=True, nogil=True, inline="always")
def _normalize_chunk(x, mean, inv_std, gamma, beta, y, k):
    lo, hi = x.shape[0] * k // ROW_CHUNKS, x.shape[0] * (k + 1) // ROW_CHUNKS
    for r in range(lo, hi):
        for c in range(x.shape[1]):
            y[r, c] = (x[r, c] - mean[c]) * inv_std[c] * gamma[c] + beta[c]


@njit(cache=True, nogil=True, inline="always")
def _input_grad_chunk(dy, x, mean, inv_std, gamma, s1, s2, m, dx, k):
    lo, hi = x.shape[0] * k // ROW_CHUNKS, x.shape[0] * (k + 1) // ROW_CHUNKS
    for r in range(lo, hi):
        for c in range(x.shape[1]):
            x_hat = (x[r, c] - mean[c]) * inv_std[c]
            dx[r, c] = gamma[c] * inv_std[c] / m * (m * dy[r, c] - s1[c] - x_hat * s2[c])


# -- the kernels ---------------------------------------------------------------------------------
@njit(cache=True, nogil=True, parallel=True)
def batchnorm_moments_parallel(x, center, s1, s2):
    """:func:`batchnorm_moments` on numba's pool, parallel over chunks of rows."""
    p1 = np.empty((ROW_CHUNKS, x.shape[1]), dtype=s1.dtype)
    p2 = np.empty_like(p1)
    for k in prange(ROW_CHUNKS):
        _moments_chunk(x, center, p1, p2, k)
    _add_partials(p1, p2, s1, s2)


@njit(cache=True, nogil=True)
def batchnorm_moments_serial(x, center, s1, s2):
    """:func:`batchnorm_moments` on the calling thread: bit-identical to the parallel kernel."""
    p1 = np.empty((ROW_CHUNKS, x.shape[1]), dtype=s1.dtype)
    p2 = np.empty_like(p1)
    for k in range(ROW_CHUNKS):
        _moments_chunk(x, center, p1, p2, k)
    _add_partials(p1, p2, s1, s2)


def batchnorm_moments(x, center, s1, s2):
    """s1, s2 (C,) float64 <- the column sums of (x - center) and (x - center)^2.

    Parameters
    ----------
    x : ndarray (M, C), C-contiguous, float32 or float64
    center : ndarray (C,) float64
    s1, s2 : ndarray (C,) float64, written
    """
    kernel = (batchnorm_moments_parallel if use_pool(x.size, PARALLEL_MIN_ELEMENTS)
              else batchnorm_moments_serial)
    kernel(x, center, s1, s2)


@njit(cache=True, nogil=True, parallel=True)
def batchnorm_grad_sums_parallel(dy, x, mean, inv_std, s1, s2):
    """:func:`batchnorm_grad_sums` on numba's pool, parallel over chunks of rows."""
    p1 = np.empty((ROW_CHUNKS, x.shape[1]), dtype=s1.dtype)
    p2 = np.empty_like(p1)
    for k in prange(ROW_CHUNKS):
        _grad_sums_chunk(dy, x, mean, inv_std, p1, p2, k)
    _add_partials(p1, p2, s1, s2)


@njit(cache=True, nogil=True)
def batchnorm_grad_sums_serial(dy, x, mean, inv_std, s1, s2):
    """:func:`batchnorm_grad_sums` on the calling thread: bit-identical to the parallel one."""
    p1 = np.empty((ROW_CHUNKS, x.shape[1]), dtype=s1.dtype)
    p2 = np.empty_like(p1)
    for k in range(ROW_CHUNKS):
        _grad_sums_chunk(dy, x, mean, inv_std, p1, p2, k)
    _add_partials(p1, p2, s1, s2)


def batchnorm_grad_sums(dy, x, mean, inv_std, s1, s2):
    """s1, s2 (C,) float64 <- the column sums of dy and of dy x_hat.

    ``dy``, ``x``: (M, C) C-contiguous, one float dtype; ``mean``, ``inv_std``: (C,) float64.
    """
    kernel = (batchnorm_grad_sums_parallel if use_pool(x.size, PARALLEL_MIN_ELEMENTS)
              else batchnorm_grad_sums_serial)
    kernel(dy, x, mean, inv_std, s1, s2)


@njit(cache=True, nogil=True, parallel=True)
def batchnorm_normalize_parallel(x, mean, inv_std, gamma, beta, y):
    """:func:`batchnorm_normalize` on numba's pool, parallel over chunks of rows."""
    for k in prange(ROW_CHUNKS):
        _normalize_chunk(x, mean, inv_std, gamma, beta, y, k)


@njit(cache=True, nogil=True)
def batchnorm_normalize_serial(x, mean, inv_std, gamma, beta, y):
    """:func:`batchnorm_normalize` on the calling thread: bit-identical to the parallel one."""
    for k in range(ROW_CHUNKS):
        _normalize_chunk(x, mean, inv_std, gamma, beta, y, k)


def batchnorm_normalize(x, mean, inv_std, gamma, beta, y):
    """y (M, C) <- (x - mean) inv_std gamma + beta; every (C,) vector in x's dtype."""
    kernel = (batchnorm_normalize_parallel if use_pool(x.size, PARALLEL_MIN_ELEMENTS)
              else batchnorm_normalize_serial)
    kernel(x, mean, inv_std, gamma, beta, y)


@njit(cache=True, nogil=True, parallel=True)
def batchnorm_input_grad_parallel(dy, x, mean, inv_std, gamma, s1, s2, m, dx):
    """:func:`batchnorm_input_grad` on numba's pool, parallel over chunks of rows."""
    for k in prange(ROW_CHUNKS):
        _input_grad_chunk(dy, x, mean, inv_std, gamma, s1, s2, m, dx, k)


@njit(cache=True, nogil=True)
def batchnorm_input_grad_serial(dy, x, mean, inv_std, gamma, s1, s2, m, dx):
    """:func:`batchnorm_input_grad` on the calling thread: bit-identical to the parallel one."""
    for k in range(ROW_CHUNKS):
        _input_grad_chunk(dy, x, mean, inv_std, gamma, s1, s2, m, dx, k)


def batchnorm_input_grad(dy, x, mean, inv_std, gamma, s1, s2, m, dx):
    """dx (M, C) <- gamma inv_std / m (m dy - s1 - x_hat s2); every (C,) vector and the
    scalar ``m`` (values per channel in the whole batch) in x's dtype."""
    kernel = (batchnorm_input_grad_parallel if use_pool(x.size, PARALLEL_MIN_ELEMENTS)
              else batchnorm_input_grad_serial)
    kernel(dy, x, mean, inv_std, gamma, s1, s2, m, dx)
