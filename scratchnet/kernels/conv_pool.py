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

In training, a first layer (no input gradient) with a ReLU and its pool run in one pass
each way, and the conv's (N, 2 Hp, 2 Wp, F) map, its ReLU mask and the pool's dense
gradient are never written:

- ``conv3x3_relu_maxpool`` adds the bias and takes the ReLU of each window's four sums,
  then their max, as the pool does after the layer: ties to the first of the four in
  row-major order, the first NaN if one is NaN. ``arg`` (uint8) keeps which one won,
  plus 4 where the ReLU's gradient is 0 (the max is not above 0);
- ``conv3x3_maxpool_grads`` gives dW and db from ``x``, ``arg`` and the pooled gradient:
  ``g = dy * [the ReLU passes]`` goes to the winning sum alone, and every sum of the
  window adds ``patch * g`` (0 for the three others), so a NaN or inf in ``x`` or ``dy``
  reaches dW as it does through im2col and ``cols.T @ dz``. Windows are split into
  ``CHUNKS`` fixed groups of samples with partial sums added in order, as in
  ``kernels.small_k``: the result does not depend on the thread count.

The training forward's sums are those of ``conv3x3_maxpool``, and its reference makes
them in the same order, so the two agree to the bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scratchnet.kernels.bias_act import parallel_for

#: Fixed groups of samples whose weight-gradient sums are kept apart, then added in order.
CHUNKS = 16


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


# -- training: forward with the bias, ReLU and the pool's argmax ------------------------------
@njit(cache=True, nogil=True, inline="always")
def _relu_argmax4(a, b, c, d, bias):
    """(max, index) of relu(a + bias), ..., relu(d + bias): ties to the first, the first NaN
    if there is one (as ``kernels.maxpool``), plus 4 in the index if the max is not > 0."""
    zero = type(bias)(0)
    best, k = a + bias, 0
    best = best if not best <= zero else zero  # max(v, 0), NaN kept (np.maximum)
    v = b + bias
    v = v if not v <= zero else zero
    if best == best and (v > best or v != v):
        best, k = v, 1
    v = c + bias
    v = v if not v <= zero else zero
    if best == best and (v > best or v != v):
        best, k = v, 2
    v = d + bias
    v = v if not v <= zero else zero
    if best == best and (v > best or v != v):
        best, k = v, 3
    return best, (k if best > zero else k + 4)


@njit(cache=True, nogil=True, inline="always")
def _train_sample(x, W, b, acc, out, arg, n):
    """Write ``out[n]`` and ``arg[n]``; ``acc`` (4, F) is scratch, as in :func:`_sample`."""
    C = x.shape[3]
    Hp, Wp, F = out.shape[1], out.shape[2], out.shape[3]
    for i in range(Hp):
        for j in range(Wp):
            p = _patch(x, n, 2 * i, 2 * j, 0)
            if C == 1:
                for f in range(F):
                    s00, s01, s10, s11 = _sums(p, W, 0, f)
                    v, k = _relu_argmax4(s00, s01, s10, s11, b[f])
                    out[n, i, j, f] = v
                    arg[n, i, j, f] = k
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
                v, k = _relu_argmax4(acc[0, f], acc[1, f], acc[2, f], acc[3, f], b[f])
                out[n, i, j, f] = v
                arg[n, i, j, f] = k


@njit(cache=True, nogil=True, parallel=True)
def conv3x3_relu_maxpool_parallel(x, W, b, out, arg):
    """:func:`conv3x3_relu_maxpool` on numba's thread pool, parallel over the batch."""
    for n in prange(x.shape[0]):
        acc = np.empty((4, out.shape[3]), dtype=out.dtype)
        _train_sample(x, W, b, acc, out, arg, n)
    return out


@njit(cache=True, nogil=True)
def conv3x3_relu_maxpool_serial(x, W, b, out, arg):
    """:func:`conv3x3_relu_maxpool` on the calling thread: bit-identical to the parallel one."""
    acc = np.empty((4, out.shape[3]), dtype=out.dtype)
    for n in range(x.shape[0]):
        _train_sample(x, W, b, acc, out, arg, n)
    return out


def conv3x3_relu_maxpool(x, W, b, out, arg):
    """Training forward of a 3 x 3 'valid' conv with a ReLU and the 2 x 2 pool after it.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C), C-contiguous float32 or float64
    W : ndarray, shape (3, 3, C, F); b : ndarray, shape (F,); same dtype, C-contiguous
    out : ndarray, shape (N, Hp, Wp, F), 2 Hp + 2 <= H, 2 Wp + 2 <= W, same dtype
        Overwritten: ``maxpool(relu(conv(x, W) + b))``.
    arg : ndarray, shape (N, Hp, Wp, F), uint8
        Overwritten: the winning window cell (0..3, row-major), + 4 where ``out <= 0``
        or NaN (the ReLU lets no gradient through).

    Returns
    -------
    out
    """
    kernel = conv3x3_relu_maxpool_parallel if parallel_for(x) else conv3x3_relu_maxpool_serial
    return kernel(x, W, b, out, arg)


def _window_sums_reference(x, W, h, w):
    """The valid conv's (N, h, w, F) map with each sum in the kernels' order: per channel,
    taps in row-major order left to right, then the channels added one by one."""
    z = None
    for c in range(x.shape[3]):
        s = None
        for a in range(3):
            for bb in range(3):
                t = x[:, a:a + h, bb:bb + w, c, None] * W[a, bb, c]
                s = t if s is None else s + t
        z = s if z is None else z + s
    return z


def conv3x3_relu_maxpool_reference(x, W, b, out, arg):
    """Plain-NumPy :func:`conv3x3_relu_maxpool`: relu(conv + b), then each window's max
    and the index of its first max (np.argmax: the first NaN if there is one)."""
    N, Hp, Wp, F = out.shape
    r = np.maximum(_window_sums_reference(x, W, 2 * Hp, 2 * Wp) + b, 0)
    cells = r.reshape(N, Hp, 2, Wp, 2, F).transpose(0, 1, 3, 2, 4, 5).reshape(N, Hp, Wp, 4, F)
    out[...] = cells.max(axis=3)
    arg[...] = cells.argmax(axis=3) + 4 * ~(out > 0)
    return out


# -- training: backward, dW and db from the pooled gradient ------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _finite16(p):
    """Whether the 16 values of a patch are all finite (v - v is 0, not NaN)."""
    t = p[0] - p[0]
    for v in p[1:]:
        t += v - v
    return t == 0


@njit(cache=True, nogil=True, inline="always")
def _grads_chunk(x, arg, dy, g, q, dW_part, db_part, k):
    """Chunk k's samples' parts of dW and db; ``g`` and ``q`` (F,) are scratch: each
    filter's gradient at its window's winning cell, and which cell that is."""
    N, C = x.shape[0], x.shape[3]
    Hp, Wp, F = dy.shape[1], dy.shape[2], dy.shape[3]
    zero, one = dy.dtype.type(0), dy.dtype.type(1)
    for n in range(N * k // CHUNKS, N * (k + 1) // CHUNKS):
        for i in range(Hp):
            for j in range(Wp):
                for f in range(F):
                    a = arg[n, i, j, f]
                    # A product with the mask, not a select, so a NaN or inf dy stays visible.
                    gf = dy[n, i, j, f] * (one if a < 4 else zero)
                    db_part[k, f] += gf
                    q[f] = a & 3
                    g[f] = gf
                for c in range(C):
                    p = _patch(x, n, 2 * i, 2 * j, c)
                    if _finite16(p):
                        # The three cells that lost add exact zeros: only the winner's
                        # patch value counts, picked per filter.
                        for u in range(3):
                            for v in range(3):
                                t = 4 * u + v
                                for f in range(F):
                                    w = q[f]
                                    pv = (p[t] if w == 0 else p[t + 1] if w == 1
                                          else p[t + 4] if w == 2 else p[t + 5])
                                    dW_part[k, u, v, c, f] += pv * g[f]
                        continue
                    # inf or NaN in the patch: times the zero gradient of a losing cell it
                    # gives NaN, as in cols.T @ dz, so every cell adds its product.
                    for u in range(3):
                        for v in range(3):
                            t = 4 * u + v
                            for f in range(F):
                                w, gf = q[f], g[f]
                                dW_part[k, u, v, c, f] += (
                                    p[t] * (gf if w == 0 else zero)
                                    + p[t + 1] * (gf if w == 1 else zero)
                                    + p[t + 4] * (gf if w == 2 else zero)
                                    + p[t + 5] * (gf if w == 3 else zero))


@njit(cache=True, nogil=True, inline="always")
def _add_chunks(dW_part, db_part, dW, db):
    dW[:] = 0
    db[:] = 0
    for k in range(CHUNKS):
        dW += dW_part[k]
        db += db_part[k]


@njit(cache=True, nogil=True, parallel=True)
def conv3x3_maxpool_grads_parallel(x, arg, dy, dW, db):
    """:func:`conv3x3_maxpool_grads` on numba's thread pool, parallel over the chunks."""
    dW_part = np.zeros((CHUNKS,) + dW.shape, dtype=dW.dtype)
    db_part = np.zeros((CHUNKS, db.shape[0]), dtype=db.dtype)
    for k in prange(CHUNKS):
        g = np.empty(dy.shape[3], dtype=dy.dtype)
        q = np.empty(dy.shape[3], dtype=np.int32)
        _grads_chunk(x, arg, dy, g, q, dW_part, db_part, k)
    _add_chunks(dW_part, db_part, dW, db)
    return dW


@njit(cache=True, nogil=True)
def conv3x3_maxpool_grads_serial(x, arg, dy, dW, db):
    """:func:`conv3x3_maxpool_grads` on the calling thread: bit-identical to the parallel one."""
    dW_part = np.zeros((CHUNKS,) + dW.shape, dtype=dW.dtype)
    db_part = np.zeros((CHUNKS, db.shape[0]), dtype=db.dtype)
    g = np.empty(dy.shape[3], dtype=dy.dtype)
    q = np.empty(dy.shape[3], dtype=np.int32)
    for k in range(CHUNKS):
        _grads_chunk(x, arg, dy, g, q, dW_part, db_part, k)
    _add_chunks(dW_part, db_part, dW, db)
    return dW


def conv3x3_maxpool_grads(x, arg, dy, dW, db):
    """dW and db of :func:`conv3x3_relu_maxpool`'s layer, from the gradient of its output.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C); arg : ndarray, shape (N, Hp, Wp, F), uint8
        The forward's input and its ``arg``.
    dy : ndarray, shape (N, Hp, Wp, F)
        dL/d(pooled output), C-contiguous, the dtype of ``x``.
    dW : ndarray, shape (3, 3, C, F); db : ndarray, shape (F,)
        Overwritten.

    Returns
    -------
    dW
    """
    kernel = conv3x3_maxpool_grads_parallel if parallel_for(dy) else conv3x3_maxpool_grads_serial
    return kernel(x, arg, dy, dW, db)


def conv3x3_maxpool_grads_reference(x, arg, dy, dW, db):
    """Plain-NumPy :func:`conv3x3_maxpool_grads`: the pool's and the ReLU's backward as
    the layers do them (dy to the winning cell, times the mask), then the convolution's
    ``dW = sum of x-patches * dz`` as nine shifted products, and ``db = sum of dz``."""
    N, Hp, Wp, F = dy.shape
    g = dy * (arg < 4)
    cells = np.stack([np.where(arg % 4 == q, g, 0) for q in range(4)], axis=3)
    dz = cells.reshape(N, Hp, Wp, 2, 2, F).transpose(0, 1, 3, 2, 4, 5).reshape(
        N, 2 * Hp, 2 * Wp, F)
    h, w = 2 * Hp, 2 * Wp
    for a in range(3):
        for bb in range(3):
            dW[a, bb] = np.tensordot(x[:, a:a + h, bb:bb + w, :], dz, axes=([0, 1, 2], [0, 1, 2]))
    db[...] = dz.sum(axis=(0, 1, 2))
    return dW
