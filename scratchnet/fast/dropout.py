"""Dropout on the fast engine: the layer's own mask, drawn once for a whole batch."""

from __future__ import annotations

from scratchnet.fast.runner import Runner


class FastDropout(Runner):
    """:class:`~scratchnet.layers.Dropout`: y = x * keep / (1 - rate) in training.

    The keep mask is the layer's (:meth:`Dropout.keep_mask`), drawn for the whole batch in
    batch order; a shard takes its rows (``drawn``), so the masks depend on the seed
    alone, not on the number of workers.
    """

    def draw(self, n):
        return self.layer.keep_mask(n) if self.layer.rate else None

    def forward(self, x, training, activate=True):
        rate = self.layer.rate
        if not training or rate == 0:
            self.mask = None
            return x
        keep = self.draw(len(x)) if self.drawn is None else self.drawn
        self.drawn = None  # used once
        self.mask = keep * x.dtype.type(1 / (1 - rate))  # 0 or 1/(1-rate)
        return x * self.mask

    def backward(self, dy, activate=True):
        return dy if self.mask is None else dy * self.mask
