"""Dense (fully connected) layer: y = x @ W + b."""


def dense_forward(x, W, b):
    """Affine map over the last axis.

    Parameters
    ----------
    x : ndarray, shape (N, ..., D)
        Any leading axes are batch-like, as in Keras.
    W : ndarray, shape (D, U)
    b : ndarray, shape (U,), or None for no bias

    Returns
    -------
    y : ndarray, shape (N, ..., U)
    cache : dict
        ``x``, ``W`` and ``has_bias``.
    """
    y = x @ W
    if b is not None:
        y = y + b
    return y, {"x": x, "W": W, "has_bias": b is not None}


def dense_backward(dy, cache):
    """Gradients of the affine map.

    Parameters
    ----------
    dy : ndarray, shape (N, ..., U)
    cache : dict from ``dense_forward``

    Returns
    -------
    dx : ndarray, shape (N, ..., D)
    dW : ndarray, shape (D, U)
    db : ndarray, shape (U,), or None when the forward had no bias
    """
    x, W = cache["x"], cache["W"]
    dx = dy @ W.T
    # In the forward pass every leading axis was a batch axis of y = x @ W; so dW and db
    # sum over all of them, seen as one long batch of rows.
    x_rows = x.reshape(-1, x.shape[-1])
    dy_rows = dy.reshape(-1, dy.shape[-1])
    dW = x_rows.T @ dy_rows
    db = dy_rows.sum(axis=0) if cache["has_bias"] else None
    return dx, dW, db
