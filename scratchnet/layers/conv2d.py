"""2-D convolution, channels-last, as im2col + one GEMM.

Forward, with K = kh*kw*C and P = N*Ho*Wo output positions::

    cols = im2col(x)                      (P, K)     one receptive field per row
    y    = cols @ W.reshape(K, F) + b     (P, F)  -> reshaped, not transposed, to (N, Ho, Wo, F)

Backward, with dY = dy.reshape(P, F), differentiates that one GEMM::

    dW = cols.T @ dY        (K, F)  -> (kh, kw, C, F)
    db = dY.sum(axis=0)     (F,)
    dX = col2im(dY @ W.T)   (P, K)  -> (N, H, W, C)   skipped on a model's first layer
                                                       (a few samples at a time)

Inside a model whose next layer reads only the top-left part of this layer's output
(a 'valid' max-pool that skips an odd last row and column), the layer computes only
that part: P counts only those positions, and the output is (N, h, w, F). The rest
would be thrown away, and for the seed CNN's second conv it is 21 of 121 positions.
See :meth:`Conv2D.crop_output`.

Padding follows Keras/TensorFlow exactly (see :func:`conv_output_size`), so weights
and outputs match Keras's Conv2D.

On a first layer with ReLU and a tiny K (K = 9 on grayscale images), the backward
computes dW and db straight from dy and y, without storing dZ: see
``scratchnet.kernels.small_k``. Same maths, one pass instead of three.
"""

from __future__ import annotations

import numpy as np

from scratchnet.initializers import glorot_uniform, zeros
from scratchnet.kernels import small_k
from scratchnet.kernels.bias_act import parallel_for
from scratchnet.kernels.im2col import col2im, col2im_serial, im2col, im2col_serial
from scratchnet.kernels.threads import use_pool
from scratchnet.layers import bias_activation
from scratchnet.layers.activations import ReLU
from scratchnet.layers.base import Layer, int_pair, positive_int

PADDINGS = ("valid", "same")


def conv_output_size(size: int, k: int, stride: int, padding: str) -> tuple[int, int]:
    """Output length and padding-before along one axis, by Keras/TensorFlow's rules.

    ``'valid'``: out = (size - k) // stride + 1, no padding.
    ``'same'``:  out = ceil(size / stride); the total padding
    ``max((out - 1)*stride + k - size, 0)`` is split with the odd cell after
    (bottom/right), so pad_before = total // 2.
    """
    if padding == "valid":
        return (size - k) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + k - size, 0) // 2


def check_padding(layer: Layer, padding) -> str:
    """Return ``padding`` lower-cased, or raise naming the layer if it is not valid/same."""
    p = padding.lower() if isinstance(padding, str) else padding
    if p not in PADDINGS:
        raise ValueError(f"{layer.name}: padding must be one of {PADDINGS}, got {padding!r}")
    return p


def check_image_shape(layer: Layer, input_shape, window: tuple[int, int], padding: str,
                      what: str) -> tuple[int, int, int]:
    """Validate an (H, W, C) sample shape against a (kh, kw) window; return (H, W, C)."""
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(f"{layer.name}: expected samples of shape (H, W, C) (input (N, H, W, C)), "
                         f"got sample shape {tuple(input_shape)}")
    H, W, C = input_shape
    if padding == "valid" and (window[0] > H or window[1] > W):
        raise ValueError(f"{layer.name}: {what} {window} is larger than the input's (H, W) = "
                         f"{(H, W)} with padding='valid'; expected {what} <= input "
                         f"(or padding='same')")
    return H, W, C


# Size of one chunk of dcols in backward: about the per-core L2 cache. Measured at the
# seed CNN's second conv (batch 128, 16 samples a chunk): dcols + col2im alone took 6.2 ms
# in chunks against 8.2 ms as one (P, K) matrix; inside a whole training step the layer's
# backward gained less (median 12.8 against 13.3 ms), and its buffer is 2 MB, not 18.
# (The forward gains nothing from chunking: backward needs the whole im2col matrix, so
# it is written to memory regardless.)
BACKWARD_CHUNK_BYTES = 2 << 20
# At inference a model feeds this layer as many samples at a time as keep its im2col
# matrix within about one core's L2 cache (it is 118 MB for the seed CNN's second conv at
# N = 1024, with the 10 x 10 outputs its pool reads). For that conv, 4 MB is 36 samples.
# Predict at batch 1024, one shard per core (scratchnet.parallel), measured in one
# process (samples/s): chunks of 10 20,200-20,800, 16 23,400-24,000, 30 24,500-26,200,
# 40 24,900-27,000, 56 24,000-27,200, 80 23,000-24,800, 128 22,000-22,600.
INFERENCE_CHUNK_BYTES = 4 << 20


class Conv2D(Layer):
    """2-D convolution over (N, H, W, C) inputs, Keras layout and defaults.

    Parameters
    ----------
    filters : int
        Number of output channels F.
    kernel_size : int or (int, int)
    strides : int or (int, int), default 1
    padding : {'valid', 'same'}
    activation, input_shape, name
        As in :class:`~scratchnet.layers.base.Layer`.

    Attributes
    ----------
    params : ``'W'`` (kh, kw, C, F), Glorot-uniform; ``'b'`` (F,), zeros.
    """

    fuses_activation = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 input_shape=None, name=None):
        super().__init__(activation=activation, input_shape=input_shape, name=name)
        self.filters = positive_int(filters, f"{self.name}: filters")
        self.kernel_size = int_pair(kernel_size, f"{self.name}: kernel_size")
        self.strides = int_pair(strides, f"{self.name}: strides")
        self.padding = check_padding(self, padding)
        # Scratch (rows, K) matrices, reallocated only when their size changes: the im2col
        # matrix of the batch, and dcols for one backward chunk.
        self._cols = self._dcols = None
        self._n = None  # batch size of the last forward; None until there is one

    def _build(self, input_shape, rng):
        (kh, kw), (sh, sw), F = self.kernel_size, self.strides, self.filters
        H, W, C = check_image_shape(self, input_shape, self.kernel_size, self.padding,
                                    "kernel_size")
        self._Ho, self._pad_top = conv_output_size(H, kh, sh, self.padding)
        self._Wo, self._pad_left = conv_output_size(W, kw, sw, self.padding)
        self._K = kh * kw * C  # one im2col row: a receptive field across all channels
        self.params = {
            # Keras's fans for a conv kernel: the receptive field times in/out channels.
            "W": glorot_uniform((kh, kw, C, F), kh * kw * C, kh * kw * F, rng, self.dtype),
            "b": zeros((F,), self.dtype),
        }
        self._cols = self._dcols = self._n = None
        self.crop_output(None)
        return self._Ho, self._Wo, F

    @property
    def computed_shape(self) -> tuple[int, int, int]:
        """The sample shape forward returns: ``output_shape``, or its crop."""
        return (*self._out, self.filters)

    def crop_output(self, shape):
        """Compute only the top-left (h, w) of the output map; ``shape`` is (h, w, F) or None.

        Called by a model with the next layer's ``input_window()``. The output is then
        (N, h, w, F) instead of ``(N, *output_shape)``.
        """
        h, w, f = (self._Ho, self._Wo, self.filters) if shape is None else shape
        if not (0 < h <= self._Ho and 0 < w <= self._Wo and f == self.filters):
            raise ValueError(f"{self.name}: cannot crop an output of shape "
                             f"{(self._Ho, self._Wo, self.filters)} to {tuple(shape)}")
        self._out = (h, w)  # the (rows, columns) of output computed
        sample_bytes = h * w * self._K * self.dtype.itemsize  # of im2col, per sample
        self.inference_chunk = max(1, INFERENCE_CHUNK_BYTES // sample_bytes)

    def _buffer(self, attr: str, rows: int) -> np.ndarray:
        """A (rows, K) scratch matrix, reallocated only when the batch size changes."""
        buf = getattr(self, attr)
        if buf is None or buf.shape[0] != rows or buf.dtype != self.dtype:
            buf = np.empty((rows, self._K), dtype=self.dtype)
            setattr(self, attr, buf)
        return buf

    def forward(self, x, training):
        """x (N, H, W, C) -> y (N, Ho, Wo, F) or its crop; caches im2col for backward."""
        self._inference_pass = False  # even at inference, the caches fit this pass
        z = self._linear(x)
        y = bias_activation.forward(self, z, training)  # act(z + b), fused for ReLU
        return y.reshape(x.shape[0], *self.computed_shape)  # rows are (n, i, j)-ordered

    def _linear(self, x):
        """x (N, H, W, C) -> z = im2col(x) @ W, (P, F): the convolution without its bias."""
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        (N, F), (Ho, Wo) = (x.shape[0], self.filters), self._out
        cols = self._buffer("_cols", N * Ho * Wo)
        (im2col if use_pool() else im2col_serial)(
            np.ascontiguousarray(x), kh, kw, sh, sw, self._pad_top, self._pad_left,
            cols.reshape(N, Ho, Wo, -1))
        self._n = N
        return cols @ self.params["W"].reshape(-1, F)  # (P, K) @ (K, F): the whole convolution

    def pools_first(self, after):
        return after.commutes_with_increasing and isinstance(self.activation, ReLU)

    def pooled(self, x, pool):
        """Inference of ``pool(self(x))`` as ``relu(pool(x conv W) + b)``: the same numbers.

        Adding a channel's bias and ReLU are increasing, so they commute with the max of a
        pool, rounding included: the result is bit-identical. Run after the pool, they
        touch 4x fewer values (2x2 pool), and the conv's output is written and read one
        time fewer. Predict at batch 1024 measured 8-19% faster on the seed CNN.
        """
        self.check_input(x)
        self._inference_pass = True  # it keeps nothing a backward pass could use
        z = self._linear(x).reshape(x.shape[0], *self.computed_shape)
        y = pool(z)
        self._activate = True  # pools_first: the activation is ReLU
        bias_activation.forward(self, y.reshape(-1, self.filters), False)  # in place
        return y

    def backward(self, dy):
        """dy (N, Ho, Wo, F) -> dx (N, H, W, C), or None when ``need_input_grad`` is False."""
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        N, F, cols = self._n, self.filters, self._cols
        expected = None if N is None else (N, *self._out, F)
        dY = self.check_upstream(dy, expected).reshape(-1, F)  # (P, F)
        if (self._relu_out is not None and not self.need_input_grad
                and self._K <= small_k.MAX_K):
            # dW, db from dy and the ReLU output directly; dz is never stored.
            kernel = (small_k.relu_weight_grads if parallel_for(dY)
                      else small_k.relu_weight_grads_serial)
            kernel(dY, self._relu_out, cols, self.grads["W"].reshape(-1, F), self.grads["b"])
            return None
        dY = bias_activation.backward(self, dY)  # through act; db sums every position
        np.matmul(cols.T, dY, out=self.grads["W"].reshape(-1, F))  # dW = cols^T dY, in place
        if not self.need_input_grad:
            return None  # first layer: the (P, K) GEMM and col2im would be wasted
        # dcols = dY W^T, then col2im, a few samples at a time: each chunk of dcols is
        # scattered while it is still in cache, instead of a (P, K) round trip to memory.
        rows = self._out[0] * self._out[1]  # im2col rows per sample
        step = max(1, BACKWARD_CHUNK_BYTES // (rows * self._K * self.dtype.itemsize))
        dcols = self._buffer("_dcols", min(step, N) * rows)
        Wt = self.params["W"].reshape(-1, F).T
        dx = np.empty((N, *self.input_shape), dtype=self.dtype)
        scatter = col2im if use_pool() else col2im_serial
        for lo in range(0, N, step):
            hi = min(lo + step, N)
            chunk = dcols[:(hi - lo) * rows]
            np.matmul(dY[lo * rows:hi * rows], Wt, out=chunk)
            scatter(chunk.reshape(hi - lo, *self._out, -1), kh, kw, sh, sw,
                   self._pad_top, self._pad_left, dx[lo:hi])
        return dx
