"""Inverted dropout."""

from __future__ import annotations

import numpy as np

from scratchnet.layers.base import Layer
from scratchnet.reference import dropout_backward, dropout_forward


class Dropout(Layer):
    """Zero each activation with probability ``rate`` in training, scale the rest by 1/(1-rate).

    Scaling at training time ("inverted" dropout) makes inference the identity. The mask
    comes from ``self.rng``, which the model seeds, so runs are reproducible.

    Shapes: x (N, ...) -> y (N, ...), the same. The maths: ``scratchnet.reference.dropout``.
    """

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"{self.name}: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}

    def keep_mask(self, n: int) -> np.ndarray:
        """A fresh (n, *input_shape) boolean mask: True where an activation is kept.

        One uniform draw per activation from ``self.rng``, kept where u >= rate.
        """
        return self.rng.random((n, *self.input_shape), dtype=self.dtype) >= self.rate

    def forward(self, x, training):
        rate = self.rate if training else 0.0
        keep = self.keep_mask(len(x)) if rate else np.ones(x.shape, dtype=bool)
        y, self.cache = dropout_forward(x, keep, rate)
        return y

    def backward(self, dy):
        return dropout_backward(dy, self.backward_cache())
