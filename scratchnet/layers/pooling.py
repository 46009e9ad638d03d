"""2-D max-pooling, channels-last, as Keras's MaxPooling2D.

Each output is the maximum of its window; backward sends each output's gradient to the
one input cell that won its window (the first maximum in row-major order, on ties; a
NaN wins, so NaN propagates). The maths: ``scratchnet.reference.pooling``.
"""

from __future__ import annotations

from scratchnet.layers.base import Layer, int_pair
from scratchnet.layers.geometry import check_image_shape, check_padding, conv_output_size
from scratchnet.reference import maxpool_backward, maxpool_forward


class MaxPool2D(Layer):
    """Max-pooling over (N, H, W, C) inputs.

    Parameters
    ----------
    pool_size : int or (int, int), default 2
    strides : int or (int, int), optional
        Defaults to ``pool_size`` (non-overlapping windows).
    padding : {'valid', 'same'}
        'same' pads with -inf: padded cells never win.
    input_shape, name
        As in :class:`~scratchnet.layers.base.Layer`.
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.pool_size = int_pair(pool_size, f"{self.name}: pool_size")
        self.strides = self.pool_size if strides is None else int_pair(
            strides, f"{self.name}: strides")
        self.padding = check_padding(self, padding)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}

    def weight_shapes(self, input_shape):
        return {}

    def _build(self, input_shape, rng):
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        H, W, C = check_image_shape(self, input_shape, self.pool_size, self.padding, "pool_size")
        Ho, _ = conv_output_size(H, ph, sh, self.padding)
        Wo, _ = conv_output_size(W, pw, sw, self.padding)
        return Ho, Wo, C

    def forward(self, x, training):
        """x (N, H, W, C) -> y (N, Ho, Wo, C)."""
        y, self.cache = maxpool_forward(x, self.pool_size, self.strides, self.padding)
        return y

    def backward(self, dy):
        """dy (N, Ho, Wo, C) -> dx (N, H, W, C): dy routed to each window's maximum."""
        return maxpool_backward(dy, self.backward_cache())
