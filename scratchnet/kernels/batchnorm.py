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

Each ``foo_parallel`` splits independent work over numba's pool: blocks of channels for
the sums (each channel is summed over the rows in order, by one thread), chunks of rows
for the elementwise passes. ``foo_serial`` runs the same block code in a plain loop (bit
for bit the same), ``foo`` picks one with ``use_pool``, ``foo_reference`` is plain NumPy.
NaN and inf propagate as in the references (no fastmath).
"""

import numpy as np
from numba import njit, prange

from scratchnet.kernels.threads import use_pool

BLOCK = 8  # channels per block of the sums
ROW_CHUNKS = 16  # row chunks of the elementwise passes
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


# -- block bodies shared by each parallel kernel and its serial twin ---------------------------
@njit(cache=True, nogil=True)
def _moments_block(x, center, s1, s2, k):
    c0, c1 = k * BLOCK, min((k + 1) * BLOCK, x.shape[1])
    for c in range(c0, c1):
        s1[c] = 0.0
        s2[c] = 0.0
    for r in range(x.shape[0]):
        for c in range(c0, c1):
            d = np.float64(x[r, c]) - center[c]
            s1[c] += d
            s2[c] += d * d


@njit(cache=True, nogil=True)
def _grad_sums_block(dy, x, mean, inv_std, s1, s2, k):
    c0, c1 = k * BLOCK, min((k + 1) * BLOCK, x.shape[1])
    for c in range(c0, c1):
        s1[c] = 0.0
        s2[c] = 0.0
    for r in range(x.shape[0]):
        for c in range(c0, c1):
            g = np.float64(dy[r, c])
            s1[c] += g
            s2[c] += g * ((np.float64(x[r, c]) - mean[c]) * inv_std[c])


@njit(cache=True, nogil=True)
def _normalize_chunk(x, mean, inv_std, gamma, beta, y, k):
    lo, hi = x.shape[0] * k // ROW_CHUNKS, x.shape[0] * (k + 1) // ROW_CHUNKS
    for r in range(lo, hi):
        for c in range(x.shape[1]):
            y[r, c] = (x[r, c] - mean[c]) * inv_std[c] * gamma[c] + beta[c]


@njit(cache=True, nogil=True)
def _input_grad_chunk(dy, x, mean, inv_std, gamma, s1, s2, m, dx, k):
    lo, hi = x.shape[0] * k // ROW_CHUNKS, x.shape[0] * (k + 1) // ROW_CHUNKS
    for r in range(lo, hi):
        for c in range(x.shape[1]):
            x_hat = (x[r, c] - mean[c]) * inv_std[c]
            dx[r, c] = gamma[c] * inv_std[c] / m * (m * dy[r, c] - s1[c] - x_hat * s2[c])


# -- the kernels ---------------------------------------------------------------------------------
@njit(cache=True, nogil=True, parallel=True)
def batchnorm_moments_parallel(x, center, s1, s2):
    """:func:`batchnorm_moments` on numba's pool, parallel over blocks of channels."""
    for k in prange((x.shape[1] + BLOCK - 1) // BLOCK):
        _moments_block(x, center, s1, s2, k)


@njit(cache=True, nogil=True)
def batchnorm_moments_serial(x, center, s1, s2):
    """:func:`batchnorm_moments` on the calling thread: bit-identical to the parallel kernel."""
    for k in range((x.shape[1] + BLOCK - 1) // BLOCK):
        _moments_block(x, center, s1, s2, k)


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
    """:func:`batchnorm_grad_sums` on numba's pool, parallel over blocks of channels."""
    for k in prange((x.shape[1] + BLOCK - 1) // BLOCK):
        _grad_sums_block(dy, x, mean, inv_std, s1, s2, k)


@njit(cache=True, nogil=True)
def batchnorm_grad_sums_serial(dy, x, mean, inv_std, s1, s2):
    """:func:`batchnorm_grad_sums` on the calling thread: bit-identical to the parallel one."""
    for k in range((x.shape[1] + BLOCK - 1) // BLOCK):
        _grad_sums_block(dy, x, mean, inv_std, s1, s2, k)


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
