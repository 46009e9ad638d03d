"""2-D max-pooling, channels-last, with the argmax recorded for an exact backward.

Forward (numba, parallel over the batch)::

    y[n, i, j, c] = max over the window's in-bounds cells of x[n, r, s, c]
    argmax        = flat index (r*W + s)*C + c of that cell within x[n]

Backward: the max is locally the identity on the winning cell and constant in the
others, so each output's gradient goes to exactly one input::

    dx = 0;  dx[n].flat[argmax[n, i, j, c]] += dy[n, i, j, c]

(``+=`` because with strides < pool_size one input can win two windows.) Padding
follows Keras/TensorFlow; padded cells act as -inf and never win.

With 'valid' padding the windows can miss the input's last row or column (2x2 on
11 x 11 reads 10 x 10). :meth:`MaxPool2D.input_window` says so, and the pool then also
accepts just that window as input: a model lets the conv before it skip the rest.
"""

from __future__ import annotations

import numpy as np

from scratchnet.kernels.maxpool import (
    maxpool_backward,
    maxpool_backward_serial,
    maxpool_forward,
    maxpool_forward_serial,
)
from scratchnet.kernels.threads import use_pool
from scratchnet.layers.base import Layer, int_pair
from scratchnet.layers.conv2d import (
    check_image_shape,
    check_padding,
    conv_output_size,
)


class MaxPool2D(Layer):
    """Max-pooling over (N, H, W, C) inputs, as Keras's MaxPooling2D.

    Parameters
    ----------
    pool_size : int or (int, int), default 2
    strides : int or (int, int), optional
        Defaults to ``pool_size`` (non-overlapping windows).
    padding : {'valid', 'same'}
    input_shape, name
        As in :class:`~scratchnet.layers.base.Layer`.
    """

    # max(g(a), g(b)) = g(max(a, b)) for an increasing g, also in floating point: rounding
    # is increasing too. Padded cells never win, so 'same' padding keeps this.
    commutes_with_increasing = True

    def __init__(self, pool_size=2, strides=None, padding="valid", input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.pool_size = int_pair(pool_size, f"{self.name}: pool_size")
        self.strides = self.pool_size if strides is None else int_pair(
            strides, f"{self.name}: strides")
        self.padding = check_padding(self, padding)
        self._argmax = None  # (N, Ho, Wo, C) indices, reused while N is unchanged
        self._x_shape = None  # shape of the last forward's input

    def _build(self, input_shape, rng):
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        H, W, C = check_image_shape(self, input_shape, self.pool_size, self.padding, "pool_size")
        self._Ho, self._pad_top = conv_output_size(H, ph, sh, self.padding)
        self._Wo, self._pad_left = conv_output_size(W, pw, sw, self.padding)
        # Flat indices into one sample; int32 halves the traffic and fits any real image.
        self._index_dtype = np.int32 if H * W * C < 2**31 else np.int64
        self._argmax = None
        return self._Ho, self._Wo, C

    def input_window(self):
        """(h, w, C) read by a 'valid' pool whose windows miss the last rows or columns."""
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        H, W, C = self.input_shape
        h, w = (self._Ho - 1) * sh + ph, (self._Wo - 1) * sw + pw
        return (h, w, C) if self.padding == "valid" and (h, w) != (H, W) else None

    def forward(self, x, training):
        """x (N, H, W, C) -> y (N, Ho, Wo, C); in training, records the argmax for backward."""
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        shape = (x.shape[0], self._Ho, self._Wo, self.input_shape[2])
        if training and (self._argmax is None or self._argmax.shape != shape):
            self._argmax = np.empty(shape, dtype=self._index_dtype)
        self._inference_pass = not training  # then backward has no argmax to follow
        y = np.empty(shape, dtype=self.dtype)
        kernel = maxpool_forward if use_pool() else maxpool_forward_serial
        kernel(np.ascontiguousarray(x), ph, pw, sh, sw, self._pad_top, self._pad_left, y,
               self._argmax if training else None)  # inference: the max only, faster
        self._x_shape = x.shape  # the whole input, or only the window it reads
        return y

    def backward(self, dy):
        """dy (N, Ho, Wo, C) -> dx (N, H, W, C): dy routed to each window's maximum."""
        if not self.need_input_grad:
            return None  # a parameter-free layer first in a model has nothing to compute
        expected = None if self._argmax is None else self._argmax.shape
        dy = self.check_upstream(dy, expected)  # the kernel trusts argmax and dy to match
        dx = np.empty(self._x_shape, dtype=self.dtype)  # argmax indexes this shape
        return (maxpool_backward if use_pool() else maxpool_backward_serial)(dy, self._argmax, dx)
