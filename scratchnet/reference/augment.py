"""Data augmentation: resampling an image under a random map, and additive noise.

Each image n is resampled at source points given per output pixel (i, j)::

    (r, s)       = A[n] @ (i, j, 1) + d[n, i, j]          # A: (2, 3) affine map, d: displacement
    y[n, i, j, c] = sum over the 4 pixels (r0 + a, s0 + b), a, b in {0, 1}, of
                    (1 - |r - r0 - a|) (1 - |s - s0 - b|) * x[n, r0 + a, s0 + b, c]

with r0 = floor(r), s0 = floor(s) (bilinear interpolation). A neighbour outside the image
reads ``fill_value`` instead (Keras's ``fill_mode="constant"``), and a source point that is
not finite reads it for all four. Coordinates are pixel indices: row 0 is the top row.

For fixed maps, y is linear in x (affine if fill_value != 0): the backward is the
transpose, each output gradient scattered onto the same four pixels with the same weights.
"""

import numpy as np


def affine_grid(matrices, height, width, displacement=None):
    """Source points of every output pixel: A[n] @ (i, j, 1), plus the displacement.

    matrices (N, 2, 3), displacement (N, H, W, 2) or None -> rows, cols, each (N, H, W),
    in the matrices' dtype.
    """
    i = np.arange(height, dtype=matrices.dtype)[None, :, None]
    j = np.arange(width, dtype=matrices.dtype)[None, None, :]
    a = matrices[:, :, :, None, None]  # (N, 2, 3, 1, 1) broadcasts over (H, W)
    rows = a[:, 0, 0] * i + a[:, 0, 1] * j + a[:, 0, 2]
    cols = a[:, 1, 0] * i + a[:, 1, 1] * j + a[:, 1, 2]
    if displacement is not None:
        rows, cols = rows + displacement[..., 0], cols + displacement[..., 1]
    return rows, cols


def bilinear_taps(rows, cols, height, width):
    """The four neighbours of each source point, their weights and whether they are inside.

    rows, cols (N, H', W') -> list of four (r, s, weight, inside): r, s int (clipped into
    the image, so they can index it), weight in the points' dtype, inside bool.
    """
    ok = (rows > -1) & (rows < height) & (cols > -1) & (cols < width)  # False for NaN, inf
    rows, cols = np.where(ok, rows, 0), np.where(ok, cols, 0)
    r0, s0 = np.floor(rows), np.floor(cols)
    fr, fs = rows - r0, cols - s0  # fractional parts: the weights of the +1 neighbours
    one = rows.dtype.type(1)
    taps = []
    for a, wr in ((0, one - fr), (1, fr)):
        for b, ws in ((0, one - fs), (1, fs)):
            r, s = r0.astype(np.int64) + a, s0.astype(np.int64) + b
            inside = ok & (r >= 0) & (r < height) & (s >= 0) & (s < width)
            taps.append((np.clip(r, 0, height - 1), np.clip(s, 0, width - 1), wr * ws, inside))
    return taps


def bilinear_sample_forward(x, rows, cols, fill_value=0.0):
    """Sample x at the source points (rows, cols), bilinearly.

    Parameters
    ----------
    x : ndarray (N, H, W, C)
    rows, cols : ndarray (N, H', W'), same dtype as x
    fill_value : float
        What a neighbour outside the image reads.

    Returns
    -------
    y : ndarray (N, H', W', C), x's dtype
    cache : dict with ``x_shape`` and the ``taps`` of :func:`bilinear_taps`
    """
    N, H, W, C = x.shape
    n = np.arange(N)[:, None, None]
    fill = x.dtype.type(fill_value)
    taps = bilinear_taps(rows, cols, H, W)
    y = np.zeros((*rows.shape, C), dtype=x.dtype)
    for r, s, w, inside in taps:
        # An inside neighbour is multiplied even by a zero weight, so a NaN or inf in the
        # pixels it reads reaches y as the formula says (0 * inf = NaN, by definition here).
        with np.errstate(invalid="ignore"):
            y += w[..., None] * np.where(inside[..., None], x[n, r, s], fill)
    return y, {"x_shape": x.shape, "taps": taps}


def bilinear_sample_backward(dy, cache):
    """dx: each dy[n, i, j, c] scattered onto the four pixels it read, with their weights.

    In the forward pass this was: y += w * x[n, r, s]  (for inside taps);
    so now:                        dx[n, r, s] += w * dy.  dy (N, H', W', C) -> dx (N, H, W, C)
    """
    N = dy.shape[0]
    dx = np.zeros(cache["x_shape"], dtype=dy.dtype)
    n = np.broadcast_to(np.arange(N)[:, None, None], dy.shape[:3])
    for r, s, w, inside in cache["taps"]:
        with np.errstate(invalid="ignore"):  # 0 * inf = NaN, as in the forward
            np.add.at(dx, (n[inside], r[inside], s[inside]), (w[..., None] * dy)[inside])
    return dx


def affine_sample_forward(x, matrices, displacement=None, fill_value=0.0):
    """Resample each image under its own affine map (and optional displacement field).

    Parameters
    ----------
    x : ndarray (N, H, W, C)
    matrices : ndarray (N, 2, 3), x's dtype
        Row k of A[n] gives source coordinate k (row, then column) of output pixel (i, j)
        as A[n, k] @ (i, j, 1): the map goes from output to input, as Keras's transforms.
    displacement : ndarray (N, H, W, 2) or None
        Added to the source point of each output pixel (elastic distortion).
    fill_value : float

    Returns
    -------
    y : ndarray (N, H, W, C)
    cache : dict (see :func:`bilinear_sample_forward`)
    """
    rows, cols = affine_grid(matrices, x.shape[1], x.shape[2], displacement)
    return bilinear_sample_forward(x, rows, cols, fill_value)


def affine_sample_backward(dy, cache):
    """dy (N, H, W, C) -> dx (N, H, W, C): the transpose of :func:`affine_sample_forward`."""
    return bilinear_sample_backward(dy, cache)


def smoothing_matrix(size, sigma, dtype=np.float64):
    """(size, size) matrix M: M @ v smooths v by a Gaussian of std ``sigma`` samples.

    The 1-D kernel is truncated at 4 sigma and normalised; v is mirrored at its ends
    (edge sample repeated, scipy.ndimage's ``reflect``), folded into M, so M's rows sum to 1.
    """
    radius = max(1, int(4 * sigma + 0.5))
    t = np.arange(-radius, radius + 1)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    p = np.arange(size)[:, None] + t  # (size, taps): the sample each tap reads, unmirrored
    p = p % (2 * size)
    p = np.where(p < size, p, 2 * size - 1 - p)  # mirrored back into [0, size)
    m = np.zeros((size, size))
    rows = np.broadcast_to(np.arange(size)[:, None], p.shape)
    np.add.at(m, (rows, p), np.broadcast_to(k, p.shape))  # repeats (mirrored taps) add up
    return m.astype(dtype)


def gaussian_smooth(planes, sigma):
    """Smooth each (H, W) plane of planes (..., H, W) by a Gaussian of std ``sigma`` pixels:
    separable, Mh @ plane @ Mw.T with the matrices of :func:`smoothing_matrix`."""
    H, W = planes.shape[-2:]
    mh, mw = smoothing_matrix(H, sigma, planes.dtype), smoothing_matrix(W, sigma, planes.dtype)
    return mh @ planes @ mw.T


def elastic_displacement(uniform, alpha, sigma):
    """Simard et al. (2003): a field of uniform(-1, 1) draws, smoothed, scaled by alpha.

    uniform (N, 2, H, W) of values in [-1, 1) -> displacement (N, H, W, 2), in pixels:
    (row, column) offsets of each output pixel's source point.
    """
    smooth = gaussian_smooth(uniform, sigma)  # (N, 2, H, W): planes stay contiguous
    return uniform.dtype.type(alpha) * smooth.transpose(0, 2, 3, 1)


def gaussian_noise_forward(x, noise):
    """y = x + noise, both any shape; the caller draws noise ~ N(0, stddev^2)."""
    return x + noise, {}


def gaussian_noise_backward(dy, cache):
    """In the forward pass this was y = x + noise; so dx = dy."""
    return dy
