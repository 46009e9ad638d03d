"""2-D convolution over channels-last images, as im2col plus one matrix product.

Images are (N, H, W, C), kernels (kh, kw, C, F), as in Keras. ``conv2d_forward_naive``
and ``conv2d_backward_naive`` loop over output positions: the version to check the
im2col one against. Padding is 'valid' or 'same' by Keras' rules (see ``geometry``).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .geometry import padded_size, pair


def _check_shapes(x, W):
    if x.ndim != 4 or W.ndim != 4 or x.shape[3] != W.shape[2]:
        raise ValueError(f"expected x (N, H, W, C) and W (kh, kw, C, F) with the same C, got "
                         f"x {x.shape} and W {W.shape}")


def _pad(x, kh, kw, sh, sw, padding):
    """Zero-pad x (N, H, W, C) so every window fits; return (xp, (Ho, Wo), (top, left))."""
    Ho, top, bottom = padded_size(x.shape[1], kh, sh, padding)
    Wo, left, right = padded_size(x.shape[2], kw, sw, padding)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    return xp, (Ho, Wo), (top, left)


def im2col(x, kh, kw, sh, sw, padding):
    """Every (kh, kw) window of x, one per row.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    kh, kw, sh, sw : int
        Window size and strides.
    padding : {'valid', 'same'}

    Returns
    -------
    cols : ndarray, shape (N*Ho*Wo, kh*kw*C)
        Rows ordered (n, i, j), columns (r, s, c): ``cols @ W.reshape(-1, F)`` is the
        convolution with W of shape (kh, kw, C, F).
    (Ho, Wo) : tuple of int
    """
    N, C = x.shape[0], x.shape[3]
    xp, (Ho, Wo), _ = _pad(x, kh, kw, sh, sw, padding)
    # windows[n, i, j, c, r, s] = xp[n, i*sh + r, j*sw + s, c]
    windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(N * Ho * Wo, kh * kw * C)
    return cols, (Ho, Wo)


def col2im(dcols, x_shape, kh, kw, sh, sw, padding):
    """The adjoint of ``im2col``: add every row's entries back onto the cells they came from.

    Parameters
    ----------
    dcols : ndarray, shape (N*Ho*Wo, kh*kw*C)
    x_shape : tuple (N, H, W, C)

    Returns
    -------
    dx : ndarray, shape (N, H, W, C); overlapping windows add up.
    """
    N, H, W, C = x_shape
    Ho, top, bottom = padded_size(H, kh, sh, padding)
    Wo, left, right = padded_size(W, kw, sw, padding)
    d = dcols.reshape(N, Ho, Wo, kh, kw, C)
    dxp = np.zeros((N, top + H + bottom, left + W + right, C), dtype=dcols.dtype)
    for r in range(kh):
        for s in range(kw):
            # Window (i, j)'s cell (r, s) was xp[:, i*sh + r, j*sw + s]. For a fixed (r, s)
            # these cells are distinct, so one += per offset adds every contribution once.
            dxp[:, r:r + sh * Ho:sh, s:s + sw * Wo:sw, :] += d[:, :, :, r, s, :]
    return dxp[:, top:top + H, left:left + W, :]


def conv2d_forward(x, W, b, strides=(1, 1), padding="valid"):
    """y = im2col(x) @ W + b.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    W : ndarray, shape (kh, kw, C, F)
    b : ndarray, shape (F,), or None
    strides : int or (sh, sw)
    padding : {'valid', 'same'}

    Returns
    -------
    y : ndarray, shape (N, Ho, Wo, F)
    cache : dict
    """
    _check_shapes(x, W)
    kh, kw, _, F = W.shape
    sh, sw = pair(strides, "strides")
    cols, (Ho, Wo) = im2col(x, kh, kw, sh, sw, padding)
    y = cols @ W.reshape(-1, F)
    if b is not None:
        y = y + b
    cache = {"cols": cols, "x_shape": x.shape, "W": W, "strides": (sh, sw),
             "padding": padding, "has_bias": b is not None}
    return y.reshape(x.shape[0], Ho, Wo, F), cache


def conv2d_backward(dy, cache):
    """Gradients of ``conv2d_forward``.

    Parameters
    ----------
    dy : ndarray, shape (N, Ho, Wo, F)

    Returns
    -------
    dx : ndarray, shape (N, H, W, C)
    dW : ndarray, shape (kh, kw, C, F)
    db : ndarray, shape (F,), or None when the forward had no bias
    """
    W, cols = cache["W"], cache["cols"]
    kh, kw, _, F = W.shape
    sh, sw = cache["strides"]
    dy_rows = dy.reshape(-1, F)
    # In the forward pass this was y = cols @ W.reshape(-1, F) + b; so, as for Dense:
    dW = (cols.T @ dy_rows).reshape(W.shape)
    db = dy_rows.sum(axis=0) if cache["has_bias"] else None
    dcols = dy_rows @ W.reshape(-1, F).T
    dx = col2im(dcols, cache["x_shape"], kh, kw, sh, sw, cache["padding"])
    return dx, dW, db


def conv2d_forward_naive(x, W, b, strides=(1, 1), padding="valid"):
    """The same convolution as ``conv2d_forward``, one output position at a time.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    W : ndarray, shape (kh, kw, C, F)
    b : ndarray, shape (F,), or None
    strides : int or (sh, sw)
    padding : {'valid', 'same'}

    Returns
    -------
    y : ndarray, shape (N, Ho, Wo, F)
    cache : dict
    """
    _check_shapes(x, W)
    kh, kw, _, F = W.shape
    sh, sw = pair(strides, "strides")
    xp, (Ho, Wo), _ = _pad(x, kh, kw, sh, sw, padding)
    y = np.zeros((x.shape[0], Ho, Wo, F), dtype=np.result_type(x, W))
    for i in range(Ho):
        for j in range(Wo):
            window = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]     # (N, kh, kw, C)
            y[:, i, j, :] = np.tensordot(window, W, axes=3)              # (N, F)
    if b is not None:
        y = y + b
    cache = {"x": x, "W": W, "strides": (sh, sw), "padding": padding,
             "has_bias": b is not None}
    return y, cache


def conv2d_backward_naive(dy, cache):
    """Gradients of ``conv2d_forward_naive``, one output position at a time.

    Parameters
    ----------
    dy : ndarray, shape (N, Ho, Wo, F)

    Returns
    -------
    dx : ndarray, shape (N, H, W, C)
    dW : ndarray, shape (kh, kw, C, F)
    db : ndarray, shape (F,), or None when the forward had no bias
    """
    x, W = cache["x"], cache["W"]
    kh, kw, _, _ = W.shape
    sh, sw = cache["strides"]
    xp, (Ho, Wo), (top, left) = _pad(x, kh, kw, sh, sw, cache["padding"])
    dxp = np.zeros_like(xp, dtype=np.result_type(xp, dy))
    dW = np.zeros_like(W, dtype=np.result_type(W, dy))
    for i in range(Ho):
        for j in range(Wo):
            window = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            # In the forward pass this was y[:, i, j] = tensordot(window, W, axes=3); so
            # dW gains window^T dy[:, i, j] and the window's cells gain dy[:, i, j] W^T.
            dW += np.tensordot(window, dy[:, i, j, :], axes=([0], [0]))
            dxp[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :] += np.tensordot(
                dy[:, i, j, :], W, axes=([1], [3]))
    db = dy.sum(axis=(0, 1, 2)) if cache["has_bias"] else None
    dx = dxp[:, top:top + x.shape[1], left:left + x.shape[2], :]
    return dx, dW, db
