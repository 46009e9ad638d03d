"""ReLU backward fused with the weight gradient of a thin GEMM (a first conv layer's).

A first convolution on grayscale images has K = kh*kw*C = 9. Its backward, done the
general way, streams the (P, F) layer output three times (11 MB each for the seed CNN at
batch 128): ``dz = dy * [y > 0]`` writes it, the bias sum reads it, and the GEMM
``cols.T @ dz``, with only 9 multiply-adds per element of dz, reads it again. A first
layer needs no input gradient, so dz is needed only inside those sums. Here one pass
reads dy and y and keeps each row of dz in registers:

    dz = dy * [y > 0]                      never stored
    db = sum_rows dz,   dW = cols.T @ dz   (K, F), accumulated row by row

Rows are split into ``CHUNKS`` fixed chunks (as in ``bias_act``), each summing into its
own slice of partial sums; the slices are added in chunk order afterwards, so the result
is race-free and independent of the thread count. The ``*_serial`` twin runs the same
chunk code on one thread. (The forward stays a BLAS GEMM plus ``bias_act.bias_relu``:
a fused numba forward measured slower, since it cannot keep a row of F outputs in
registers across the K products.)
"""

import numpy as np
from numba import njit, prange

CHUNKS = 16
MAX_K = 32  # measured faster than the general path at K = 9 and K = 27 (F = 32)


# -- NumPy references -------------------------------------------------------------------------
def relu_weight_grads_reference(dy, y, cols, dW, db):
    """dW (K, F) <- cols.T @ (dy * [y > 0]);  db (F,) <- column sums of the same."""
    dz = np.multiply(dy, y > 0)
    np.matmul(cols.T, dz, out=dW)
    db[:] = dz.sum(axis=0)
    return dW


# -- the work of one chunk of rows --------------------------------------------------------------
@njit(cache=True, nogil=True)
def _backward_rows(dy, y, cols, dW_part, db_part, k):
    K, F = dW_part.shape[1], dW_part.shape[2]
    g = np.empty(F, dtype=dy.dtype)
    zero = dy.dtype.type(0)
    for p in range(dy.shape[0] * k // CHUNKS, dy.shape[0] * (k + 1) // CHUNKS):
        for f in range(F):
            g[f] = dy[p, f] if y[p, f] > zero else zero
            db_part[k, f] += g[f]
        for t in range(K):
            c = cols[p, t]
            for f in range(F):
                dW_part[k, t, f] += c * g[f]


@njit(cache=True, nogil=True)
def _sum_chunks(dW_part, db_part, dW, db):
    dW[:] = 0
    db[:] = 0
    for k in range(CHUNKS):
        dW += dW_part[k]
        db += db_part[k]


# -- parallel kernels (prange over chunks) and serial twins -----------------------------------
@njit(cache=True, nogil=True, parallel=True)
def relu_weight_grads(dy, y, cols, dW, db):
    """numba: dW <- cols.T @ (dy * [y > 0]), db <- its column sums; parallel over row chunks."""
    dW_part = np.zeros((CHUNKS, dW.shape[0], dW.shape[1]), dtype=dW.dtype)
    db_part = np.zeros((CHUNKS, db.shape[0]), dtype=db.dtype)
    for k in prange(CHUNKS):
        _backward_rows(dy, y, cols, dW_part, db_part, k)
    _sum_chunks(dW_part, db_part, dW, db)
    return dW


@njit(cache=True, nogil=True)
def relu_weight_grads_serial(dy, y, cols, dW, db):
    dW_part = np.zeros((CHUNKS, dW.shape[0], dW.shape[1]), dtype=dW.dtype)
    db_part = np.zeros((CHUNKS, db.shape[0]), dtype=db.dtype)
    for k in range(CHUNKS):
        _backward_rows(dy, y, cols, dW_part, db_part, k)
    _sum_chunks(dW_part, db_part, dW, db)
    return dW
