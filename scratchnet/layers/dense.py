"""Fully connected layer."""

from __future__ import annotations

from scratchnet.initializers import glorot_uniform, zeros
from scratchnet.layers.base import Layer, positive_int
from scratchnet.reference import dense_backward, dense_forward


class Dense(Layer):
    """y = x W + b over the last axis (like Keras, any leading axes are batch-like).

    Parameters
    ----------
    units : int
    activation : str, optional
    use_bias : bool, default True
        Without a bias (e.g. before BatchNormalization, whose beta takes its place).
    kernel_regularizer, bias_regularizer : Regularizer or str, optional
        A penalty on W / b added to the loss (``scratchnet.regularizers``).

    Shapes: x (N, ..., D) -> y (N, ..., units); W (D, units); b (units,).
    The maths: ``scratchnet.reference.dense``.
    """

    def __init__(self, units, activation=None, use_bias=True, **kwargs):
        super().__init__(activation=activation, **kwargs)
        self.units = positive_int(units, f"{type(self).__name__} units")
        self.use_bias = bool(use_bias)

    def _build(self, input_shape, rng):
        if len(input_shape) < 1:
            raise ValueError(f"{self.name}: needs inputs with a feature axis, got {input_shape}")
        d = input_shape[-1]
        self.params["W"] = glorot_uniform((d, self.units), d, self.units, rng, self.dtype)
        if self.use_bias:
            self.params["b"] = zeros((self.units,), self.dtype)
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias}

    def weight_shapes(self, input_shape):
        d = input_shape[-1]
        return {"W": (d, self.units), **({"b": (self.units,)} if self.use_bias else {})}

    def forward(self, x, training):
        y, self.cache = dense_forward(x, self.params["W"], self.params.get("b"))
        return y

    def backward(self, dy):
        dx, dW, db = dense_backward(dy, self.backward_cache())
        self.store_grads(W=dW, **({"b": db} if self.use_bias else {}))
        return dx
