"""Affine map and bilinear sampling in one pass: the data-augmentation kernel.

For each image n and output pixel (i, j), the source point is computed and sampled at
once, so no coordinate grid is ever stored::

    r = A[n,0,0]*i + A[n,0,1]*j + A[n,0,2]  (+ d[n,i,j,0])
    s = A[n,1,0]*i + A[n,1,1]*j + A[n,1,2]  (+ d[n,i,j,1])
    y[n,i,j,c] = sum over a, b in {0, 1} of  w_a(r) w_b(s) * x[n, floor(r)+a, floor(s)+b, c]

with w_0(t) = 1 - (t - floor t), w_1(t) = t - floor t; a neighbour outside the image reads
``fill``, and a source point outside (-1, H) x (-1, W) (NaN and inf included) reads
``fill`` for all four, as if it were (0, 0) with its neighbours outside. The four terms are
added in the order (0,0), (0,1), (1,0), (1,1), each multiplied even by a zero weight, so a
NaN or inf in x spreads exactly as in the reference. Coordinates and weights are computed
in x's dtype.

The backward scatters each dy[n,i,j,c] onto the same four pixels with the same weights
(the transpose of the forward, which is linear in x). It writes only into image n's own
dx, so the ``prange`` over the batch never has two iterations writing one element.

``*_parallel`` kernels run ``prange`` over the batch; each has a ``*_serial`` twin running
the same per-image code, bit for bit the same; the dispatchers pick one of them
(``scratchnet.kernels.threads``). ``*_reference`` are plain NumPy, written another way
(a padded image, so every neighbour can be indexed), and are what the tests compare with.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scratchnet.kernels.threads import use_pool


@njit(cache=True, nogil=True, inline="always")
def _grids(x, ho, wo):
    """Row and column indices as x's dtype, and the constants 0 and 1 in it.

    numba types a Python literal as float64, and ``int * float32`` as float64 too; these
    keep every coordinate in x's dtype, as the reference computes them."""
    gi, gj, k = np.empty(ho, dtype=x.dtype), np.empty(wo, dtype=x.dtype), np.empty(2, x.dtype)
    for i in range(ho):
        gi[i] = i
    for j in range(wo):
        gj[j] = j
    k[0], k[1] = 0, 1
    return gi, gj, k[0], k[1]


@njit(cache=True, nogil=True, inline="always")
def _source(a, gi, gj, displacement, n, i, j, H, W, zero):
    """The source point of output (i, j) of image n, and whether it lies in (-1,H)x(-1,W)."""
    r = a[0, 0] * gi[i] + a[0, 1] * gj[j] + a[0, 2]
    s = a[1, 0] * gi[i] + a[1, 1] * gj[j] + a[1, 2]
    if displacement is not None:
        r = r + displacement[n, i, j, 0]
        s = s + displacement[n, i, j, 1]
    if r > -1 and r < H and s > -1 and s < W:
        return r, s, True
    return zero, zero, False


@njit(cache=True, nogil=True, inline="always")
def _forward_image(x, matrices, displacement, fill, out, n):
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    Ho, Wo = out.shape[1], out.shape[2]
    gi, gj, zero, one = _grids(x, Ho, Wo)
    a = matrices[n]
    for i in range(Ho):
        for j in range(Wo):
            r, s, ok = _source(a, gi, gj, displacement, n, i, j, H, W, zero)
            r0, s0 = np.floor(r), np.floor(s)
            fr, fs = r - r0, s - s0
            ir, js = int(r0), int(s0)
            for c in range(C):
                out[n, i, j, c] = zero
            for da in range(2):
                wr = one - fr if da == 0 else fr
                rr = ir + da
                for db in range(2):
                    w = wr * (one - fs if db == 0 else fs)
                    ss = js + db
                    if ok and rr >= 0 and rr < H and ss >= 0 and ss < W:
                        for c in range(C):
                            out[n, i, j, c] += w * x[n, rr, ss, c]
                    else:
                        for c in range(C):
                            out[n, i, j, c] += w * fill


@njit(cache=True, nogil=True, inline="always")
def _backward_image(dy, matrices, displacement, out, n):
    H, W, C = out.shape[1], out.shape[2], out.shape[3]
    Ho, Wo = dy.shape[1], dy.shape[2]
    gi, gj, zero, one = _grids(dy, Ho, Wo)
    a = matrices[n]
    for r_ in range(H):
        for s_ in range(W):
            for c in range(C):
                out[n, r_, s_, c] = zero
    for i in range(Ho):
        for j in range(Wo):
            r, s, ok = _source(a, gi, gj, displacement, n, i, j, H, W, zero)
            if not ok:
                continue  # only the fill was read: nothing flows back to x
            r0, s0 = np.floor(r), np.floor(s)
            fr, fs = r - r0, s - s0
            ir, js = int(r0), int(s0)
            for da in range(2):
                wr = one - fr if da == 0 else fr
                rr = ir + da
                for db in range(2):
                    w = wr * (one - fs if db == 0 else fs)
                    ss = js + db
                    if rr >= 0 and rr < H and ss >= 0 and ss < W:
                        for c in range(C):
                            out[n, rr, ss, c] += w * dy[n, i, j, c]


# -- parallel kernels (prange over the batch) and serial twins ------------------------------
@njit(cache=True, nogil=True, parallel=True)
def affine_sample_forward_parallel(x, matrices, displacement, fill, out):
    """:func:`affine_sample_forward` on numba's thread pool, parallel over the images."""
    for n in prange(x.shape[0]):
        _forward_image(x, matrices, displacement, fill, out, n)
    return out


@njit(cache=True, nogil=True)
def affine_sample_forward_serial(x, matrices, displacement, fill, out):
    """:func:`affine_sample_forward` on the calling thread: bit-identical to the parallel."""
    for n in range(x.shape[0]):
        _forward_image(x, matrices, displacement, fill, out, n)
    return out


@njit(cache=True, nogil=True, parallel=True)
def affine_sample_backward_parallel(dy, matrices, displacement, out):
    """:func:`affine_sample_backward` on numba's thread pool, parallel over the images."""
    for n in prange(dy.shape[0]):
        _backward_image(dy, matrices, displacement, out, n)
    return out


@njit(cache=True, nogil=True)
def affine_sample_backward_serial(dy, matrices, displacement, out):
    """:func:`affine_sample_backward` on the calling thread: bit-identical to the parallel."""
    for n in range(dy.shape[0]):
        _backward_image(dy, matrices, displacement, out, n)
    return out


# -- dispatchers: the pool unless the calling thread already owns a core ------------------------
def affine_sample_forward(x, matrices, displacement, fill, out):
    """Resample each image of ``x`` under its affine map (plus displacement), bilinearly.

    Parameters
    ----------
    x : ndarray (N, H, W, C), C-contiguous float32 or float64
    matrices : ndarray (N, 2, 3), x's dtype: output (i, j, 1) -> source (row, col)
    displacement : ndarray (N, Ho, Wo, 2), x's dtype, or None
        Added to each source point (elastic distortion); None compiles a version without.
    fill : scalar of x's dtype
        What a neighbour outside the image reads.
    out : ndarray (N, Ho, Wo, C), x's dtype; overwritten.

    Returns
    -------
    out
    """
    kernel = affine_sample_forward_parallel if use_pool() else affine_sample_forward_serial
    return kernel(x, matrices, displacement, fill, out)


def affine_sample_backward(dy, matrices, displacement, out):
    """The transpose of :func:`affine_sample_forward`: dy (N, Ho, Wo, C) -> out (N, H, W, C).

    ``out`` (x's shape and dtype) is zeroed, then accumulated into.
    """
    kernel = affine_sample_backward_parallel if use_pool() else affine_sample_backward_serial
    return kernel(dy, matrices, displacement, out)


# -- plain NumPy references ----------------------------------------------------------------
def _padded_taps(matrices, displacement, H, W, Ho, Wo):
    """Per output pixel: the top-left neighbour in an image padded by 2 on every side,
    and the fractional parts. A point outside (-1,H)x(-1,W) moves to (-2,-2), whose four
    neighbours all lie in the padding (fill), with weights 1, 0, 0, 0 as the kernel's."""
    dt = matrices.dtype
    i, j = np.arange(Ho, dtype=dt)[:, None], np.arange(Wo, dtype=dt)[None, :]
    a = matrices[:, :, :, None, None]
    r = a[:, 0, 0] * i + a[:, 0, 1] * j + a[:, 0, 2]
    s = a[:, 1, 0] * i + a[:, 1, 1] * j + a[:, 1, 2]
    if displacement is not None:
        r, s = r + displacement[..., 0], s + displacement[..., 1]
    ok = (r > -1) & (r < H) & (s > -1) & (s < W)
    r, s = np.where(ok, r, dt.type(-2)), np.where(ok, s, dt.type(-2))
    r0, s0 = np.floor(r), np.floor(s)
    return r0.astype(np.int64) + 2, s0.astype(np.int64) + 2, r - r0, s - s0


def affine_sample_forward_reference(x, matrices, displacement, fill, out):
    """Plain-NumPy :func:`affine_sample_forward`: gather from an image padded with ``fill``."""
    N, H, W, _ = x.shape
    pr, ps, fr, fs = _padded_taps(matrices, displacement, H, W, out.shape[1], out.shape[2])
    xp = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=fill)
    n, one = np.arange(N)[:, None, None], x.dtype.type(1)
    acc = np.zeros(out.shape, dtype=x.dtype)
    for da, wr in ((0, one - fr), (1, fr)):
        for db, ws in ((0, one - fs), (1, fs)):
            with np.errstate(invalid="ignore"):  # 0 * inf = NaN, as the kernel gives
                acc += (wr * ws)[..., None] * xp[n, pr + da, ps + db]
    out[...] = acc
    return out


def affine_sample_backward_reference(dy, matrices, displacement, out):
    """Plain-NumPy :func:`affine_sample_backward`: ``np.add.at`` into a padded dx, cropped."""
    N, H, W, C = out.shape
    pr, ps, fr, fs = _padded_taps(matrices, displacement, H, W, dy.shape[1], dy.shape[2])
    dxp = np.zeros((N, H + 4, W + 4, C), dtype=dy.dtype)
    n, one = np.broadcast_to(np.arange(N)[:, None, None], pr.shape), dy.dtype.type(1)
    for da, wr in ((0, one - fr), (1, fr)):
        for db, ws in ((0, one - fs), (1, fs)):
            with np.errstate(invalid="ignore"):  # 0 * inf = NaN, as the kernel gives
                np.add.at(dxp, (n, pr + da, ps + db), (wr * ws)[..., None] * dy)  # repeats add
    out[...] = dxp[:, 2:-2, 2:-2]
    return out
