"""Channels-last max-pooling, forward and backward, as numba kernels with NumPy references.

Forward, for each output element (n, i, j, c), over the window rows
``i*sh - pad_top + [0, ph)`` and columns ``j*sw - pad_left + [0, pw)``::

    y[n, i, j, c]      = max of x[n, r, s, c] over the window's in-bounds cells
    argmax[n, i, j, c] = (r*W + s)*C + c of that maximum: a flat index into x[n]

Padded cells are skipped, as if they held -inf: they never win, and a window always
has at least one in-bounds cell for the Keras padding rules. Ties go to the first
cell in row-major window order. A window holding a NaN gives NaN, and its argmax is the
first NaN in that order, wherever it sits (as ``np.max`` would give, and as
``scratchnet.reference``'s pooling defines it).

Backward routes each output's gradient to exactly the one input recorded in argmax::

    dx[n].flat[argmax[n, i, j, c]] += dy[n, i, j, c]

With overlapping windows (stride < pool size) one input can win two windows, so
the backward accumulates; it does so inside sample n's own iteration, so the
``prange`` over the batch never has two iterations writing one element.

``maxpool_forward_parallel`` and ``maxpool_backward_parallel`` run ``prange`` over the
batch; each has a ``*_serial`` twin running the same per-sample code in a plain loop, bit
for bit the same, and ``maxpool_forward``/``maxpool_backward`` pick one of the two: the
twin when the calling thread already owns a core (one shard of a batch, see
``scratchnet.kernels.threads``). All of them release the GIL (``nogil=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scratchnet.kernels.threads import use_pool


# -- the work of one sample, shared by the parallel kernels and their serial twins -------------
# numba inlines the forward helper itself, because LLVM left to itself made the parallel
# forward slower. Measured: see benchmarks/README.md, "Measurements behind the kernels' choices".
@njit(cache=True, nogil=True, inline="always")
def _maxpool_forward_sample(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax, n):
    """Write ``out[n]`` and ``argmax[n]`` (unless None); the arguments are as in
    :func:`maxpool_forward`."""
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    Ho, Wo = out.shape[1], out.shape[2]
    for i in range(Ho):
        r0 = i * sh - pad_top
        # The in-bounds part of the window: rows r0 + [a_lo, a_hi).
        a_lo = max(0, -r0)
        a_hi = min(ph, H - r0)
        for j in range(Wo):
            s0 = j * sw - pad_left
            b_lo = max(0, -s0)
            b_hi = min(pw, W - s0)
            # Start from the first in-bounds cell, so even -inf inputs get an argmax.
            r, s = r0 + a_lo, s0 + b_lo
            for c in range(C):
                out[n, i, j, c] = x[n, r, s, c]
            if argmax is None:  # inference: the max alone, a loop that vectorizes
                for a in range(a_lo, a_hi):
                    for b in range(b_lo, b_hi):
                        for c in range(C):
                            m, v = out[n, i, j, c], x[n, r0 + a, s0 + b, c]
                            # v wins if larger, or if NaN: a NaN, once in, never leaves
                            # (nothing is > NaN); ties keep the first, as below.
                            out[n, i, j, c] = v if v > m or v != v else m
                continue
            for c in range(C):
                argmax[n, i, j, c] = (r * W + s) * C + c
            for a in range(a_lo, a_hi):
                r = r0 + a
                for b in range(b_lo, b_hi):
                    s = s0 + b
                    base = (r * W + s) * C
                    for c in range(C):
                        v, m = x[n, r, s, c], out[n, i, j, c]
                        if v > m or (v != v and m == m):  # the first NaN wins, and stays
                            out[n, i, j, c] = v
                            argmax[n, i, j, c] = base + c


@njit(cache=True, nogil=True, inline="always")
def _maxpool_backward_sample(dyf, af, dxf, n):
    """Write row ``n`` of ``dxf``: the flat (N, H*W*C) view of :func:`maxpool_backward`'s out."""
    for k in range(dxf.shape[1]):
        dxf[n, k] = 0
    for k in range(dyf.shape[1]):
        dxf[n, af[n, k]] += dyf[n, k]


@njit(cache=True, nogil=True, inline="always")
def _flat_views(dy, argmax, out):
    """dy, argmax and out as (N, elements of one sample) views, for the backward."""
    N = out.shape[0]
    per_out = dy.size // N if N > 0 else 0
    return (dy.reshape(N, per_out), argmax.reshape(N, per_out),
            out.reshape(N, out.size // N if N > 0 else 0))


# -- parallel kernels (prange over the batch) and serial twins ------------------------------
@njit(cache=True, nogil=True, parallel=True)
def maxpool_forward_parallel(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax):
    """:func:`maxpool_forward` on numba's thread pool, parallel over the batch."""
    for n in prange(x.shape[0]):
        _maxpool_forward_sample(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax, n)
    return out, argmax


@njit(cache=True, nogil=True)
def maxpool_forward_serial(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax):
    """:func:`maxpool_forward` on the calling thread: bit-identical to the parallel kernel."""
    for n in range(x.shape[0]):
        _maxpool_forward_sample(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax, n)
    return out, argmax


@njit(cache=True, nogil=True, parallel=True)
def maxpool_backward_parallel(dy, argmax, out):
    """:func:`maxpool_backward` on numba's thread pool, parallel over the batch."""
    dyf, af, dxf = _flat_views(dy, argmax, out)
    for n in prange(out.shape[0]):
        _maxpool_backward_sample(dyf, af, dxf, n)
    return out


@njit(cache=True, nogil=True)
def maxpool_backward_serial(dy, argmax, out):
    """:func:`maxpool_backward` on the calling thread: bit-identical to the parallel kernel."""
    dyf, af, dxf = _flat_views(dy, argmax, out)
    for n in range(out.shape[0]):
        _maxpool_backward_sample(dyf, af, dxf, n)
    return out


# -- dispatchers: the pool unless the calling thread already owns a core ------------------------
def maxpool_forward(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax):
    """Max over each (ph, pw) window of ``x``, recording where it came from.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C), C-contiguous float32 or float64
    ph, pw : int
        Pool height and width.
    sh, sw : int
        Strides.
    pad_top, pad_left : int
        Implicit padding before the first row and column (never selected). Every
        window must hold at least one in-bounds cell, as Keras's rules guarantee
        (pad_before < pool size); the caller checks this, the kernel does not.
    out : ndarray, shape (N, Ho, Wo, C), same dtype as ``x``; overwritten.
    argmax : ndarray of int32 or int64, shape (N, Ho, Wo, C), or None
        Overwritten with flat indices into ``x[n]`` (0 <= index < H*W*C). None at
        inference, where nothing needs them: numba then compiles a version without
        them (it prunes the ``argmax is None`` branch), whose max loop vectorizes.

    Returns
    -------
    out, argmax
    """
    kernel = maxpool_forward_parallel if use_pool() else maxpool_forward_serial
    return kernel(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax)


def maxpool_backward(dy, argmax, out):
    """Scatter ``dy`` onto the recorded maxima: the gradient of :func:`maxpool_forward`.

    Parameters
    ----------
    dy : ndarray, shape (N, Ho, Wo, C), C-contiguous float32 or float64
    argmax : ndarray of int, shape (N, Ho, Wo, C), from :func:`maxpool_forward`
    out : ndarray, shape (N, H, W, C), same dtype as ``dy``; zeroed, then accumulated into.

    Returns
    -------
    out
    """
    kernel = maxpool_backward_parallel if use_pool() else maxpool_backward_serial
    return kernel(dy, argmax, out)


def maxpool_forward_reference(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax):
    """Plain-NumPy :func:`maxpool_forward`: gather every window, take its max, find it."""
    N, H, W, C = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    r = np.arange(Ho)[:, None] * sh - pad_top + np.arange(ph)  # (Ho, ph): each window's rows
    s = np.arange(Wo)[:, None] * sw - pad_left + np.arange(pw)  # (Wo, pw): its columns
    inside = ((r >= 0) & (r < H))[:, None, :, None] & ((s >= 0) & (s < W))[None, :, None, :]
    inside = inside.reshape(1, Ho, Wo, ph * pw, 1)
    rc, sc = np.clip(r, 0, H - 1), np.clip(s, 0, W - 1)
    v = x[:, rc[:, None, :, None], sc[None, :, None, :]].reshape(N, Ho, Wo, ph * pw, C)
    # The max over the in-bounds cells (np.max gives NaN if one is NaN) ...
    best = np.where(inside, v, -np.inf).max(axis=3, keepdims=True)
    # ... and the first in-bounds cell holding it: the first NaN if best is NaN.
    hit = inside & ((v == best) | (np.isnan(v) & np.isnan(best)))
    first = hit.argmax(axis=3)[:, :, :, None]  # argmax of booleans: the first True
    flat = (r[:, None, :, None] * W + s[None, :, None, :]).reshape(1, Ho, Wo, ph * pw, 1) * C
    flat = np.broadcast_to(flat + np.arange(C), v.shape)  # (r*W + s)*C + c: an index into x[n]
    out[...] = best[:, :, :, 0]
    if argmax is not None:
        argmax[...] = np.take_along_axis(flat, first, axis=3)[:, :, :, 0]
    return out, argmax


def maxpool_backward_reference(dy, argmax, out):
    """Plain-NumPy :func:`maxpool_backward`: ``np.add.at`` onto each sample's flat dx."""
    N = out.shape[0]
    dxf = np.zeros((N, out.size // max(N, 1)), dtype=out.dtype)
    rows = np.repeat(np.arange(N), dy.size // max(N, 1))
    np.add.at(dxf, (rows, argmax.reshape(-1)), dy.reshape(-1))  # unbuffered: repeats add up
    out[...] = dxf.reshape(out.shape)
    return out
