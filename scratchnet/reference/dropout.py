"""Inverted dropout with the mask passed in (the caller draws it, so this stays deterministic)."""

import numpy as np


def dropout_forward(x, keep, rate):
    """Zero the cells not kept and scale the rest by 1 / (1 - rate).

    Parameters
    ----------
    x : ndarray, any shape
    keep : ndarray of bool, same shape as x
        True where the cell survives.
    rate : float in [0, 1)
        Fraction dropped; 0 means identity (``keep`` is ignored).

    Returns
    -------
    y : ndarray, shape and dtype of x
    cache : dict with ``mask`` (keep * scale, in x's dtype), or None for identity
    """
    if not 0 <= rate < 1:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate!r}")
    if rate == 0:
        return x, {"mask": None}
    keep = np.asarray(keep)
    if keep.shape != x.shape or keep.dtype != np.bool_:
        raise ValueError(f"keep must be a boolean mask of x's shape {x.shape}, got "
                         f"{keep.dtype} of shape {keep.shape}: draw it as "
                         "rng.random(x.shape) >= rate")
    # The scale is cast to x's dtype so that float32 stays float32.
    scale = x.dtype.type(1 / (1 - rate))
    mask = keep * scale
    return x * mask, {"mask": mask}


def dropout_backward(dy, cache):
    """dx = dy * keep / (1 - rate): the forward's mask, any shape."""
    mask = cache["mask"]
    return dy if mask is None else dy * mask
