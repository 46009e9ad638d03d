"""A 3 x 3 convolution on few channels and the 2 x 2 max-pool after it, in one pass.

At inference a first convolution on grayscale images (C = 1, the seed CNN's) is
im2col, a GEMM with K = 9, which BLAS runs far below its peak, and a pool that reads
the whole map back. Here each 2 x 2 pooling window (i, j) reads the 4 x 4 input patch
its four 3 x 3 windows cover, once, and the four sums run side by side across the
filters, the innermost loop, which vectorizes::

    x    (N, H, W, C)         stride 1, no padding: 2 Hp + 2 <= H and 2 Wp + 2 <= W
    W    (3, 3, C, F)
    out  (N, Hp, Wp, F)       out[n, i, j, f] = max over (u, v) in {0, 1}^2 of
                                  sum_{a, b, c} x[n, 2i + u + a, 2j + v + b, c] W[a, b, c, f]

The bias and the activation come after (the fast Conv2D adds them to the pooled
values, which is exact for an increasing activation). A window holding a NaN gives NaN,
as ``scratchnet.kernels.maxpool`` does. The sums run channel by channel, each over
(a, b) in order, not in BLAS's order, so they agree with im2col + GEMM to float
rounding. Measured: benchmarks/README.md, "A first convolution and its pool in one pass".

``conv3x3_maxpool_parallel`` runs ``prange`` over the batch only (a sample writes only
its own outputs); ``conv3x3_maxpool_serial`` is its twin, and ``conv3x3_maxpool`` picks
one as every kernel module here does.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scratchnet.kernels.bias_act import parallel_for


@njit(cache=True, nogil=True, inline="always")
def _patch(x, n, r, s, c):
    """The 4 x 4 input patch at (r, s) of channel c, row by row, as a tuple."""
    return (x[n, r, s, c], x[n, r, s + 1, c], x[n, r, s + 2, c], x[n, r, s + 3, c],
            x[n, r + 1, s, c], x[n, r + 1, s + 1, c], x[n, r + 1, s + 2, c], x[n, r + 1, s + 3, c],
            x[n, r + 2, s, c], x[n, r + 2, s + 1, c], x[n, r + 2, s + 2, c], x[n, r + 2, s + 3, c],
            x[n, r + 3, s, c], x[n, r + 3, s + 1, c], x[n, r + 3, s + 2, c], x[n, r + 3, s + 3, c])


@njit(cache=True, nogil=True, inline="always")
def _sums(p, W, c, f):
    """Channel c's part of the four windows' sums for filter f, from the patch ``p``."""
    w00, w01, w02 = W[0, 0, c, f], W[0, 1, c, f], W[0, 2, c, f]
    w10, w11, w12 = W[1, 0, c, f], W[1, 1, c, f], W[1, 2, c, f]
    w20, w21, w22 = W[2, 0, c, f], W[2, 1, c, f], W[2, 2, c, f]
    s00 = (p[0] * w00 + p[1] * w01 + p[2] * w02 + p[4] * w10 + p[5] * w11 + p[6] * w12
           + p[8] * w20 + p[9] * w21 + p[10] * w22)
    s01 = (p[1] * w00 + p[2] * w01 + p[3] * w02 + p[5] * w10 + p[6] * w11 + p[7] * w12
           + p[9] * w20 + p[10] * w21 + p[11] * w22)
    s10 = (p[4] * w00 + p[5] * w01 + p[6] * w02 + p[8] * w10 + p[9] * w11 + p[10] * w12
           + p[12] * w20 + p[13] * w21 + p[14] * w22)
    s11 = (p[5] * w00 + p[6] * w01 + p[7] * w02 + p[9] * w10 + p[10] * w11 + p[11] * w12
           + p[13] * w20 + p[14] * w21 + p[15] * w22)
    return s00, s01, s10, s11


@njit(cache=True, nogil=True, inline="always")
def _max4(a, b, c, d):
    """The max of four values; NaN if one is NaN (v wins if larger, or if NaN, and nothing
    is larger than NaN, so once in it never leaves)."""
    best = a
    best = b if b > best or b != b else best
    best = c if c > best or c != c else best
    return d if d > best or d != d else best


@njit(cache=True, nogil=True, inline="always")
def _sample(x, W, acc, out, n):
    """Write ``out[n]``; ``acc`` (4, F) is scratch for the four windows' sums over channels.

    With one channel the sums go straight into the max: no scratch to write and read.
    """
    C = x.shape[3]
    Hp, Wp, F = out.shape[1], out.shape[2], out.shape[3]
    for i in range(Hp):
        for j in range(Wp):
            p = _patch(x, n, 2 * i, 2 * j, 0)
            if C == 1:
                for f in range(F):
                    s00, s01, s10, s11 = _sums(p, W, 0, f)
                    out[n, i, j, f] = _max4(s00, s01, s10, s11)
                continue
            for f in range(F):
                acc[0, f], acc[1, f], acc[2, f], acc[3, f] = _sums(p, W, 0, f)
            for c in range(1, C):
                p = _patch(x, n, 2 * i, 2 * j, c)
                for f in range(F):
                    s00, s01, s10, s11 = _sums(p, W, c, f)
                    acc[0, f] += s00
                    acc[1, f] += s01
                    acc[2, f] += s10
                    acc[3, f] += s11
            for f in range(F):
                out[n, i, j, f] = _max4(acc[0, f], acc[1, f], acc[2, f], acc[3, f])


@njit(cache=True, nogil=True, parallel=True)
def conv3x3_maxpool_parallel(x, W, out):
    """:func:`conv3x3_maxpool` on numba's thread pool, parallel over the batch."""
    for n in prange(x.shape[0]):
        acc = np.empty((4, out.shape[3]), dtype=out.dtype)
        _sample(x, W, acc, out, n)
    return out


@njit(cache=True, nogil=True)
def conv3x3_maxpool_serial(x, W, out):
    """:func:`conv3x3_maxpool` on the calling thread: bit-identical to the parallel one."""
    acc = np.empty((4, out.shape[3]), dtype=out.dtype)
    for n in range(x.shape[0]):
        _sample(x, W, acc, out, n)
    return out


def conv3x3_maxpool(x, W, out):
    """The 2 x 2, stride-2 max-pool of the valid 3 x 3 convolution of ``x`` with ``W``.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C), C-contiguous float32 or float64
    W : ndarray, shape (3, 3, C, F), C-contiguous, same dtype
    out : ndarray, shape (N, Hp, Wp, F), 2 Hp + 2 <= H, 2 Wp + 2 <= W, same dtype
        Overwritten: the pooled convolution, without bias.

    Returns
    -------
    out
    """
    kernel = conv3x3_maxpool_parallel if parallel_for(x) else conv3x3_maxpool_serial
    return kernel(x, W, out)


def conv3x3_maxpool_reference(x, W, out):
    """Plain-NumPy :func:`conv3x3_maxpool`: the convolution's (2 Hp, 2 Wp) map as nine
    shifted products, then the max of each window (NaN if the window holds one)."""
    N, Hp, Wp, F = out.shape
    h, w = 2 * Hp, 2 * Wp
    z = np.zeros((N, h, w, F), out.dtype)
    for a in range(3):
        for b in range(3):
            z += x[:, a:a + h, b:b + w, :] @ W[a, b]
    out[...] = z.reshape(N, Hp, 2, Wp, 2, F).max(axis=(2, 4))
    return out
