"""Layers that only change the view of the data: Flatten and Reshape."""

from __future__ import annotations

import math

from scratchnet.layers.base import Layer
from scratchnet.reference import reshape_backward, reshape_forward


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (one entry may be -1, as in Keras).

    Shapes: x (N, *input_shape) -> y (N, *target_shape); backward reshapes back.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(
            d == 0 or d < -1 for d in self.target_shape
        ):
            raise ValueError(f"{self.name}: invalid target_shape {target_shape!r}")

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}

    def weight_shapes(self, input_shape):
        return {}

    def _build(self, input_shape, rng):
        size = math.prod(input_shape)
        impossible = f"{self.name}: cannot reshape {input_shape} to {self.target_shape}"
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(impossible)
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ValueError(impossible)
        return self.target_shape

    def forward(self, x, training):
        y, self.cache = reshape_forward(x, self.output_shape)
        return y

    def backward(self, dy):
        return reshape_backward(dy, self.backward_cache())


class Flatten(Reshape):
    """(N, d1, d2, ...) -> (N, d1*d2*...). Channels-last order, so it matches Keras's Flatten."""

    def __init__(self, **kwargs):
        super().__init__((-1,), **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["target_shape"]  # always (-1,)
        return config
