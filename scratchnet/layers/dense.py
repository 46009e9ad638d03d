"""Fully connected layer."""

from __future__ import annotations

import numpy as np

from scratchnet.initializers import glorot_uniform, zeros
from scratchnet.layers import bias_activation
from scratchnet.layers.base import Layer, positive_int


class Dense(Layer):
    """y = x W + b over the last axis (like Keras, any leading axes are batch-like).

    Parameters
    ----------
    units : int
    activation : str, optional

    Shapes: x (N, ..., D) -> y (N, ..., units); W (D, units); b (units,).
    """

    fuses_activation = True

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(activation=activation, **kwargs)
        self.units = positive_int(units, f"{type(self).__name__} units")

    def _build(self, input_shape, rng):
        if len(input_shape) < 1:
            raise ValueError(f"{self.name}: needs inputs with a feature axis, got {input_shape}")
        d = input_shape[-1]
        self.params["W"] = glorot_uniform((d, self.units), d, self.units, rng, self.dtype)
        self.params["b"] = zeros((self.units,), self.dtype)
        return (*input_shape[:-1], self.units)

    def forward(self, x, training):
        self._x2 = x.reshape(-1, x.shape[-1])  # (M, D): all leading axes as one batch
        z = self._x2 @ self.params["W"]         # (M, units)
        y = bias_activation.forward(self, z, training)  # act(z + b)
        return y.reshape(*x.shape[:-1], self.units)

    def backward(self, dy):
        dy2 = np.ascontiguousarray(dy).reshape(-1, self.units)  # (M, units)
        dz = bias_activation.backward(self, dy2)          # through act; db = sum over rows
        np.matmul(self._x2.T, dz, out=self.grads["W"])    # dW = x^T dz
        if not self.need_input_grad:
            return None
        return (dz @ self.params["W"].T).reshape(*dy.shape[:-1], self._x2.shape[1])
