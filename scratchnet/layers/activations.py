"""Elementwise activations, usable as layers or through ``activation='relu'``.

The maths: ``scratchnet.reference.activations``. Each caches only what its derivative
needs: ReLU its input, the others their output (the derivatives of tanh, sigmoid and
softmax are cheapest in terms of the output).
"""

from __future__ import annotations

from scratchnet.layers.base import Layer
from scratchnet.reference import activations as ref


class ReLU(Layer):
    """y = max(x, 0);  dx = dy * [x > 0]."""

    def forward(self, x, training):
        y, self.cache = ref.relu_forward(x)
        return y

    def backward(self, dy):
        return ref.relu_backward(dy, self.backward_cache())


class Tanh(Layer):
    """y = tanh(x);  dx = dy * (1 - y^2)."""

    def forward(self, x, training):
        y, self.cache = ref.tanh_forward(x)
        return y

    def backward(self, dy):
        return ref.tanh_backward(dy, self.backward_cache())


class Sigmoid(Layer):
    """y = 1 / (1 + exp(-x));  dx = dy * y * (1 - y)."""

    def forward(self, x, training):
        y, self.cache = ref.sigmoid_forward(x)
        return y

    def backward(self, dy):
        return ref.sigmoid_backward(dy, self.backward_cache())


class Softmax(Layer):
    """Softmax over the last axis.  dx = y * (dy - sum(dy * y)).

    With the cross-entropy loss a model skips this layer in training and uses the fused
    gradient ``(softmax - onehot) / N`` instead (see ``scratchnet.losses``).
    """

    def forward(self, x, training):
        y, self.cache = ref.softmax_forward(x)
        return y

    def backward(self, dy):
        return ref.softmax_backward(dy, self.backward_cache())


_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "softmax": Softmax}


def get_activation(spec) -> Layer | None:
    """Turn ``'relu'`` (or a Layer instance, or None/'linear') into an activation layer.

    A saved layer config (``{"class_name": ..., "config": ...}``, an activation of your
    own) is rebuilt through ``scratchnet.model_file``, not here.
    """
    if spec is None or spec == "linear":
        return None
    if isinstance(spec, Layer):
        return spec
    if isinstance(spec, str) and spec.lower() in _ACTIVATIONS:
        return _ACTIVATIONS[spec.lower()]()
    raise ValueError(f"unknown activation {spec!r}; choose one of {sorted(_ACTIVATIONS)}")


def activation_name(layer) -> str | None:
    """'relu' for a plain ReLU() (what ``activation='relu'`` made), None for anything else."""
    for name, cls in _ACTIVATIONS.items():
        if type(layer) is cls and layer.get_config() == {"name": layer.name}:
            return name
    return None


class Activation(Layer):
    """A named activation as a layer of its own, as ``keras.layers.Activation('relu')``.

    The layer itself is the identity; the activation runs after it through the
    ``activation=`` mechanism every layer has (so a final ``Activation('softmax')`` is
    fused with the cross-entropy loss like a Dense layer's ``activation='softmax'``).

    Parameters
    ----------
    activation : str or Layer
        ``'relu'``, ``'tanh'``, ``'sigmoid'``, ``'softmax'`` or ``'linear'``.
    """

    def __init__(self, activation, **kwargs):
        super().__init__(activation=activation, **kwargs)

    def get_config(self):
        return {"activation": "linear", **super().get_config()}

    def forward(self, x, training):
        return x

    def backward(self, dy):
        return dy
