"""Inverted dropout."""

from __future__ import annotations

from scratchnet.layers.base import Layer


class Dropout(Layer):
    """Zero each activation with probability ``rate`` in training, scale the rest by 1/(1-rate).

    Scaling at training time ("inverted" dropout) makes inference the identity.
    The mask comes from ``self.rng``, which the model seeds, so runs are reproducible;
    a sharded step draws it for the whole batch (see :meth:`draw`), so it does not
    depend on the number of workers.

    Shapes: x (N, ...) -> y (N, ...), the same.
    """

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"{self.name}: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.drawn = None  # (N, ...) uniforms handed over by a sharded step, else None

    def draw(self, n):
        """Uniforms (n, ...) in [0, 1) for a mask; ``None`` when the rate is 0."""
        if self.rate == 0:
            return None
        return self.rng.random((n, *self.input_shape), dtype=self.dtype)

    def forward(self, x, training):
        if not training or self.rate == 0:
            self._mask = None
            return x
        # A shard's rows of the whole batch's draw, if a sharded step left them here.
        u = self.draw(len(x)) if self.drawn is None else self.drawn
        self.drawn = None  # used once
        self._mask = (u >= self.rate) * x.dtype.type(1 / (1 - self.rate))  # 0 or 1/(1-rate)
        return x * self._mask

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask
