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

In training, a first layer on one input channel (no input gradient) with a ReLU and its
pool run in one pass each way, and the conv's (N, 2 Hp, 2 Wp, F) map, its ReLU mask and
the pool's dense gradient are never written:

- ``conv3x3_relu_maxpool`` adds the bias and takes the ReLU of each window's four sums,
  then their max, as the pool does after the layer: ties to the first of the four in
  row-major order, the first NaN if one is NaN. ``arg`` (uint8) keeps which one won,
  plus 4 where the ReLU's gradient is 0 (the max is not above 0);
- ``conv3x3_maxpool_grads`` gives dW and db from ``x``, ``arg`` and the pooled gradient:
  ``g = dy * [the ReLU passes]`` goes to the winning sum alone; the three that lost add
  ``patch * 0``, which is 0 unless the patch holds an inf or NaN, so a non-finite ``x``
  or ``dy`` reaches dW and db as it does through im2col and ``cols.T @ dz``.

Each is one serial function, without helpers or a parallel twin, and the backward's tap
loop runs over a length LLVM does not know (``P``'s 9 rows), so that it stays one loop
instead of nine vectorized copies: the first versions, with helpers, partial sums per
chunk and twins, took 2.2 s and 3.0 s to compile, too much for a first run (issue 16;
benchmarks/README.md, "A first convolution and its pool in one pass"). They run inside
a shard, on one thread, anyway.
The forward's sums are made in the order its reference makes them, to the bit.
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


# -- training, one input channel: forward with the bias, ReLU and the pool's argmax -----------
@njit(cache=True, nogil=True)
def conv3x3_relu_maxpool(x, W, b, out, arg):
    """Training forward of a 3 x 3 'valid' conv on one channel, its ReLU and 2 x 2 pool.

    Parameters
    ----------
    x : ndarray, shape (N, H, W), C-contiguous float32 or float64
        The input's one channel.
    W : ndarray, shape (9, F); b : ndarray, shape (F,); same dtype, C-contiguous
        The filters, taps in row-major order (``Conv2D``'s (3, 3, 1, F) reshaped).
    out : ndarray, shape (N, Hp, Wp, F), 2 Hp + 2 <= H, 2 Wp + 2 <= W, same dtype
        Overwritten: ``maxpool(relu(conv(x, W) + b))``.
    arg : ndarray, shape (N, Hp, Wp, F), uint8
        Overwritten: the winning window cell (0..3, row-major), + 4 where ``out <= 0``
        or NaN (the ReLU lets no gradient through).

    Returns
    -------
    out
    """
    Hp, Wp, F = out.shape[1], out.shape[2], out.shape[3]
    zero = b.dtype.type(0)
    for n in range(x.shape[0]):
        for i in range(Hp):
            r = 2 * i
            for j in range(Wp):
                s = 2 * j
                p00, p01, p02, p03 = x[n, r, s], x[n, r, s + 1], x[n, r, s + 2], x[n, r, s + 3]
                p10, p11 = x[n, r + 1, s], x[n, r + 1, s + 1]
                p12, p13 = x[n, r + 1, s + 2], x[n, r + 1, s + 3]
                p20, p21 = x[n, r + 2, s], x[n, r + 2, s + 1]
                p22, p23 = x[n, r + 2, s + 2], x[n, r + 2, s + 3]
                p30, p31 = x[n, r + 3, s], x[n, r + 3, s + 1]
                p32, p33 = x[n, r + 3, s + 2], x[n, r + 3, s + 3]
                for f in range(F):  # across the filters: vectorizes
                    w0, w1, w2 = W[0, f], W[1, f], W[2, f]
                    w3, w4, w5 = W[3, f], W[4, f], W[5, f]
                    w6, w7, w8 = W[6, f], W[7, f], W[8, f]
                    bias = b[f]
                    v0 = (p00 * w0 + p01 * w1 + p02 * w2 + p10 * w3 + p11 * w4 + p12 * w5
                          + p20 * w6 + p21 * w7 + p22 * w8) + bias
                    v1 = (p01 * w0 + p02 * w1 + p03 * w2 + p11 * w3 + p12 * w4 + p13 * w5
                          + p21 * w6 + p22 * w7 + p23 * w8) + bias
                    v2 = (p10 * w0 + p11 * w1 + p12 * w2 + p20 * w3 + p21 * w4 + p22 * w5
                          + p30 * w6 + p31 * w7 + p32 * w8) + bias
                    v3 = (p11 * w0 + p12 * w1 + p13 * w2 + p21 * w3 + p22 * w4 + p23 * w5
                          + p31 * w6 + p32 * w7 + p33 * w8) + bias
                    # max(v, 0) as np.maximum has it: "not v <= 0" keeps a NaN
                    v0 = v0 if not v0 <= zero else zero
                    v1 = v1 if not v1 <= zero else zero
                    v2 = v2 if not v2 <= zero else zero
                    v3 = v3 if not v3 <= zero else zero
                    # the first max, or the first NaN: nothing replaces a NaN once in
                    best, k = v0, 0
                    if best == best and (v1 > best or v1 != v1):
                        best, k = v1, 1
                    if best == best and (v2 > best or v2 != v2):
                        best, k = v2, 2
                    if best == best and (v3 > best or v3 != v3):
                        best, k = v3, 3
                    out[n, i, j, f] = best
                    arg[n, i, j, f] = k if best > zero else k + 4
    return out


def conv3x3_relu_maxpool_reference(x, W, b, out, arg):
    """Plain-NumPy :func:`conv3x3_relu_maxpool`: the conv's map as nine shifted products
    added in the kernel's order, + b, ReLU, then each window's max and the index of its
    first max (np.argmax: the first NaN if there is one)."""
    N, Hp, Wp, F = out.shape
    h, w = 2 * Hp, 2 * Wp
    z = None
    for t in range(9):
        a, c = divmod(t, 3)
        term = x[:, a:a + h, c:c + w, None] * W[t]
        z = term if z is None else z + term
    # each pooling window's four cells, row-major: (N, Hp, Wp, 4, F)
    cells = np.maximum(z + b, 0).reshape(N, Hp, 2, Wp, 2, F).transpose(
        0, 1, 3, 2, 4, 5).reshape(N, Hp, Wp, 4, F)
    out[...] = cells.max(axis=3)
    arg[...] = cells.argmax(axis=3) + 4 * ~(out > 0)
    return out


# -- training, one input channel: backward, dW and db from the pooled gradient ----------------
@njit(cache=True, nogil=True)
def conv3x3_maxpool_grads(x, arg, dy, dW, db):
    """dW and db of :func:`conv3x3_relu_maxpool`'s layer, from the gradient of its output.

    Parameters
    ----------
    x : ndarray, shape (N, H, W); arg : ndarray, shape (N, Hp, Wp, F), uint8
        The forward's input and its ``arg``.
    dy : ndarray, shape (N, Hp, Wp, F)
        dL/d(pooled output), C-contiguous, the dtype of ``x``.
    dW : ndarray, shape (9, F); db : ndarray, shape (F,)
        Overwritten.

    Returns
    -------
    dW
    """
    Hp, Wp, F = dy.shape[1], dy.shape[2], dy.shape[3]
    taps = dW.shape[0]  # 9, but not a constant to LLVM: the tap loop stays one loop
    zero, one = dy.dtype.type(0), dy.dtype.type(1)
    g = np.empty(F, dy.dtype)  # per window: each filter's gradient at its winning cell,
    q = np.empty(F, np.int32)  # which cell that is,
    P = np.empty((taps, 4), dy.dtype)  # and each tap's value in the four cells
    for t in range(taps):
        for f in range(F):
            dW[t, f] = zero
    for f in range(F):
        db[f] = zero
    for n in range(x.shape[0]):
        for i in range(Hp):
            r = 2 * i
            for j in range(Wp):
                s = 2 * j
                total = zero
                for t in range(taps):
                    u, v = t // 3, t % 3
                    for cell in range(4):
                        val = x[n, r + u + cell // 2, s + v + cell % 2]
                        P[t, cell] = val
                        total += val
                for f in range(F):
                    a = arg[n, i, j, f]
                    # A product with the mask, not a select, so a NaN or inf dy stays visible.
                    gf = dy[n, i, j, f] * (one if a < 4 else zero)
                    db[f] += gf
                    g[f] = gf
                    q[f] = a & 3
                for t in range(taps):
                    a0, a1, a2, a3 = P[t, 0], P[t, 1], P[t, 2], P[t, 3]
                    for f in range(F):  # across the filters: vectorizes
                        w = q[f]
                        dW[t, f] += (a0 if w == 0 else a1 if w == 1
                                     else a2 if w == 2 else a3) * g[f]
                if total - total != zero:
                    # An inf or NaN in the patch: the cells that lost add their value times
                    # their zero gradient, which is NaN, as in cols.T @ dz.
                    for f in range(F):
                        won = q[f]
                        for t in range(taps):
                            for cell in range(4):
                                if cell != won:
                                    dW[t, f] += P[t, cell] * zero
    return dW


def conv3x3_maxpool_grads_reference(x, arg, dy, dW, db):
    """Plain-NumPy :func:`conv3x3_maxpool_grads`: the pool's and the ReLU's backward as
    the layers do them (dy to the winning cell, times the mask), then the convolution's
    ``dW = sum of x-patches * dz`` as nine shifted products, and ``db = sum of dz``."""
    N, Hp, Wp, F = dy.shape
    g = dy * (arg < 4)
    cells = np.stack([np.where(arg % 4 == c, g, 0) for c in range(4)], axis=3)
    dz = cells.reshape(N, Hp, Wp, 2, 2, F).transpose(0, 1, 3, 2, 4, 5).reshape(
        N, 2 * Hp, 2 * Wp, F)
    h, w = 2 * Hp, 2 * Wp
    for t in range(9):
        a, c = divmod(t, 3)
        dW[t] = np.tensordot(x[:, a:a + h, c:c + w], dz, axes=([0, 1, 2], [0, 1, 2]))
    db[...] = dz.sum(axis=(0, 1, 2))
    return dW
