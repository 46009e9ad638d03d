"""Element-wise activations (ReLU, tanh, sigmoid) and softmax over the last axis.

Each forward returns ``(y, cache)``; each backward maps ``dy`` to ``dx`` of the same
shape. All work in the input's dtype, and NaN propagates as in plain NumPy.
"""

import numpy as np


def relu_forward(x):
    """y = max(x, 0) of any shape; NaN in x stays NaN in y (np.maximum propagates it)."""
    return np.maximum(x, 0), {"x": x}


def relu_backward(dy, cache):
    """dx = dy where x > 0, else 0 (also 0 where x is NaN: NaN > 0 is False)."""
    return dy * (cache["x"] > 0)


def tanh_forward(x):
    """y = tanh(x) of any shape."""
    y = np.tanh(x)
    return y, {"y": y}


def tanh_backward(dy, cache):
    """dx = dy * (1 - y^2), from the saved output."""
    y = cache["y"]
    return dy * (1 - y * y)


def sigmoid(x):
    """1 / (1 + exp(-x)), numerically stable: exp is only ever taken of a non-positive number.

    For x >= 0 it is 1 / (1 + e) and for x < 0 it is e / (1 + e), with e = exp(-|x|)
    in (0, 1], so nothing overflows. NaN gives NaN.
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_forward(x):
    """y = sigmoid(x) of any shape."""
    y = sigmoid(x)
    return y, {"y": y}


def sigmoid_backward(dy, cache):
    """dx = dy * y * (1 - y), from the saved output."""
    y = cache["y"]
    return dy * y * (1 - y)


def softmax_forward(x):
    """Softmax over the last axis, shifted by the row maximum so exp never overflows.

    Parameters
    ----------
    x : ndarray, shape (..., C)

    Returns
    -------
    y : ndarray, shape (..., C), each row summing to 1
    cache : dict with ``y``
    """
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    y = e / e.sum(axis=-1, keepdims=True)
    return y, {"y": y}


def softmax_backward(dy, cache):
    """Vector-Jacobian product of softmax over the last axis; shapes (..., C).

    In the forward pass this was y_k = exp(x_k) / sum_j exp(x_j), whose Jacobian is
    dy_k/dx_m = y_k (delta_km - y_m); so dx_m = y_m (dy_m - sum_k dy_k y_k).
    """
    y = cache["y"]
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))
