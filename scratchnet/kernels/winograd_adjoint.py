"""The backward of Winograd F(2x2, 3x3): each forward transform's adjoint (its transpose).

The forward (``scratchnet.kernels.winograd``) is, per tile, three linear steps::

    V = B^T d B,   M[xi] = V[xi] @ U[xi],   z = A^T M A      with U = G g G^T

so the backward runs their transposes in reverse order, which is the chain rule for
linear maps. From dz (the gradient of the tile's 2 x 2 outputs)::

    T   = A dz A^T          (4, 4)   winograd_output_adjoint
    dU  = V[xi]^T @ T[xi]   summed over tiles: 16 GEMMs (C, tiles) @ (tiles, F)
    dg  = G^T dU G          (3, 3)   filter_transform_adjoint
    dV  = T[xi] @ U[xi]^T   16 GEMMs (tiles, F) @ (F, C)
    dd  = B dV B^T          (4, 4)   winograd_input_adjoint: added onto the input
                                     gradient, where the patches of neighbouring tiles
                                     overlap (two rows and two columns)

Each equals the direct convolution's gradient up to float rounding, with the same 2.25x
fewer multiplications in both of the backward's GEMMs (Lavin and Gray, 2016).

Layouts are the forward's: planes (16, R, F) and (16, R, C), tile p = (n th + ti) tw + tj,
whole tiles only, every patch inside the input.
The parallel kernels run ``prange`` over the batch only (a sample's tiles overlap one
another, never another sample's); ``*_serial`` twins, dispatchers and ``*_reference``
definitions are as in every kernel module here.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scratchnet.kernels.bias_act import parallel_for
from scratchnet.kernels.winograd import G


def filter_transform_adjoint(dU: np.ndarray) -> np.ndarray:
    """dg = G^T dU G for every channel pair: (16, C, F) -> (3, 3, C, F), in dU's dtype."""
    Gt = G.astype(dU.dtype)
    t = np.matmul(Gt.T, dU.reshape(4, 4, -1))  # t[u, b] = sum_v G[v, b] dU[u, v]: (4, 3, CF)
    dg = np.matmul(Gt.T, t.reshape(4, -1))  # dg[a, b] = sum_u G[u, a] t[u, b]
    return dg.reshape(3, 3, *dU.shape[1:])


# -- the work of one sample, shared by the parallel kernels and their serial twins -------------
@njit(cache=True, nogil=True, inline="always")
def _output_adjoint_sample(dz, th, tw, out, n):
    """Write sample ``n``'s rows of ``out``: T = A dz A^T for every tile. A's rows are
    (y0), (y0 + y1), (y0 - y1), (-y1): first down each column of the tile, then along."""
    for ti in range(th):
        i = 2 * ti
        for tj in range(tw):
            j = 2 * tj
            p = (n * th + ti) * tw + tj
            for f in range(dz.shape[3]):
                y00, y01 = dz[n, i, j, f], dz[n, i, j + 1, f]
                y10, y11 = dz[n, i + 1, j, f], dz[n, i + 1, j + 1, f]
                r0a, r0b = y00, y01
                r1a, r1b = y00 + y10, y01 + y11
                r2a, r2b = y00 - y10, y01 - y11
                r3a, r3b = -y10, -y11
                out[0, p, f], out[1, p, f] = r0a, r0a + r0b
                out[2, p, f], out[3, p, f] = r0a - r0b, -r0b
                out[4, p, f], out[5, p, f] = r1a, r1a + r1b
                out[6, p, f], out[7, p, f] = r1a - r1b, -r1b
                out[8, p, f], out[9, p, f] = r2a, r2a + r2b
                out[10, p, f], out[11, p, f] = r2a - r2b, -r2b
                out[12, p, f], out[13, p, f] = r3a, r3a + r3b
                out[14, p, f], out[15, p, f] = r3a - r3b, -r3b


@njit(cache=True, nogil=True, inline="always")
def _input_adjoint_sample(m, th, tw, out, n):
    """Write ``out[n]``: the sum of B dV B^T over the tiles, each on its 4 x 4 patch.

    B's rows are (m0), (m1 - m2 + m3), (m2 + m1 - m0), (-m3): first along each row of dV,
    then down each column. Tiles run in order, so the overlaps add up in the same order
    in every kernel.
    """
    for r in range(out.shape[1]):
        for s in range(out.shape[2]):
            for c in range(out.shape[3]):
                out[n, r, s, c] = 0
    for ti in range(th):
        r = 2 * ti
        for tj in range(tw):
            s = 2 * tj
            p = (n * th + ti) * tw + tj
            for c in range(out.shape[3]):
                a00, a01 = m[0, p, c], m[1, p, c] - m[2, p, c] + m[3, p, c]
                a02, a03 = m[2, p, c] + m[1, p, c] - m[0, p, c], -m[3, p, c]
                a10, a11 = m[4, p, c], m[5, p, c] - m[6, p, c] + m[7, p, c]
                a12, a13 = m[6, p, c] + m[5, p, c] - m[4, p, c], -m[7, p, c]
                a20, a21 = m[8, p, c], m[9, p, c] - m[10, p, c] + m[11, p, c]
                a22, a23 = m[10, p, c] + m[9, p, c] - m[8, p, c], -m[11, p, c]
                a30, a31 = m[12, p, c], m[13, p, c] - m[14, p, c] + m[15, p, c]
                a32, a33 = m[14, p, c] + m[13, p, c] - m[12, p, c], -m[15, p, c]
                out[n, r, s, c] += a00
                out[n, r, s + 1, c] += a01
                out[n, r, s + 2, c] += a02
                out[n, r, s + 3, c] += a03
                out[n, r + 1, s, c] += a10 - a20 + a30
                out[n, r + 1, s + 1, c] += a11 - a21 + a31
                out[n, r + 1, s + 2, c] += a12 - a22 + a32
                out[n, r + 1, s + 3, c] += a13 - a23 + a33
                out[n, r + 2, s, c] += a20 + a10 - a00
                out[n, r + 2, s + 1, c] += a21 + a11 - a01
                out[n, r + 2, s + 2, c] += a22 + a12 - a02
                out[n, r + 2, s + 3, c] += a23 + a13 - a03
                out[n, r + 3, s, c] += -a30
                out[n, r + 3, s + 1, c] += -a31
                out[n, r + 3, s + 2, c] += -a32
                out[n, r + 3, s + 3, c] += -a33


# -- parallel kernels (prange over the batch) and serial twins ------------------------------
@njit(cache=True, nogil=True, parallel=True)
def winograd_output_adjoint_parallel(dz, th, tw, out):
    """:func:`winograd_output_adjoint` on numba's thread pool, parallel over the batch."""
    for n in prange(dz.shape[0]):
        _output_adjoint_sample(dz, th, tw, out, n)
    return out


@njit(cache=True, nogil=True)
def winograd_output_adjoint_serial(dz, th, tw, out):
    """:func:`winograd_output_adjoint` on the calling thread: bit-identical to the parallel one."""
    for n in range(dz.shape[0]):
        _output_adjoint_sample(dz, th, tw, out, n)
    return out


@njit(cache=True, nogil=True, parallel=True)
def winograd_input_adjoint_parallel(m, th, tw, out):
    """:func:`winograd_input_adjoint` on numba's thread pool, parallel over the batch."""
    for n in prange(out.shape[0]):
        _input_adjoint_sample(m, th, tw, out, n)
    return out


@njit(cache=True, nogil=True)
def winograd_input_adjoint_serial(m, th, tw, out):
    """:func:`winograd_input_adjoint` on the calling thread: bit-identical to the parallel one."""
    for n in range(out.shape[0]):
        _input_adjoint_sample(m, th, tw, out, n)
    return out


# -- dispatchers: the pool unless the calling thread already owns a core ------------------------
def winograd_output_adjoint(dz, th, tw, out):
    """The adjoint of ``winograd_output``: T = A dz A^T for every tile.

    Parameters
    ----------
    dz : ndarray, shape (N, 2 th, 2 tw, F), C-contiguous float32 or float64
        The gradient of the forward's output map.
    th, tw : int
        Tiles per column and per row, as in the forward.
    out : ndarray, shape (16, R, F), R >= N th tw, C-contiguous, same dtype as ``dz``
        Rows ``[0, N th tw)`` of every plane are overwritten; the rest are left alone.

    Returns
    -------
    out
    """
    parallel = parallel_for(dz)
    kernel = winograd_output_adjoint_parallel if parallel else winograd_output_adjoint_serial
    return kernel(dz, th, tw, out)


def winograd_input_adjoint(m, th, tw, out):
    """The adjoint of ``winograd_input``: dx = sum over tiles of B dV B^T on their patches.

    Parameters
    ----------
    m : ndarray, shape (16, R, C), R >= N th tw, C-contiguous float32 or float64
        dV, the gradient of the transformed patches; rows ``[0, N th tw)`` are read.
    th, tw : int
        As in the forward.
    out : ndarray, shape (N, H, W, C), 2 th + 2 <= H, 2 tw + 2 <= W, same dtype as ``m``
        Overwritten: zeroed, then accumulated into (cells no patch covers stay 0).

    Returns
    -------
    out
    """
    kernel = winograd_input_adjoint_parallel if parallel_for(m) else winograd_input_adjoint_serial
    return kernel(m, th, tw, out)


# -- references: plain NumPy ------------------------------------------------------------------
# As in scratchnet.kernels.winograd: additions and subtractions, never a product with
# a matrix's zeros.
def a_rows(y, axis):
    """A y along ``axis`` (length 2 -> 4): (y0), (y0 + y1), (y0 - y1), (-y1)."""
    y0, y1 = np.moveaxis(y, axis, 0)
    return np.stack([y0, y0 + y1, y0 - y1, -y1], axis)


def b_rows(m, axis):
    """B m along ``axis`` (length 4): (m0), (m1 - m2 + m3), (m2 + m1 - m0), (-m3)."""
    m0, m1, m2, m3 = np.moveaxis(m, axis, 0)
    return np.stack([m0, m1 - m2 + m3, m2 + m1 - m0, -m3], axis)


def winograd_output_adjoint_reference(dz, th, tw, out):
    """Plain-NumPy :func:`winograd_output_adjoint`: transform every tile."""
    N, F = dz.shape[0], dz.shape[3]
    tiles = dz.reshape(N, th, 2, tw, 2, F)  # [n, ti, i, tj, k, f]
    T = a_rows(a_rows(tiles, 2), 4)  # A dz, then (A dz) A^T: [n, ti, u, tj, v, f]
    out[:, :N * th * tw] = T.transpose(2, 4, 0, 1, 3, 5).reshape(16, N * th * tw, F)
    return out


def winograd_input_adjoint_reference(m, th, tw, out):
    """Plain-NumPy :func:`winograd_input_adjoint`: transform every tile, then add each
    patch onto the gradient in tile order."""
    N, C = out.shape[0], out.shape[3]
    dV = m[:, :N * th * tw].reshape(4, 4, N, th, tw, C)
    patches = b_rows(b_rows(dV, 1), 0)  # dV B^T, then B (dV B^T): [u, v, n, ti, tj, c]
    patches = patches.transpose(2, 3, 4, 0, 1, 5)  # [n, ti, tj, u, v, c]
    out[...] = 0
    for ti in range(th):
        for tj in range(tw):
            out[:, 2 * ti:2 * ti + 4, 2 * tj:2 * tj + 4] += patches[:, ti, tj]
    return out
