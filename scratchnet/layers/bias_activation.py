"""The shared tail of Dense and Conv2D: add the bias, apply the activation, and back.

Both layers compute ``z = (rows of x) @ W`` as one GEMM into a fresh (P, F) matrix,
then hand it here. With ReLU (the common case) the bias and the activation are one
numba pass forward and one backward (see ``scratchnet.kernels.bias_act``); any other
activation runs as its own layer after the bias.
"""

from __future__ import annotations

import numpy as np

from scratchnet.kernels.bias_act import bias_add, bias_relu, column_sums, relu_bias_backward
from scratchnet.layers.activations import ReLU


def forward(layer, z: np.ndarray, training: bool) -> np.ndarray:
    """z (P, F), a fresh GEMM output owned by ``layer`` -> activation(z + b), (P, F)."""
    b = layer.params["b"]
    if layer._activate and isinstance(layer.activation, ReLU):
        layer._relu_out = bias_relu(z, b)  # in place; y > 0 is the mask backward needs
        return z
    layer._relu_out = None
    bias_add(z, b)
    return layer.activation.forward(z, training) if layer._activate else z


def backward(layer, dy: np.ndarray) -> np.ndarray:
    """dy = dL/dy (P, F) -> dz = dL/dz (P, F); writes ``layer.grads['b']``."""
    db = layer.grads["b"]
    if layer._relu_out is not None:
        dz = _scratch(layer, dy.shape)
        relu_bias_backward(dy, layer._relu_out, dz, db)
        return dz
    if layer._activate:
        dy = np.ascontiguousarray(layer.activation.backward(dy))
    column_sums(dy, db)
    return dy


def _scratch(layer, shape) -> np.ndarray:
    """A (P, F) buffer for dz, kept by the layer: dz never leaves its backward pass."""
    buf = getattr(layer, "_dz", None)
    if buf is None or buf.shape != shape or buf.dtype != layer.dtype:
        buf = layer._dz = np.empty(shape, dtype=layer.dtype)
    return buf
