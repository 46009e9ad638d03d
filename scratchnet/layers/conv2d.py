"""2-D convolution, channels-last, as im2col + one matrix product.

With K = kh*kw*C and P = N*Ho*Wo output positions::

    cols = im2col(x)                      (P, K)     one receptive field per row
    y    = cols @ W.reshape(K, F) + b     (P, F)  -> reshaped, not transposed, to (N, Ho, Wo, F)

and backward differentiates that one product::

    dW = cols.T @ dY,   db = dY.sum(axis=0),   dX = col2im(dY @ W.T)

The maths: ``scratchnet.reference.conv`` (with a naive loop version beside it). Padding
follows Keras/TensorFlow exactly (:func:`~scratchnet.layers.geometry.conv_output_size`),
so weights and outputs match Keras's Conv2D.
"""

from __future__ import annotations

from scratchnet.initializers import glorot_uniform, zeros
from scratchnet.layers.base import Layer, int_pair, positive_int
from scratchnet.layers.geometry import check_image_shape, check_padding, conv_output_size
from scratchnet.reference import conv2d_backward, conv2d_forward


class Conv2D(Layer):
    """2-D convolution over (N, H, W, C) inputs, Keras layout and defaults.

    Parameters
    ----------
    filters : int
        Number of output channels F.
    kernel_size : int or (int, int)
    strides : int or (int, int), default 1
    padding : {'valid', 'same'}
    use_bias : bool, default True
    activation, input_shape, name, kernel_regularizer, bias_regularizer
        As in :class:`~scratchnet.layers.base.Layer`.

    Attributes
    ----------
    params : ``'W'`` (kh, kw, C, F), Glorot-uniform; ``'b'`` (F,), zeros.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, **kwargs):
        super().__init__(activation=activation, **kwargs)
        self.use_bias = bool(use_bias)
        self.filters = positive_int(filters, f"{self.name}: filters")
        self.kernel_size = int_pair(kernel_size, f"{self.name}: kernel_size")
        self.strides = int_pair(strides, f"{self.name}: strides")
        self.padding = check_padding(self, padding)

    def _build(self, input_shape, rng):
        (kh, kw), (sh, sw), F = self.kernel_size, self.strides, self.filters
        H, W, C = check_image_shape(self, input_shape, self.kernel_size, self.padding,
                                    "kernel_size")
        self.params = {
            # Keras's fans for a conv kernel: the receptive field times in/out channels.
            "W": glorot_uniform((kh, kw, C, F), kh * kw * C, kh * kw * F, rng, self.dtype),
        }
        if self.use_bias:
            self.params["b"] = zeros((F,), self.dtype)
        Ho, _ = conv_output_size(H, kh, sh, self.padding)
        Wo, _ = conv_output_size(W, kw, sw, self.padding)
        return Ho, Wo, F

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "use_bias": self.use_bias}

    def weight_shapes(self, input_shape):
        (kh, kw), F = self.kernel_size, self.filters
        return {"W": (kh, kw, input_shape[-1], F), **({"b": (F,)} if self.use_bias else {})}

    def forward(self, x, training):
        """x (N, H, W, C) -> y (N, Ho, Wo, F)."""
        y, self.cache = conv2d_forward(x, self.params["W"], self.params.get("b"), self.strides,
                                       self.padding)
        return y

    def backward(self, dy):
        """dy (N, Ho, Wo, F) -> dx (N, H, W, C); dW (kh, kw, C, F), db (F,)."""
        dx, dW, db = conv2d_backward(dy, self.backward_cache())
        self.store_grads(W=dW, **({"b": db} if self.use_bias else {}))
        return dx
