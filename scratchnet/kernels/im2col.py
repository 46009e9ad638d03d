"""im2col / col2im for channels-last convolution, as numba kernels with NumPy references.

im2col turns every receptive field of ``x`` into one row, so a convolution becomes a
single GEMM with the kernel reshaped to a matrix::

    x     (N, H, W, C)
    cols  (N, Ho, Wo, kh*kw*C)      cols[n, i, j, (a*kw + b)*C + c]
                                        = x[n, i*sh - pad_top + a, j*sw - pad_left + b, c]
                                          (0 where that position falls in the padding)

The column order (a, b, c) is the C-order of a Keras kernel ``W`` of shape
(kh, kw, C, F), so ``cols.reshape(-1, kh*kw*C) @ W.reshape(kh*kw*C, F)`` is the
convolution, with no transposes. col2im is the adjoint (transpose) of im2col: it
scatters each row back onto the positions it was copied from, summing where windows
overlap; that is exactly the backward pass of im2col.

Padding is never materialised: the kernels bounds-check each position, and the
padded cells are read as 0 (im2col) or dropped (col2im). ``pad_top``/``pad_left`` are
the padding before the first row/column; the padding after is implied by the output
size ``Ho, Wo`` taken from the shape of ``cols``.

``im2col_parallel`` and ``col2im_parallel`` run ``prange`` over the batch only: sample
``n`` reads and writes only ``x[n]``/``cols[n]``, so iterations never touch the same
element. Each has a ``*_serial`` twin that runs the same per-sample code in a plain loop,
bit for bit the same, and ``im2col``/``col2im`` pick one of the two: the twin when the
calling thread already owns a core (one shard of a batch, see
``scratchnet.kernels.threads``). All of them release the GIL (``nogil=True``).

``im2col_valid_parallel``/``im2col_valid_serial`` are the same copy for the common case,
stride 1 with every window inside ``x`` ('valid' padding), and ``im2col`` hands that case
to them: without the padding tests they compile in about half the time, which a first
run waits for (see benchmarks/README.md, "Cost of starting").
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scratchnet.kernels.threads import use_pool

# Below this many values in a window row (kw*C), a sample is copied one column of cols at
# a time, because copying runs this short costs more than the copy itself.
# Measured: see benchmarks/README.md, "Measurements behind the kernels' choices".
NARROW_RUN = 10


# -- the work of one sample, shared by the parallel kernels and their serial twins -------------
@njit(cache=True, nogil=True, inline="always")
def _im2col_sample(x, kh, kw, sh, sw, pad_top, pad_left, out, n):
    """Write ``out[n]``, the rows of sample ``n``; the arguments are as in :func:`im2col`."""
    if kw * x.shape[3] < NARROW_RUN:
        _im2col_sample_narrow(x, kh, kw, sh, sw, pad_top, pad_left, out, n)
    else:
        _im2col_sample_wide(x, kh, kw, sh, sw, pad_top, pad_left, out, n)


@njit(cache=True, nogil=True, inline="always")
def _im2col_sample_narrow(x, kh, kw, sh, sw, pad_top, pad_left, out, n):
    """:func:`_im2col_sample` for short window rows: one column of cols at a time.

    A run of kw*C = 3 values (a 3 x 3 kernel on one channel) is too short to copy
    efficiently, so here the inner loop runs along an output row instead: column
    (a, b, c) of cols, for j = 0..Wo-1, reads x[n, r, j*sw + b - pad_left, c]. The
    in-bounds range of j is worked out once, so that loop has no branch.
    """
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    Ho, Wo = out.shape[1], out.shape[2]
    for i in range(Ho):
        for a in range(kh):
            r = i * sh - pad_top + a
            for b in range(kw):
                # j in [j_lo, j_hi) reads column s = j*sw + b - pad_left inside [0, W).
                j_lo = min(Wo, max(0, (pad_left - b + sw - 1) // sw))
                j_hi = max(j_lo, min(Wo, (W - 1 + pad_left - b) // sw + 1))
                if r < 0 or r >= H:
                    j_lo = j_hi = Wo  # the whole window row is padding
                for c in range(C):
                    col = (a * kw + b) * C + c
                    for j in range(j_lo):
                        out[n, i, j, col] = 0
                    for j in range(j_lo, j_hi):
                        out[n, i, j, col] = x[n, r, j * sw + b - pad_left, c]
                    for j in range(j_hi, Wo):
                        out[n, i, j, col] = 0


@njit(cache=True, nogil=True, inline="always")
def _im2col_sample_wide(x, kh, kw, sh, sw, pad_top, pad_left, out, n):
    """:func:`_im2col_sample` for window rows of at least ``NARROW_RUN`` values."""
    N, H, W, C = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    # Row r of one sample, x[n, r], is W*C contiguous values, and a window row
    # x[n, r, s0:s0 + kw, :] is the contiguous run xr[n, r, s0*C : (s0 + kw)*C], which
    # lands in cols as one run too. Copying whole runs keeps the inner loop long even
    # when C = 1 (a first layer on grayscale images).
    xr = x.reshape(N, H, W * C)
    run = kw * C
    for i in range(Ho):
        r0 = i * sh - pad_top
        for j in range(Wo):
            s0 = j * sw - pad_left
            inside_w = s0 >= 0 and s0 + kw <= W
            for a in range(kh):
                r = r0 + a
                col = a * run
                if r < 0 or r >= H:
                    for t in range(run):  # the whole window row is padding
                        out[n, i, j, col + t] = 0
                elif inside_w:
                    base = s0 * C
                    for t in range(run):
                        out[n, i, j, col + t] = xr[n, r, base + t]
                else:  # the window row crosses the left/right padding
                    for b in range(kw):
                        s = s0 + b
                        for c in range(C):
                            if s >= 0 and s < W:
                                out[n, i, j, col + b * C + c] = x[n, r, s, c]
                            else:
                                out[n, i, j, col + b * C + c] = 0


@njit(cache=True, nogil=True, inline="always")
def _im2col_sample_valid(x, kh, kw, out, n):
    """:func:`_im2col_sample` for stride 1, no padding and every window inside ``x``.

    The common case (a 'valid' convolution, or a crop of one), in its own kernel: with no
    padding to test, it compiles in a fraction of the general kernel's time. Written with
    plain ``i + a`` indices, numba sees that every index is >= 0, drops its negative-index
    wraparound and vectorizes the copies (measured: see benchmarks/README.md).
    """
    N, H, W, C = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    if kw * C < NARROW_RUN:  # short window rows: one column of cols at a time
        for i in range(Ho):
            for a in range(kh):
                for b in range(kw):
                    for c in range(C):
                        col = (a * kw + b) * C + c
                        for j in range(Wo):
                            out[n, i, j, col] = x[n, i + a, j + b, c]
        return
    xr = x.reshape(N, H, W * C)  # a window row is one contiguous run of kw*C values
    run = kw * C
    for i in range(Ho):
        for j in range(Wo):
            for a in range(kh):
                for t in range(run):
                    out[n, i, j, a * run + t] = xr[n, i + a, j * C + t]


@njit(cache=True, nogil=True, inline="always")
def _col2im_sample(cols, kh, kw, sh, sw, pad_top, pad_left, out, n):
    """Write ``out[n]`` from the rows of sample ``n``; the arguments are as in :func:`col2im`."""
    H, W, C = out.shape[1], out.shape[2], out.shape[3]
    Ho, Wo = cols.shape[1], cols.shape[2]
    for r in range(H):
        for s in range(W):
            for c in range(C):
                out[n, r, s, c] = 0
    for a in range(kh):
        for b in range(kw):
            col = (a * kw + b) * C
            for i in range(Ho):
                r = i * sh - pad_top + a
                if r < 0 or r >= H:
                    continue  # this row of the window lies in the padding
                for j in range(Wo):
                    s = j * sw - pad_left + b
                    if s < 0 or s >= W:
                        continue
                    for c in range(C):
                        out[n, r, s, c] += cols[n, i, j, col + c]


# -- parallel kernels (prange over the batch) and serial twins ------------------------------
@njit(cache=True, nogil=True, parallel=True)
def im2col_parallel(x, kh, kw, sh, sw, pad_top, pad_left, out):
    """:func:`im2col` on numba's thread pool, parallel over the batch."""
    for n in prange(x.shape[0]):
        _im2col_sample(x, kh, kw, sh, sw, pad_top, pad_left, out, n)
    return out


@njit(cache=True, nogil=True)
def im2col_serial(x, kh, kw, sh, sw, pad_top, pad_left, out):
    """:func:`im2col` on the calling thread only: bit-identical to :func:`im2col_parallel`."""
    for n in range(x.shape[0]):
        _im2col_sample(x, kh, kw, sh, sw, pad_top, pad_left, out, n)
    return out


@njit(cache=True, nogil=True, parallel=True)
def im2col_valid_parallel(x, kh, kw, out):
    """:func:`im2col_valid` on numba's thread pool, parallel over the batch."""
    for n in prange(x.shape[0]):
        _im2col_sample_valid(x, kh, kw, out, n)
    return out


@njit(cache=True, nogil=True)
def im2col_valid_serial(x, kh, kw, out):
    """:func:`im2col_valid` on the calling thread only: bit-identical to the parallel kernel."""
    for n in range(x.shape[0]):
        _im2col_sample_valid(x, kh, kw, out, n)
    return out


@njit(cache=True, nogil=True, parallel=True)
def col2im_parallel(cols, kh, kw, sh, sw, pad_top, pad_left, out):
    """:func:`col2im` on numba's thread pool, parallel over the batch."""
    for n in prange(out.shape[0]):
        _col2im_sample(cols, kh, kw, sh, sw, pad_top, pad_left, out, n)
    return out


@njit(cache=True, nogil=True)
def col2im_serial(cols, kh, kw, sh, sw, pad_top, pad_left, out):
    """:func:`col2im` on the calling thread only: bit-identical to :func:`col2im_parallel`."""
    for n in range(out.shape[0]):
        _col2im_sample(cols, kh, kw, sh, sw, pad_top, pad_left, out, n)
    return out


# -- dispatchers: the pool unless the calling thread already owns a core ------------------------
def im2col(x, kh, kw, sh, sw, pad_top, pad_left, out):
    """Copy every (kh, kw) window of ``x`` into one row of ``out``.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C), C-contiguous float32 or float64
    kh, kw : int
        Kernel height and width.
    sh, sw : int
        Strides.
    pad_top, pad_left : int
        Implicit zero padding before the first row and column.
    out : ndarray, shape (N, Ho, Wo, kh*kw*C), same dtype as ``x``
        Overwritten entirely (padding cells are written as 0).

    Returns
    -------
    out
    """
    if is_valid(x, kh, kw, sh, sw, pad_top, pad_left, out):
        return im2col_valid(x, kh, kw, out)
    kernel = im2col_parallel if use_pool() else im2col_serial
    return kernel(x, kh, kw, sh, sw, pad_top, pad_left, out)


def is_valid(x, kh, kw, sh, sw, pad_top, pad_left, out) -> bool:
    """Whether every window lies inside x with stride 1 (:func:`im2col_valid`'s case)."""
    return (sh == 1 and sw == 1 and pad_top == 0 and pad_left == 0
            and out.shape[1] - 1 + kh <= x.shape[1] and out.shape[2] - 1 + kw <= x.shape[2])


def im2col_valid(x, kh, kw, out):
    """:func:`im2col` with stride 1 and no padding, every window inside ``x`` (``out``'s
    Ho x Wo may be a top-left crop of the full output); what :func:`im2col` runs then."""
    kernel = im2col_valid_parallel if use_pool() else im2col_valid_serial
    return kernel(x, kh, kw, out)


def col2im(cols, kh, kw, sh, sw, pad_top, pad_left, out):
    """Adjoint of :func:`im2col`: sum each row of ``cols`` back onto its window.

    Parameters
    ----------
    cols : ndarray, shape (N, Ho, Wo, kh*kw*C), C-contiguous float32 or float64
    kh, kw, sh, sw, pad_top, pad_left : int
        As in :func:`im2col`.
    out : ndarray, shape (N, H, W, C), same dtype as ``cols``
        Overwritten: zeroed, then accumulated into.

    Returns
    -------
    out
        ``out[n, r, s, c]`` = sum of every ``cols`` entry that im2col copied from ``x[n, r, s, c]``.

    Notes
    -----
    The loops run over the kernel offset (a, b) outside the output position (i, j), so
    each (a, b) adds at most once to a given cell.
    """
    kernel = col2im_parallel if use_pool() else col2im_serial
    return kernel(cols, kh, kw, sh, sw, pad_top, pad_left, out)


def _padded_extent(size, k, stride, pad_before, n_out):
    """Padding after the input so that ``n_out`` windows fit: (before, after) for np.pad."""
    return pad_before, max((n_out - 1) * stride + k - size - pad_before, 0)


def im2col_reference(x, kh, kw, sh, sw, pad_top, pad_left, out):
    """Plain-NumPy :func:`im2col`: pad with zeros, then one strided slice per kernel offset."""
    N, H, W, C = x.shape
    Ho, Wo = out.shape[1], out.shape[2]
    xp = np.pad(x, ((0, 0), _padded_extent(H, kh, sh, pad_top, Ho),
                    _padded_extent(W, kw, sw, pad_left, Wo), (0, 0)))
    view = out.reshape(N, Ho, Wo, kh, kw, C)
    for a in range(kh):
        for b in range(kw):
            # Output (i, j) reads padded row a + i*sh and column b + j*sw.
            rs, cs = slice(a, a + sh * (Ho - 1) + 1, sh), slice(b, b + sw * (Wo - 1) + 1, sw)
            view[:, :, :, a, b, :] = xp[:, rs, cs, :]
    return out


def im2col_valid_reference(x, kh, kw, out):
    """:func:`im2col_reference` with stride 1 and no padding."""
    return im2col_reference(x, kh, kw, 1, 1, 0, 0, out)


def col2im_reference(cols, kh, kw, sh, sw, pad_top, pad_left, out):
    """Plain-NumPy :func:`col2im`: add each kernel offset's slice into a padded buffer, crop."""
    N, H, W, C = out.shape
    Ho, Wo = cols.shape[1], cols.shape[2]
    pt, pb = _padded_extent(H, kh, sh, pad_top, Ho)
    pl, pr = _padded_extent(W, kw, sw, pad_left, Wo)
    dxp = np.zeros((N, H + pt + pb, W + pl + pr, C), dtype=out.dtype)
    view = cols.reshape(N, Ho, Wo, kh, kw, C)
    for a in range(kh):
        for b in range(kw):
            rs, cs = slice(a, a + sh * (Ho - 1) + 1, sh), slice(b, b + sw * (Wo - 1) + 1, sw)
            dxp[:, rs, cs, :] += view[:, :, :, a, b, :]
    out[...] = dxp[:, pt:pt + H, pl:pl + W, :]  # gradient that landed on padding is dropped
    return out
