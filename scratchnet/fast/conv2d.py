"""Conv2D on the fast engine: numba im2col, one BLAS GEMM, fused bias+ReLU, and back.

Forward, with K = kh*kw*C and P = N*Ho*Wo output positions::

    cols = im2col(x)                      (P, K)   into a buffer reused across batches
    y    = act(cols @ W.reshape(K, F) + b) (P, F)  -> reshaped, not transposed, to (N, Ho, Wo, F)

Backward::

    dW = cols.T @ dY;  db = dY.sum(axis=0);  dX = col2im(dY @ W.T)

What it skips, none of which changes the maths beyond the order of float sums:

- the input gradient on a model's first layer;
- the outputs the next layer never reads (:meth:`FastConv2D.crop_output`): a 'valid'
  2x2 max-pool on the seed CNN's 11 x 11 maps reads only 10 x 10;
- at inference before a max-pool, the bias and ReLU on the values the pool drops
  (:meth:`FastConv2D.pooled`); on few channels (a first layer on grayscale images) with
  a 2 x 2 pool, the conv's map itself: ``kernels.conv_pool`` computes each pooling
  window's four sums from one 4 x 4 patch and keeps their max;
- in training, on a first layer with one input channel and a ReLU, its map, ReLU mask
  and the pool's dense gradient: ``kernels.conv_pool`` keeps which of the four sums
  won, and the backward takes dW and db from the input and the pooled gradient
  (:meth:`FastConv2D.pooled_training`, :meth:`FastConv2D.pooled_backward`).

A 3 x 3, stride-1 convolution on enough channels (the seed CNN's second) runs by Winograd
F(2x2, 3x3) instead, forward and backward (``scratchnet.fast.winograd``): the same
convolution with 2.25x fewer multiplications; there the max-pool after it, at inference,
is taken inside Winograd's last transform.

The backward's ``dY @ W.T`` and col2im run a few samples at a time, so each chunk of
dcols is scattered while it is still in cache; on a first layer with ReLU and a tiny K
(9 on grayscale images) dW and db come straight from dy and y in one pass
(``scratchnet.kernels.small_k``). Why these sizes: see benchmarks/README.md,
"Measurements behind the kernels' choices".
"""

from __future__ import annotations

import numpy as np

from scratchnet.fast.bias_activation import BiasActivation
from scratchnet.fast.runner import Runner
from scratchnet.fast.scratch import Scratch
from scratchnet.fast.winograd import MIN_CHANNELS, Winograd, applies
from scratchnet.kernels import small_k
from scratchnet.kernels.conv_pool import (
    conv3x3_maxpool,
    conv3x3_maxpool_grads,
    conv3x3_relu_maxpool,
)
from scratchnet.kernels.im2col import col2im, im2col
from scratchnet.layers.geometry import conv_output_size

#: Bytes of one backward chunk of dcols: about the per-core L2 cache.
BACKWARD_CHUNK_BYTES = 2 << 20
#: Bytes of im2col matrix per inference chunk: about one core's L2 cache.
INFERENCE_CHUNK_BYTES = 4 << 20
#: Bytes of Winograd's planes (transformed patches and products) per inference chunk.
WINOGRAD_CHUNK_BYTES = 11 << 18  # 2.75 MiB


class FastConv2D(Runner):
    """:class:`~scratchnet.layers.Conv2D` as im2col + one GEMM, with reusable buffers."""

    def __init__(self, layer, grads):
        super().__init__(layer, grads)
        (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
        H, W, C = layer.input_shape
        self.Ho, self.pad_top = conv_output_size(H, kh, sh, layer.padding)
        self.Wo, self.pad_left = conv_output_size(W, kw, sw, layer.padding)
        self.K = kh * kw * C  # one im2col row: a receptive field across all channels
        self.tail = BiasActivation(layer.activation, layer.dtype)
        # use_bias=False: the fused tail adds zeros and sums a db nobody reads.
        self.no_bias = np.zeros(layer.filters, layer.dtype)
        self.no_db = np.zeros(layer.filters, layer.dtype)
        # Scratch (rows, K) matrices, reallocated only when their size changes: the im2col
        # matrix of the batch, and dcols for one backward chunk.
        self.cols = self.dcols = None
        self.scratch = Scratch()
        self.n = None  # batch size of the last forward; None until there is one
        self.arg = None  # which cell of each window won, kept by pooled_training
        self.crop_output(None)

    # -- build-time rewrites ---------------------------------------------------------------------
    def crop_output(self, shape):
        """Compute only the top-left (h, w) of the output map; ``shape`` is (h, w, F) or None."""
        F = self.layer.filters
        h, w, f = (self.Ho, self.Wo, F) if shape is None else shape
        if not (0 < h <= self.Ho and 0 < w <= self.Wo and f == F):
            raise ValueError(f"{self.layer.name}: cannot crop an output of shape "
                             f"{(self.Ho, self.Wo, F)} to {tuple(shape)}")
        self.out = (h, w)  # the (rows, columns) of output computed
        self.winograd = (Winograd(self.out)
                         if applies(self.layer, self.out, (self.pad_top, self.pad_left))
                         else None)
        itemsize = self.layer.dtype.itemsize
        if self.winograd is not None:  # V and M: 16 planes of C and F values per tile
            tiles = self.winograd.th * self.winograd.tw
            sample_bytes = 16 * tiles * (self.layer.input_shape[2] + F) * itemsize
            self.inference_chunk = max(1, WINOGRAD_CHUNK_BYTES // sample_bytes)
        else:
            sample_bytes = h * w * self.K * itemsize  # of im2col, per sample
            self.inference_chunk = max(1, INFERENCE_CHUNK_BYTES // sample_bytes)

    @property
    def computed_shape(self):
        return (*self.out, self.layer.filters)

    def _pools_in_one_pass(self, pool):
        """Whether ``kernels.conv_pool`` computes pool(conv) here: a 3 x 3, stride-1 conv
        with no padding on fewer channels than Winograd takes, and a 2 x 2, stride-2
        'valid' pool whose windows tile the part of the map computed."""
        layer = self.layer
        return (layer.kernel_size == (3, 3) and layer.strides == (1, 1)
                and (self.pad_top, self.pad_left) == (0, 0)
                and layer.input_shape[2] < MIN_CHANNELS and pool.tiles(self.out))

    def pools_first(self, after):
        return after.commutes_with_increasing and self.tail.relu

    def trains_pooled(self, after):
        """A first layer (no input gradient) on one channel, with a ReLU, that pools in
        one pass (the training kernels are written for one channel: grayscale images)."""
        return (self.pools_first(after) and not self.need_input_grad
                and self.layer.input_shape[2] == 1 and self._pools_in_one_pass(after))

    # -- running ----------------------------------------------------------------------------------
    def _buffer(self, attr: str, rows: int) -> np.ndarray:
        """A (rows, K) scratch matrix, kept for the last two sizes (see fast/scratch.py)."""
        buf = self.scratch.get(attr, (rows, self.K), self.layer.dtype)
        setattr(self, attr, buf)
        return buf

    def _linear(self, x):
        """x (N, H, W, C) -> z = im2col(x) @ W, (P, F): the convolution without its bias."""
        (kh, kw), (sh, sw) = self.layer.kernel_size, self.layer.strides
        (N, F), (Ho, Wo) = (x.shape[0], self.layer.filters), self.out
        cols = self._buffer("cols", N * Ho * Wo)
        im2col(np.ascontiguousarray(x), kh, kw, sh, sw, self.pad_top, self.pad_left,
               cols.reshape(N, Ho, Wo, -1))
        self.n = N
        return cols @ self.layer.params["W"].reshape(-1, F)  # (P, K) @ (K, F)

    def forward(self, x, training, activate=True):
        """x (N, H, W, C) -> y (N, Ho, Wo, F) or its crop; keeps im2col (or Winograd's
        transformed patches) for backward."""
        self.inference_pass = False  # even at inference, the caches fit this pass
        self.arg = None  # pooled_backward has nothing of this pass to follow
        if self.winograd is not None:
            self.n = x.shape[0]
            z = self.winograd.forward(np.ascontiguousarray(x), self.layer.params["W"])
        else:
            z = self._linear(x)
        b = self.layer.params.get("b", self.no_bias)
        y = self.tail.forward(z, b, training, activate)
        return y.reshape(x.shape[0], *self.computed_shape)  # rows are (n, i, j)-ordered

    def pooled(self, x, pool):
        """Inference of ``pool(self(x))`` as ``relu(pool(x conv W) + b)``: the same numbers.

        Adding a channel's bias and ReLU are increasing, so they commute with the max of a
        pool, rounding included: the result is bit-identical, and the bias and ReLU touch
        4x fewer values (2x2 pool). By Winograd, when the pool's windows are its tiles,
        the map before the pool is never written.
        """
        self.inference_pass = True  # it keeps nothing a backward pass could use
        x = np.ascontiguousarray(x)
        if self.winograd is not None and self.winograd.pools(pool):
            self.n = x.shape[0]
            y = self.winograd.pooled(x, self.layer.params["W"])
        elif self._pools_in_one_pass(pool):
            self.n = x.shape[0]
            y = np.empty((x.shape[0], pool.Ho, pool.Wo, self.layer.filters), self.layer.dtype)
            conv3x3_maxpool(x, self.layer.params["W"], y)
        else:
            z = self._linear(x).reshape(x.shape[0], *self.computed_shape)
            y = pool.forward(z, False)
        F = self.layer.filters
        b = self.layer.params.get("b", self.no_bias)
        self.tail.forward(y.reshape(-1, F), b, False, True)  # in place
        return y

    def pooled_training(self, x, pool):
        """Training forward of ``pool(self(x))`` in one pass (``kernels.conv_pool``); keeps
        ``x`` and which sum of each window won, for :meth:`pooled_backward`."""
        self.inference_pass = False
        N, H, W, _ = x.shape
        self.x = np.ascontiguousarray(x).reshape(N, H, W)  # the one channel
        self.n = None  # backward has no im2col of this pass to follow: pooled_backward does
        shape = (N, pool.Ho, pool.Wo, self.layer.filters)
        self.arg = self.scratch.get("arg", shape, np.uint8)
        y = np.empty(shape, self.layer.dtype)
        b = self.layer.params.get("b", self.no_bias)
        W9 = self.layer.params["W"].reshape(9, -1)
        return conv3x3_relu_maxpool(self.x, W9, b, y, self.arg)

    def pooled_backward(self, dy):
        """dy (N, Hp, Wp, F), the gradient of the pooled output -> this layer's dW and db;
        returns None: a first layer has no input gradient to give."""
        dy = self.check_upstream(dy, None if self.arg is None else self.arg.shape)
        db = self.grads.get("b", self.no_db)
        conv3x3_maxpool_grads(self.x, self.arg, dy, self.grads["W"].reshape(9, -1), db)
        return None

    def backward(self, dy, activate=True):
        """dy (N, Ho, Wo, F) -> dx (N, H, W, C), or None when ``need_input_grad`` is False."""
        (kh, kw), (sh, sw) = self.layer.kernel_size, self.layer.strides
        N, F, cols = self.n, self.layer.filters, self.cols
        expected = None if N is None else (N, *self.out, F)
        dY = self.check_upstream(dy, expected).reshape(-1, F)  # (P, F)
        dW = self.grads["W"].reshape(-1, F)
        db = self.grads.get("b", self.no_db)
        if self.tail.relu_out is not None and not self.need_input_grad and self.K <= small_k.MAX_K:
            # dW, db from dy and the ReLU output directly; dz is never stored.
            small_k.relu_weight_grads(dY, self.tail.relu_out, cols, dW, db)
            return None
        dY = self.tail.backward(dY, db)  # through act; db sums every position
        if self.winograd is not None:
            return self.winograd.backward(dY, self.grads["W"], self.need_input_grad)
        np.matmul(cols.T, dY, out=dW)  # dW = cols^T dY, in place
        if not self.need_input_grad:
            return None  # first layer: the (P, K) GEMM and col2im would be wasted
        # dcols = dY W^T, then col2im, a few samples at a time.
        rows = self.out[0] * self.out[1]  # im2col rows per sample
        step = max(1, BACKWARD_CHUNK_BYTES // (rows * self.K * self.layer.dtype.itemsize))
        dcols = self._buffer("dcols", min(step, N) * rows)
        Wt = self.layer.params["W"].reshape(-1, F).T
        dx = np.empty((N, *self.layer.input_shape), dtype=self.layer.dtype)
        for lo in range(0, N, step):
            hi = min(lo + step, N)
            chunk = dcols[:(hi - lo) * rows]
            np.matmul(dY[lo * rows:hi * rows], Wt, out=chunk)
            col2im(chunk.reshape(hi - lo, *self.out, -1), kh, kw, sh, sw,
                   self.pad_top, self.pad_left, dx[lo:hi])
        return dx
