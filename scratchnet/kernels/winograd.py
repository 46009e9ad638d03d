"""Winograd F(2x2, 3x3): a stride-1 3 x 3 convolution with 2.25x fewer multiplications.

Each 2 x 2 block of outputs (a tile) reads a 4 x 4 patch ``d`` of one input channel.
With the fixed matrices below, for filter ``g`` (3 x 3, one input and one output
channel)::

    V = B^T d B          (4, 4)   the patch, transformed        (winograd_input)
    U = G g G^T          (4, 4)   the filter, transformed       (filter_transform)
    Y = A^T [sum_c U_c * V_c] A   (2, 2) the tile's outputs     (winograd_output)

The sum over input channels ``c`` of elementwise products is, for each of the 16 cells
``xi`` of the 4 x 4 transform, one matrix product ``M[xi] = V[xi] @ U[xi]`` of shape
(tiles, C) @ (C, F): 16 GEMMs of 16 multiply-adds per tile and channel pair, against
the 36 of the 4 outputs computed directly (Lavin and Gray, "Fast Algorithms for
Convolutional Neural Networks", 2016). The result is the convolution up to float
rounding; the transforms only add and subtract (and G halves), so that rounding stays
within a few ulp of the largest term for the 3 x 3 case.

Layouts, channels-last as the rest of the engine::

    x    (N, H, W, C)     2 th + 2 <= H and 2 tw + 2 <= W: every patch lies inside x
    V    (16, R, C)       V[xi, p, :] for tile p = (n th + ti) tw + tj, the patch at rows
                          2 ti ... 2 ti + 3 and columns 2 tj ... 2 tj + 3
    M    (16, R, F)       M[xi] = V[xi] @ U[xi], the 16 GEMMs
    z    (N, 2 th, 2 tw, F)   the tiles' outputs

The kernels take only whole tiles inside the input, a 'valid' convolution whose map (or
the part of it computed) has even sides, as the seed CNN's second convolution: 13 x 13
in, the 10 x 10 its pool reads out. With no padding and no partial tile to test, each
is straight-line code per tile and channel, which numba compiles in a fraction of a
second, and a first run waits for that (benchmarks/README.md, "Cost of starting").

Each of the 16 planes holds R >= N th tw rows (:func:`plane_rows`): the transforms read
or write all 16 planes at once, and planes a multiple of 4 KiB apart would share cache
sets and evict each other (measured: benchmarks/README.md, "Winograd for the second
convolution"). Rows past the tiles are never read by the kernels.

``winograd_input_parallel``/``winograd_output_parallel`` run ``prange`` over the batch
only: sample ``n`` reads and writes only its own tiles. Each has a ``*_serial`` twin, the
same per-sample code in a plain loop, and ``winograd_input``/``winograd_output`` pick one
of the two by the call's size, as ``scratchnet.kernels.bias_act`` does (``parallel_for``):
a prediction of a few images runs, and compiles, only the serial twin. The
``*_reference`` functions are the plain-NumPy definitions the tests hold them to.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit, prange

from scratchnet.kernels.bias_act import parallel_for

#: (4, 4): V = B^T d B.
BT = np.array([[1, 0, -1, 0],
               [0, 1, 1, 0],
               [0, -1, 1, 0],
               [0, 1, 0, -1]], dtype=np.float64)
#: (4, 3): U = G g G^T.
G = np.array([[1, 0, 0],
              [0.5, 0.5, 0.5],
              [0.5, -0.5, 0.5],
              [0, 0, 1]], dtype=np.float64)
#: (2, 4): Y = A^T M A.
AT = np.array([[1, 1, 1, 0],
               [0, 1, -1, -1]], dtype=np.float64)


def tiles(h: int, w: int) -> tuple[int, int]:
    """The (th, tw) 2 x 2 tiles that cover an (h, w) output map."""
    return (h + 1) // 2, (w + 1) // 2


@cache
def plane_rows(tiles: int, row_bytes: int) -> int:
    """Rows per plane, >= ``tiles``, so that the 16 planes start in as many different
    cache sets as rows of ``row_bytes`` allow (16 up to 256-byte rows): the first count
    whose plane size has the fewest factors of 2."""
    def twos(v):
        return (v & -v).bit_length()
    return min(range(tiles, tiles + 16), key=lambda r: (twos(r * row_bytes), r))


def filter_transform(W: np.ndarray) -> np.ndarray:
    """U = G g G^T for every (input, output) channel pair: (3, 3, C, F) -> (16, C, F).

    A handful of small products, once per call, so plain NumPy; in ``W``'s dtype.
    """
    Gt = G.astype(W.dtype)
    t = np.matmul(Gt, W.reshape(3, -1)).reshape(4, 3, -1)  # t[u] = G g, per channel pair
    return np.matmul(Gt, t).reshape(16, *W.shape[2:])  # U[u, v] = sum_b G[v, b] t[u, b]


# -- the work of one sample, shared by the parallel kernels and their serial twins -------------
@njit(cache=True, nogil=True, inline="always")
def _input_sample(x, th, tw, out, n):
    """Write sample ``n``'s rows of ``out``: V = B^T d B for every tile and channel.

    B^T's rows are (d0 - d2), (d1 + d2), (d2 - d1), (d1 - d3): first down each column of
    the patch (t = B^T d), then along each row of t (V = t B).
    """
    for ti in range(th):
        r = 2 * ti
        for tj in range(tw):
            s = 2 * tj
            p = (n * th + ti) * tw + tj
            for c in range(x.shape[3]):
                d00, d01, d02, d03 = x[n, r, s, c], x[n, r, s + 1, c], x[n, r, s + 2, c], \
                    x[n, r, s + 3, c]
                d10, d11, d12, d13 = x[n, r + 1, s, c], x[n, r + 1, s + 1, c], \
                    x[n, r + 1, s + 2, c], x[n, r + 1, s + 3, c]
                d20, d21, d22, d23 = x[n, r + 2, s, c], x[n, r + 2, s + 1, c], \
                    x[n, r + 2, s + 2, c], x[n, r + 2, s + 3, c]
                d30, d31, d32, d33 = x[n, r + 3, s, c], x[n, r + 3, s + 1, c], \
                    x[n, r + 3, s + 2, c], x[n, r + 3, s + 3, c]
                t00, t01, t02, t03 = d00 - d20, d01 - d21, d02 - d22, d03 - d23
                t10, t11, t12, t13 = d10 + d20, d11 + d21, d12 + d22, d13 + d23
                t20, t21, t22, t23 = d20 - d10, d21 - d11, d22 - d12, d23 - d13
                t30, t31, t32, t33 = d10 - d30, d11 - d31, d12 - d32, d13 - d33
                out[0, p, c], out[1, p, c] = t00 - t02, t01 + t02
                out[2, p, c], out[3, p, c] = t02 - t01, t01 - t03
                out[4, p, c], out[5, p, c] = t10 - t12, t11 + t12
                out[6, p, c], out[7, p, c] = t12 - t11, t11 - t13
                out[8, p, c], out[9, p, c] = t20 - t22, t21 + t22
                out[10, p, c], out[11, p, c] = t22 - t21, t21 - t23
                out[12, p, c], out[13, p, c] = t30 - t32, t31 + t32
                out[14, p, c], out[15, p, c] = t32 - t31, t31 - t33


@njit(cache=True, nogil=True, inline="always")
def _tile_outputs(m, p, f):
    """The 2 x 2 outputs of tile ``p`` for filter ``f``: Y = A^T M A. A^T's rows are
    (m0 + m1 + m2) and (m1 - m2 - m3): first down each column of M, then along the rows."""
    a0 = m[0, p, f] + m[4, p, f] + m[8, p, f]
    a1 = m[1, p, f] + m[5, p, f] + m[9, p, f]
    a2 = m[2, p, f] + m[6, p, f] + m[10, p, f]
    a3 = m[3, p, f] + m[7, p, f] + m[11, p, f]
    b0 = m[4, p, f] - m[8, p, f] - m[12, p, f]
    b1 = m[5, p, f] - m[9, p, f] - m[13, p, f]
    b2 = m[6, p, f] - m[10, p, f] - m[14, p, f]
    b3 = m[7, p, f] - m[11, p, f] - m[15, p, f]
    return a0 + a1 + a2, a1 - a2 - a3, b0 + b1 + b2, b1 - b2 - b3


@njit(cache=True, nogil=True, inline="always")
def _output_sample(m, th, tw, out, n):
    """Write ``out[n]``: every tile's 2 x 2 outputs."""
    for ti in range(th):
        i = 2 * ti
        for tj in range(tw):
            j = 2 * tj
            p = (n * th + ti) * tw + tj
            for f in range(out.shape[3]):
                y00, y01, y10, y11 = _tile_outputs(m, p, f)
                out[n, i, j, f], out[n, i, j + 1, f] = y00, y01
                out[n, i + 1, j, f], out[n, i + 1, j + 1, f] = y10, y11


@njit(cache=True, nogil=True, inline="always")
def _output_pool_sample(m, th, tw, out, n):
    """Write ``out[n]``: the max of each tile's 2 x 2 outputs (a 2 x 2, stride-2 max-pool).

    A window holding a NaN gives NaN, as ``scratchnet.kernels.maxpool`` does: nothing is
    greater than NaN, so once taken it stays.
    """
    for ti in range(th):
        for tj in range(tw):
            p = (n * th + ti) * tw + tj
            for f in range(out.shape[3]):
                best, y01, y10, y11 = _tile_outputs(m, p, f)
                best = y01 if y01 > best or y01 != y01 else best
                best = y10 if y10 > best or y10 != y10 else best
                best = y11 if y11 > best or y11 != y11 else best
                out[n, ti, tj, f] = best


# -- parallel kernels (prange over the batch) and serial twins ------------------------------
@njit(cache=True, nogil=True, parallel=True)
def winograd_input_parallel(x, th, tw, out):
    """:func:`winograd_input` on numba's thread pool, parallel over the batch."""
    for n in prange(x.shape[0]):
        _input_sample(x, th, tw, out, n)
    return out


@njit(cache=True, nogil=True)
def winograd_input_serial(x, th, tw, out):
    """:func:`winograd_input` on the calling thread only: bit-identical to the parallel one."""
    for n in range(x.shape[0]):
        _input_sample(x, th, tw, out, n)
    return out


@njit(cache=True, nogil=True, parallel=True)
def winograd_output_parallel(m, th, tw, out):
    """:func:`winograd_output` on numba's thread pool, parallel over the batch."""
    for n in prange(out.shape[0]):
        _output_sample(m, th, tw, out, n)
    return out


@njit(cache=True, nogil=True)
def winograd_output_serial(m, th, tw, out):
    """:func:`winograd_output` on the calling thread only: bit-identical to the parallel one."""
    for n in range(out.shape[0]):
        _output_sample(m, th, tw, out, n)
    return out


@njit(cache=True, nogil=True, parallel=True)
def winograd_output_pool_parallel(m, th, tw, out):
    """:func:`winograd_output_pool` on numba's thread pool, parallel over the batch."""
    for n in prange(out.shape[0]):
        _output_pool_sample(m, th, tw, out, n)
    return out


@njit(cache=True, nogil=True)
def winograd_output_pool_serial(m, th, tw, out):
    """:func:`winograd_output_pool` on the calling thread: bit-identical to the parallel one."""
    for n in range(out.shape[0]):
        _output_pool_sample(m, th, tw, out, n)
    return out


# -- dispatchers: the pool unless the calling thread already owns a core ------------------------
def winograd_input(x, th, tw, out):
    """Transform every 4 x 4 input patch of every tile: V = B^T d B.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C), C-contiguous float32 or float64
        2 th + 2 <= H and 2 tw + 2 <= W: tile (ti, tj) reads rows 2 ti to 2 ti + 3 and
        columns 2 tj to 2 tj + 3.
    th, tw : int
        Tiles per column and per row (:func:`tiles` of the output map).
    out : ndarray, shape (16, R, C), R >= N th tw, C-contiguous, same dtype as ``x``
        Rows ``[0, N th tw)`` of every plane are overwritten; the rest are left alone.

    Returns
    -------
    out
    """
    kernel = winograd_input_parallel if parallel_for(x) else winograd_input_serial
    return kernel(x, th, tw, out)


def winograd_output(m, th, tw, out):
    """Turn the 16 products of every tile into its 2 x 2 outputs: Y = A^T M A.

    Parameters
    ----------
    m : ndarray, shape (16, R, F), R >= N th tw, C-contiguous float32 or float64
        Rows ``[0, N th tw)`` of every plane are read.
    th, tw : int
        As in :func:`winograd_input`.
    out : ndarray, shape (N, 2 th, 2 tw, F), same dtype as ``m``
        Overwritten entirely.

    Returns
    -------
    out
    """
    kernel = winograd_output_parallel if parallel_for(m) else winograd_output_serial
    return kernel(m, th, tw, out)


def winograd_output_pool(m, th, tw, out):
    """:func:`winograd_output` followed by a 2 x 2, stride-2 max-pool, in one pass.

    Each tile's 2 x 2 outputs are exactly one pooling window, so the map of the
    convolution is never written.

    Parameters
    ----------
    m : ndarray, shape (16, R, F), R >= N th tw, C-contiguous float32 or float64
    th, tw : int
        As in :func:`winograd_input`.
    out : ndarray, shape (N, th, tw, F), same dtype as ``m``
        Overwritten: the max of every window, NaN where the window holds one.

    Returns
    -------
    out
    """
    kernel = winograd_output_pool_parallel if parallel_for(m) else winograd_output_pool_serial
    return kernel(m, th, tw, out)


# -- references: plain NumPy ------------------------------------------------------------------
# Each transform is written as its additions and subtractions (the rows of B^T, A^T and
# their transposes), not as a product with the matrix: a product would also multiply by
# the matrices' zeros, and 0 * inf is NaN where the kernels, like the maths, skip the term.
def bt_rows(d, axis):
    """B^T d along ``axis`` (length 4): (d0 - d2), (d1 + d2), (d2 - d1), (d1 - d3)."""
    d0, d1, d2, d3 = np.moveaxis(d, axis, 0)
    return np.stack([d0 - d2, d1 + d2, d2 - d1, d1 - d3], axis)


def at_rows(m, axis):
    """A^T m along ``axis`` (length 4 -> 2): (m0 + m1 + m2), (m1 - m2 - m3)."""
    m0, m1, m2, m3 = np.moveaxis(m, axis, 0)
    return np.stack([m0 + m1 + m2, m1 - m2 - m3], axis)


def winograd_input_reference(x, th, tw, out):
    """Plain-NumPy :func:`winograd_input`: cut the overlapping patches, transform."""
    N, C = x.shape[0], x.shape[3]
    # patches[n, ti, tj, u, v, c] = x[n, 2 ti + u, 2 tj + v, c]
    rows = 2 * np.arange(th)[:, None] + np.arange(4)  # (th, 4)
    cols = 2 * np.arange(tw)[:, None] + np.arange(4)  # (tw, 4)
    patches = x[:, rows[:, None, :, None], cols[None, :, None, :], :]
    V = bt_rows(bt_rows(patches, 3), 4)  # B^T d, then (B^T d) B
    out[:, :N * th * tw] = V.transpose(3, 4, 0, 1, 2, 5).reshape(16, N * th * tw, C)
    return out


def winograd_output_reference(m, th, tw, out):
    """Plain-NumPy :func:`winograd_output`: transform every tile."""
    N, F = out.shape[0], out.shape[3]
    M = m[:, :N * th * tw].reshape(4, 4, N, th, tw, F)
    Y = at_rows(at_rows(M, 0), 1)  # A^T M, then (A^T M) A: (2, 2, N, th, tw, F)
    # output row 2 ti + i, column 2 tj + k
    out[...] = Y.transpose(2, 3, 0, 4, 1, 5).reshape(N, 2 * th, 2 * tw, F)
    return out


def winograd_output_pool_reference(m, th, tw, out):
    """Plain-NumPy :func:`winograd_output_pool`: the whole map, then the max of each tile."""
    N, F = out.shape[0], out.shape[3]
    z = winograd_output_reference(m, th, tw, np.empty((N, 2 * th, 2 * tw, F), m.dtype))
    out[...] = z.reshape(N, th, 2, tw, 2, F).max(axis=(2, 4))  # NaN if the window holds one
    return out
