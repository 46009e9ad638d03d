"""Elementwise activations, usable as layers or through ``activation='relu'``.

Each caches only what its derivative needs: ReLU its mask, the others their output
(the derivatives of tanh, sigmoid and softmax are cheapest in terms of the output).
"""

from __future__ import annotations

import numpy as np

from scratchnet.layers.base import Layer


class ReLU(Layer):
    """y = max(x, 0);  dx = dy * [x > 0]."""

    def forward(self, x, training):
        self._mask = x > 0
        return np.maximum(x, 0, dtype=x.dtype)

    def backward(self, dy):
        return dy * self._mask


class Tanh(Layer):
    """y = tanh(x);  dx = dy * (1 - y^2)."""

    def forward(self, x, training):
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy):
        return dy * (1 - self._y * self._y)


class Sigmoid(Layer):
    """y = 1 / (1 + exp(-x));  dx = dy * y * (1 - y)."""

    def forward(self, x, training):
        # exp of a non-positive number never overflows: pick the stable form per sign.
        e = np.exp(-np.abs(x))
        self._y = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        return self._y

    def backward(self, dy):
        return dy * self._y * (1 - self._y)


class Softmax(Layer):
    """Softmax over the last axis.  dx = y * (dy - sum(dy * y)).

    With the cross-entropy loss the model skips this layer in training and uses the
    fused gradient ``(softmax - onehot) / N`` instead (see ``scratchnet.losses``).
    """

    def forward(self, x, training):
        z = x - x.max(axis=-1, keepdims=True)
        e = np.exp(z)
        self._y = e / e.sum(axis=-1, keepdims=True)
        return self._y

    def backward(self, dy):
        y = self._y
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "softmax": Softmax}


def get_activation(spec) -> Layer | None:
    """Turn ``'relu'`` (or a Layer instance, or None/'linear') into an activation layer."""
    if spec is None or spec == "linear":
        return None
    if isinstance(spec, Layer):
        return spec
    if isinstance(spec, str) and spec.lower() in _ACTIVATIONS:
        return _ACTIVATIONS[spec.lower()]()
    raise ValueError(f"unknown activation {spec!r}; choose one of {sorted(_ACTIVATIONS)}")
