"""Reshape and Flatten: per-sample reshapes; the backward pass reshapes back."""


def reshape_forward(x, shape):
    """Reshape every sample, keeping the batch axis.

    Parameters
    ----------
    x : ndarray, shape (N, ...)
    shape : tuple of int
        The per-sample target shape; may hold one -1.

    Returns
    -------
    y : ndarray, shape (N, *shape)
    cache : dict with ``x_shape``
    """
    y = x.reshape(x.shape[0], *shape)
    return y, {"x_shape": x.shape}


def reshape_backward(dy, cache):
    """dx: dy reshaped back to the input's shape (N, ...)."""
    return dy.reshape(cache["x_shape"])


def flatten_forward(x):
    """(N, ...) -> (N, prod(...)), row-major as Keras' Flatten."""
    return reshape_forward(x, (-1,))


def flatten_backward(dy, cache):
    """(N, D) -> the input's (N, ...)."""
    return reshape_backward(dy, cache)
