"""Max pooling over channels-last images (N, H, W, C)."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .geometry import padded_size, pair


def maxpool_forward(x, pool_size=(2, 2), strides=None, padding="valid"):
    """Maximum of every (ph, pw) window, per channel.

    'same' pads with -inf, and padded cells never win. Every window's winner (the cell
    its gradient goes to) is the FIRST maximum in row-major scan order (r, then s); a
    window holding NaN gives NaN, and its winner is its first NaN.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    pool_size : int or (ph, pw)
    strides : int or (sh, sw), default pool_size
    padding : {'valid', 'same'}

    Returns
    -------
    y : ndarray, shape (N, Ho, Wo, C)
    cache : dict
        ``winner`` (N, Ho, Wo, C): the index r * pw + s of each window's winner.
    """
    if x.ndim != 4:
        raise ValueError(f"expected x of shape (N, H, W, C), got {x.shape}")
    ph, pw = pair(pool_size, "pool_size")
    sh, sw = pair(strides if strides is not None else (ph, pw), "strides")
    Ho, top, bottom = padded_size(x.shape[1], ph, sh, padding)
    Wo, left, right = padded_size(x.shape[2], pw, sw, padding)
    pads = ((0, 0), (top, bottom), (left, right), (0, 0))
    xp = np.pad(x, pads, constant_values=-np.inf)
    real = np.pad(np.ones(x.shape, dtype=bool), pads, constant_values=False)

    def windows(a):
        # windows(a)[n, i, j, c, r * pw + s] = a[n, i*sh + r, j*sw + s, c]
        w = sliding_window_view(a, (ph, pw), axis=(1, 2))[:, ::sh, ::sw]
        return w.reshape(*w.shape[:4], ph * pw)

    xw = windows(xp)
    y = xw.max(axis=-1)  # np.max propagates NaN
    # Candidates are the cells equal to the maximum, or NaN (then y is NaN too); padded
    # cells are never candidates, even in a window whose real cells are all -inf.
    # argmax of a boolean picks the first True in scan order.
    candidate = ((xw == y[..., None]) | np.isnan(xw)) & windows(real)
    winner = np.argmax(candidate, axis=-1)
    cache = {"winner": winner, "x_shape": x.shape, "pool_size": (ph, pw),
             "strides": (sh, sw), "pads": (top, bottom, left, right)}
    return y, cache


def maxpool_backward(dy, cache):
    """Each output's gradient to its window's winner.

    Parameters
    ----------
    dy : ndarray, shape (N, Ho, Wo, C)

    Returns
    -------
    dx : ndarray, shape (N, H, W, C)
    """
    N, H, W, C = cache["x_shape"]
    ph, pw = cache["pool_size"]
    sh, sw = cache["strides"]
    top, bottom, left, right = cache["pads"]
    winner = cache["winner"]
    Ho, Wo = winner.shape[1:3]
    dxp = np.zeros((N, top + H + bottom, left + W + right, C), dtype=dy.dtype)
    for r in range(ph):
        for s in range(pw):
            # In the forward pass window (i, j)'s cell (r, s) was xp[:, i*sh + r, j*sw + s];
            # so it gets dy[:, i, j] where it won. += because overlapping windows
            # (strides < pool_size) may share a winner.
            won = winner == r * pw + s
            dxp[:, r:r + sh * Ho:sh, s:s + sw * Wo:sw, :] += np.where(won, dy, 0)
    return dxp[:, top:top + H, left:left + W, :]
