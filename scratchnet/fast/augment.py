"""The augmentation layers on the fast engine: one fused kernel for every geometric map.

The random numbers are the layer's own (``draw``), drawn for the whole batch in batch
order; a shard takes its rows (``drawn``), so the distortions depend on the seed alone,
not on the number of workers (as :class:`~scratchnet.fast.dropout.FastDropout`).
"""

from __future__ import annotations

import numpy as np

from scratchnet.fast.runner import Runner
from scratchnet.kernels import affine_sample


class FastResampling(Runner):
    """:class:`~scratchnet.layers.augment.RandomResampling` and its subclasses (rotation,
    translation, zoom, shear, elastic): ``affine_sample`` forward and backward."""

    def __init__(self, layer, grads):
        super().__init__(layer, grads)
        self.maps = None  # (matrices, displacement) of the last training forward
        self.shape = None

    def draw(self, n):
        return self.layer.draw(n)

    def forward(self, x, training, activate=True):
        self.shape = x.shape
        if not training:
            self.maps = None
            return x
        drawn = self.draw(len(x)) if self.drawn is None else self.drawn
        self.drawn = None  # used once
        self.maps = self.layer.maps(drawn)
        images = np.ascontiguousarray(self.layer.images(x))
        out = np.empty_like(images)
        affine_sample.affine_sample_forward(images, *self.maps,
                                            self.layer.dtype.type(self.layer.fill_value), out)
        return out.reshape(x.shape)

    def backward(self, dy, activate=True):
        dy = self.check_upstream(dy, self.shape)
        if not self.need_input_grad:  # the model's first layer: nobody reads dx
            return None
        if self.maps is None:
            return dy
        images = self.layer.images(dy)
        dx = np.empty_like(images)
        affine_sample.affine_sample_backward(images, *self.maps, dx)
        return dx.reshape(dy.shape)


class FastGaussianNoise(Runner):
    """:class:`~scratchnet.layers.augment.GaussianNoise`: y = x + noise in training."""

    def draw(self, n):
        return self.layer.draw(n)

    def forward(self, x, training, activate=True):
        if not training:
            return x
        noise = self.draw(len(x)) if self.drawn is None else self.drawn
        self.drawn = None  # used once
        return x + noise

    def backward(self, dy, activate=True):
        return dy if self.need_input_grad else None
