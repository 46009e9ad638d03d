"""MaxPool2D on the fast engine: numba kernels that record the argmax for the backward.

Forward::

    y[n, i, j, c] = max over the window's in-bounds cells of x[n, r, s, c]
    argmax        = flat index (r*W + s)*C + c of that cell within x[n]

Backward: ``dx = 0;  dx[n].flat[argmax[n, i, j, c]] += dy[n, i, j, c]``. At inference no
argmax is recorded (a max-only loop, which vectorizes).

With 'valid' padding the windows can miss the input's last row or column (2x2 on 11 x 11
reads 10 x 10): :meth:`FastMaxPool2D.input_window` says so, and the pool then accepts
just that window as input, so the conv before it can skip the rest.
"""

from __future__ import annotations

import numpy as np

from scratchnet.fast.runner import Runner
from scratchnet.kernels.maxpool import maxpool_backward, maxpool_forward
from scratchnet.layers.geometry import conv_output_size


class FastMaxPool2D(Runner):
    """:class:`~scratchnet.layers.MaxPool2D` with the argmax kept for an exact backward."""

    # max(g(a), g(b)) = g(max(a, b)) for an increasing g, also in floating point: rounding
    # is increasing too. Padded cells never win, so 'same' padding keeps this.
    commutes_with_increasing = True

    def __init__(self, layer, grads):
        super().__init__(layer, grads)
        (ph, pw), (sh, sw) = layer.pool_size, layer.strides
        H, W, C = layer.input_shape
        self.Ho, self.pad_top = conv_output_size(H, ph, sh, layer.padding)
        self.Wo, self.pad_left = conv_output_size(W, pw, sw, layer.padding)
        # Flat indices into one sample; int32 halves the traffic and fits any real image.
        self.index_dtype = np.int32 if H * W * C < 2**31 else np.int64
        self.argmax = None  # (N, Ho, Wo, C) indices, reused while N is unchanged
        self.x_shape = None  # shape of the last forward's input

    def input_window(self):
        """(h, w, C) read by a 'valid' pool whose windows miss the last rows or columns."""
        (ph, pw), (sh, sw) = self.layer.pool_size, self.layer.strides
        H, W, C = self.layer.input_shape
        h, w = (self.Ho - 1) * sh + ph, (self.Wo - 1) * sw + pw
        return (h, w, C) if self.layer.padding == "valid" and (h, w) != (H, W) else None

    def tiles(self, out) -> bool:
        """Whether this is a 2 x 2, stride-2, 'valid' pool whose windows tile exactly the
        (h, w) map ``out``: what a conv that pools as it computes needs (fast/conv2d.py)."""
        (ph, pw), (sh, sw) = self.layer.pool_size, self.layer.strides
        return ((ph, pw, sh, sw) == (2, 2, 2, 2) and self.layer.padding == "valid"
                and tuple(out) == (2 * self.Ho, 2 * self.Wo))

    def forward(self, x, training, activate=True):
        """x (N, H, W, C) or its window -> y (N, Ho, Wo, C); in training, records the argmax."""
        (ph, pw), (sh, sw) = self.layer.pool_size, self.layer.strides
        shape = (x.shape[0], self.Ho, self.Wo, self.layer.input_shape[2])
        if training and (self.argmax is None or self.argmax.shape != shape):
            self.argmax = np.empty(shape, dtype=self.index_dtype)
        self.inference_pass = not training  # then backward has no argmax to follow
        y = np.empty(shape, dtype=self.layer.dtype)
        maxpool_forward(np.ascontiguousarray(x), ph, pw, sh, sw, self.pad_top, self.pad_left, y,
                        self.argmax if training else None)  # inference: the max only, faster
        self.x_shape = x.shape  # the whole input, or only the window it reads
        return y

    def backward(self, dy, activate=True):
        """dy (N, Ho, Wo, C) -> dx (N, H, W, C): dy routed to each window's maximum."""
        if not self.need_input_grad:
            return None  # a parameter-free layer first in a model has nothing to compute
        expected = None if self.argmax is None else self.argmax.shape
        dy = self.check_upstream(dy, expected)  # the kernel trusts argmax and dy to match
        dx = np.empty(self.x_shape, dtype=self.layer.dtype)  # argmax indexes this shape
        return maxpool_backward(dy, self.argmax, dx)
