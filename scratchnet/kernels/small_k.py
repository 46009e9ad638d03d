"""ReLU backward fused with the weight gradient of a thin GEMM (a first conv layer's).

A first convolution on grayscale images has K = kh*kw*C = 9. Its backward, done the
general way, streams the (P, F) layer output three times (11 MB each for the seed CNN at
batch 128): ``dz = dy * [y > 0]`` writes it, the bias sum reads it, and the GEMM
``cols.T @ dz``, with only 9 multiply-adds per element of dz, reads it again. A first
layer needs no input gradient, so dz is needed only inside those sums. Here one pass
reads dy and y and keeps each row of dz in registers:

    dz = dy * [y > 0]                      never stored
    db = sum_rows dz,   dW = cols.T @ dz   (K, F), accumulated row by row

NaN and inf behave as in that NumPy: dz is a product with the mask, so a NaN or inf in
dy, or in cols, reaches dW and db even where the mask is 0.

Rows are split into ``CHUNKS`` fixed chunks (as in ``bias_act``), each summing into its
own slice of partial sums; the slices are added in chunk order afterwards, so the result
is race-free and independent of the thread count. ``relu_weight_grads_parallel`` runs the
chunks on numba's pool, its ``relu_weight_grads_serial`` twin runs the same chunk code
on one thread, bit for bit the same, and ``relu_weight_grads`` picks one as
``bias_act`` does. (The forward stays a BLAS GEMM plus ``bias_act.bias_relu``, because a
fused numba forward cannot keep a row of F outputs in registers across the K products.)
Measured: see benchmarks/README.md, "Measurements behind the kernels' choices".
"""

import numpy as np
from numba import njit, prange

from scratchnet.kernels.bias_act import parallel_for

CHUNKS = 16
MAX_K = 32  # up to this K the fused pass beats the general path (measured at K = 9 and 27)


# -- NumPy references -------------------------------------------------------------------------
def relu_weight_grads_reference(dy, y, cols, dW, db):
    """dW (K, F) <- cols.T @ (dy * [y > 0]);  db (F,) <- column sums of the same; returns dW."""
    dz = dy * (y > 0)
    dW[...] = cols.T @ dz
    db[...] = dz.sum(axis=0)
    return dW


# -- the work of one chunk of rows --------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _backward_rows(dy, y, cols, dW_part, db_part, k):
    K, F = dW_part.shape[1], dW_part.shape[2]
    g = np.empty(F, dtype=dy.dtype)
    zero, one = dy.dtype.type(0), dy.dtype.type(1)
    for p in range(dy.shape[0] * k // CHUNKS, dy.shape[0] * (k + 1) // CHUNKS):
        for f in range(F):
            # A product with the mask, not a select, so a NaN or inf dy stays visible.
            g[f] = dy[p, f] * (one if y[p, f] > zero else zero)
            db_part[k, f] += g[f]
        for t in range(K):
            c = cols[p, t]
            for f in range(F):
                dW_part[k, t, f] += c * g[f]


@njit(cache=True, nogil=True, inline="always")
def _sum_chunks(dW_part, db_part, dW, db):
    dW[:] = 0
    db[:] = 0
    for k in range(CHUNKS):
        dW += dW_part[k]
        db += db_part[k]


# -- parallel kernels (prange over chunks) and serial twins -----------------------------------
@njit(cache=True, nogil=True, parallel=True)
def relu_weight_grads_parallel(dy, y, cols, dW, db):
    """:func:`relu_weight_grads` on numba's thread pool, parallel over row chunks."""
    dW_part = np.zeros((CHUNKS, dW.shape[0], dW.shape[1]), dtype=dW.dtype)
    db_part = np.zeros((CHUNKS, db.shape[0]), dtype=db.dtype)
    for k in prange(CHUNKS):
        _backward_rows(dy, y, cols, dW_part, db_part, k)
    _sum_chunks(dW_part, db_part, dW, db)
    return dW


@njit(cache=True, nogil=True)
def relu_weight_grads_serial(dy, y, cols, dW, db):
    """:func:`relu_weight_grads` on the calling thread: bit-identical to the parallel kernel."""
    dW_part = np.zeros((CHUNKS, dW.shape[0], dW.shape[1]), dtype=dW.dtype)
    db_part = np.zeros((CHUNKS, db.shape[0]), dtype=db.dtype)
    for k in range(CHUNKS):
        _backward_rows(dy, y, cols, dW_part, db_part, k)
    _sum_chunks(dW_part, db_part, dW, db)
    return dW


# -- dispatcher: the pool only for large outputs, and only where the thread may use it ---------
def relu_weight_grads(dy, y, cols, dW, db):
    """dW (K, F) <- cols.T @ (dy * [y > 0]) and db (F,) <- its column sums; returns dW.

    Parameters
    ----------
    dy, y : ndarray, shape (P, F)
        Upstream gradient and the layer's ReLU output, C-contiguous, one float dtype.
    cols : ndarray, shape (P, K), K <= ``MAX_K``
        The layer's im2col rows.
    dW : ndarray, shape (K, F); db : ndarray, shape (F,)
        Overwritten.
    """
    kernel = relu_weight_grads_parallel if parallel_for(dy) else relu_weight_grads_serial
    return kernel(dy, y, cols, dW, db)
