"""Inverted dropout."""

from __future__ import annotations

from scratchnet.layers.base import Layer


class Dropout(Layer):
    """Zero each activation with probability ``rate`` in training, scale the rest by 1/(1-rate).

    Scaling at training time ("inverted" dropout) makes inference the identity.
    The mask comes from ``self.rng``, which the model seeds, so runs are reproducible.

    Shapes: x (N, ...) -> y (N, ...), the same.
    """

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"{self.name}: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def forward(self, x, training):
        if not training or self.rate == 0:
            self._mask = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.rate
        self._mask = keep * x.dtype.type(1 / (1 - self.rate))  # (N, ...), 0 or 1/(1-rate)
        return x * self._mask

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask
