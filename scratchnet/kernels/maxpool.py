"""Channels-last max-pooling, forward and backward, as numba kernels with NumPy references.

Forward, for each output element (n, i, j, c), over the window rows
``i*sh - pad_top + [0, ph)`` and columns ``j*sw - pad_left + [0, pw)``::

    y[n, i, j, c]      = max of x[n, r, s, c] over the window's in-bounds cells
    argmax[n, i, j, c] = (r*W + s)*C + c of that maximum: a flat index into x[n]

Padded cells are skipped, as if they held -inf: they never win, and a window always
has at least one in-bounds cell for the Keras padding rules. Ties go to the first
cell in row-major window order (a strict ``>``), in the kernel and the reference alike.

Backward routes each output's gradient to exactly the one input recorded in argmax::

    dx[n].flat[argmax[n, i, j, c]] += dy[n, i, j, c]

With overlapping windows (stride < pool size) one input can win two windows, so
the backward accumulates; it does so inside sample n's own iteration, so the
``prange`` over the batch never has two iterations writing one element.

Both kernels have a ``*_serial`` twin that runs the same per-sample code in a plain
loop: a caller that already runs on its own core (one shard of a batch, see
``scratchnet.kernels.threads``) must not wake the thread pool. Kernel and twin give
bit-identical results, and all of them release the GIL (``nogil=True``), so two Python
threads can run them at once.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


# -- the work of one sample, shared by the parallel kernels and their serial twins -------------
# numba inlines the forward helper itself: left to LLVM, the parallel forward measured 5-10%
# slower than with the loop written in place (the other helpers measured no difference).
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
                            # max(m, v) is v only if v > m: ties keep the first, as below
                            out[n, i, j, c] = max(out[n, i, j, c], x[n, r0 + a, s0 + b, c])
                continue
            for c in range(C):
                argmax[n, i, j, c] = (r * W + s) * C + c
            for a in range(a_lo, a_hi):
                r = r0 + a
                for b in range(b_lo, b_hi):
                    s = s0 + b
                    base = (r * W + s) * C
                    for c in range(C):
                        v = x[n, r, s, c]
                        if v > out[n, i, j, c]:
                            out[n, i, j, c] = v
                            argmax[n, i, j, c] = base + c


@njit(cache=True, nogil=True)
def _maxpool_backward_sample(dyf, af, dxf, n):
    """Write row ``n`` of ``dxf``: the flat (N, H*W*C) view of :func:`maxpool_backward`'s out."""
    for k in range(dxf.shape[1]):
        dxf[n, k] = 0
    for k in range(dyf.shape[1]):
        dxf[n, af[n, k]] += dyf[n, k]


@njit(cache=True, nogil=True)
def _flat_views(dy, argmax, out):
    """dy, argmax and out as (N, elements of one sample) views, for the backward."""
    N = out.shape[0]
    per_out = dy.size // N if N > 0 else 0
    return (dy.reshape(N, per_out), argmax.reshape(N, per_out),
            out.reshape(N, out.size // N if N > 0 else 0))


# -- parallel kernels (prange over the batch) and serial twins ------------------------------
@njit(cache=True, nogil=True, parallel=True)
def maxpool_forward(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax):
    """Max over each (ph, pw) window of ``x``, recording where it came from (numba).

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
    for n in prange(x.shape[0]):
        _maxpool_forward_sample(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax, n)
    return out, argmax


@njit(cache=True, nogil=True)
def maxpool_forward_serial(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax):
    """:func:`maxpool_forward` on the calling thread only: same arguments, bit-identical result.

    Returns
    -------
    out, argmax
    """
    for n in range(x.shape[0]):
        _maxpool_forward_sample(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax, n)
    return out, argmax


@njit(cache=True, nogil=True, parallel=True)
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
    dyf, af, dxf = _flat_views(dy, argmax, out)
    for n in prange(out.shape[0]):
        _maxpool_backward_sample(dyf, af, dxf, n)
    return out


@njit(cache=True, nogil=True)
def maxpool_backward_serial(dy, argmax, out):
    """:func:`maxpool_backward` on the calling thread only: same arguments, bit-identical result.

    Returns
    -------
    out
    """
    dyf, af, dxf = _flat_views(dy, argmax, out)
    for n in range(out.shape[0]):
        _maxpool_backward_sample(dyf, af, dxf, n)
    return out


def maxpool_forward_reference(x, ph, pw, sh, sw, pad_top, pad_left, out, argmax):
    """Plain-NumPy :func:`maxpool_forward`: a running max over the ph*pw window offsets."""
    N, H, W, C = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    best = np.zeros(out.shape, dtype=x.dtype)
    where = np.full(out.shape, -1, dtype=np.int64)  # -1: no in-bounds cell seen yet
    rows = np.arange(Ho) * sh - pad_top
    cols = np.arange(Wo) * sw - pad_left
    chan = np.arange(C)
    for a in range(ph):
        for b in range(pw):
            r, s = rows + a, cols + b
            inside = ((r >= 0) & (r < H))[:, None] & ((s >= 0) & (s < W))[None, :]  # (Ho, Wo)
            v = x[:, np.clip(r, 0, H - 1)][:, :, np.clip(s, 0, W - 1)]  # (N, Ho, Wo, C)
            take = inside[None, :, :, None] & ((where < 0) | (v > best))
            flat = ((r[:, None, None] * W + s[None, :, None]) * C + chan)[None]  # (1, Ho, Wo, C)
            best = np.where(take, v, best)
            where = np.where(take, flat, where)
    out[...] = best
    if argmax is not None:
        argmax[...] = where
    return out, argmax


def maxpool_backward_reference(dy, argmax, out):
    """Plain-NumPy :func:`maxpool_backward`: ``np.add.at`` onto each sample's flat dx."""
    N = out.shape[0]
    dxf = np.zeros((N, out.size // max(N, 1)), dtype=out.dtype)
    rows = np.repeat(np.arange(N), dy.size // max(N, 1))
    np.add.at(dxf, (rows, argmax.reshape(-1)), dy.reshape(-1))  # unbuffered: repeats add up
    out[...] = dxf.reshape(out.shape)
    return out
