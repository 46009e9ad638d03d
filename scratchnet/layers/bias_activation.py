"""The shared tail of Dense and Conv2D: add the bias, apply the activation, and back.

Both layers compute ``z = (rows of x) @ W`` as one GEMM into a fresh (P, F) matrix,
then hand it here. With ReLU (the common case) the bias and the activation are one
numba pass forward and one backward (see ``scratchnet.kernels.bias_act``); any other
activation runs as its own layer after the bias.
"""

from __future__ import annotations

import numpy as np

from scratchnet.kernels import bias_act as k
from scratchnet.layers.activations import ReLU


def forward(layer, z: np.ndarray, training: bool) -> np.ndarray:
    """z (P, F), a fresh GEMM output owned by ``layer`` -> activation(z + b), (P, F)."""
    b, parallel = layer.params["b"], k.parallel_for(z)
    if layer._activate and isinstance(layer.activation, ReLU):
        # In place; y > 0 is the mask backward needs.
        layer._relu_out = (k.bias_relu if parallel else k.bias_relu_serial)(z, b)
        return z
    layer._relu_out = None
    (k.bias_add if parallel else k.bias_add_serial)(z, b)
    return layer.activation.forward(z, training) if layer._activate else z


def backward(layer, dy: np.ndarray) -> np.ndarray:
    """dy = dL/dy (P, F) -> dz = dL/dz (P, F); writes ``layer.grads['b']``."""
    db, parallel = layer.grads["b"], k.parallel_for(dy)
    if layer._relu_out is not None:
        dz = _scratch(layer, dy.shape)
        (k.relu_bias_backward if parallel else k.relu_bias_backward_serial)(
            dy, layer._relu_out, dz, db)
        return dz
    if layer._activate:
        dy = np.ascontiguousarray(layer.activation.backward(dy))
    (k.column_sums if parallel else k.column_sums_serial)(dy, db)
    return dy


def _scratch(layer, shape) -> np.ndarray:
    """A (P, F) buffer for dz, kept by the layer: dz never leaves its backward pass."""
    buf = getattr(layer, "_dz", None)
    if buf is None or buf.shape != shape or buf.dtype != layer.dtype:
        buf = layer._dz = np.empty(shape, dtype=layer.dtype)
    return buf
