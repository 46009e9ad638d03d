"""The fast Conv2D's forward by Winograd F(2x2, 3x3), where it pays: 3 x 3, stride 1.

The maths is ``scratchnet.kernels.winograd``'s: the input patches and the filters are
transformed, 16 GEMMs of (tiles, C) @ (C, F) replace the one (positions, 9 C) @ (9 C, F)
of im2col, and the 2 x 2 outputs of each tile come back by a last transform. It is
the same convolution up to float rounding, with 2.25x fewer multiplications.

At inference before a 2 x 2 max-pool whose windows are the tiles (the seed CNN's second
convolution: 13 x 13 in, the 10 x 10 the pool reads out), the last transform takes
each window's max directly (:meth:`Winograd.pooled`), and the conv's map is never
written.

Where it is used, and why only there (measured: benchmarks/README.md, "Winograd for
the second convolution"): with few input channels each tile's GEMM row is short and
the transforms cost more than the multiplications they save, so a first layer on
grayscale images keeps im2col. The kernels take whole tiles inside the input only (no
padding, even sides), which keeps them quick to compile; a 'same' conv or an odd map
keeps im2col too.
"""

from __future__ import annotations

import numpy as np

from scratchnet.fast.scratch import Scratch
from scratchnet.kernels import winograd as k
from scratchnet.kernels import winograd_adjoint as adj

#: Fewest input channels for which Winograd beats im2col + GEMM.
MIN_CHANNELS = 16


def applies(layer, out, pads) -> bool:
    """Whether ``layer`` (a built Conv2D) computing the ``out`` (h, w) of its map, with
    ``pads`` (top, left) of padding, takes the Winograd path: a 3 x 3, stride-1
    convolution on enough channels, with no padding (every tile's patch inside the input)
    and even sides (whole tiles), which is what the kernels take."""
    return (layer.kernel_size == (3, 3) and layer.strides == (1, 1)
            and layer.input_shape[2] >= MIN_CHANNELS and tuple(pads) == (0, 0)
            and out[0] % 2 == 0 and out[1] % 2 == 0)


class Winograd:
    """``conv(x, W)`` without bias for one Conv2D runner, with scratch kept between calls.

    Parameters
    ----------
    out : (int, int)
        The (h, w) of the output map computed (a crop of the layer's, possibly); even.
    """

    def __init__(self, out):
        self.out = out
        self.th, self.tw = k.tiles(*out)
        self.scratch = Scratch()
        self.V = self.M = None  # (16, R, C) and (16, R, F) planes of the last call
        self.U = None  # (16, C, F): the last forward's transformed filters
        self.n, self.x_shape = None, None  # of the last forward's input

    def _planes(self, attr, n, width, dtype):
        rows = k.plane_rows(n * self.th * self.tw, np.dtype(dtype).itemsize * width)
        buf = self.scratch.get(attr, (16, rows, width), dtype, zeros=True)  # the rows past
        setattr(self, attr, buf)  # the tiles stay 0
        return buf

    def _products(self, x, W):
        """x (N, H, W, C), W (3, 3, C, F) -> M (16, R, F): the 16 GEMMs of the tiles.

        Keeps V (the transformed patches), U (the transformed filters) and the input's
        shape: what :meth:`backward` needs.
        """
        n, C, F = x.shape[0], x.shape[3], W.shape[3]
        self.n, self.x_shape = n, x.shape
        tiles = n * self.th * self.tw
        V = self._planes("V", n, C, x.dtype)
        M = self._planes("M", n, F, x.dtype)
        k.winograd_input(x, self.th, self.tw, V)
        self.U = k.filter_transform(W)
        np.matmul(V[:, :tiles], self.U, out=M[:, :tiles])  # (16, tiles, C) @ (16, C, F)
        return M

    def forward(self, x, W):
        """x (N, H, W, C) -> z (N * h * w, F), the convolution's rows in (n, i, j) order."""
        M = self._products(x, W)
        z = np.empty((x.shape[0], *self.out, W.shape[3]), x.dtype)
        k.winograd_output(M, self.th, self.tw, z)
        return z.reshape(-1, W.shape[3])

    def backward(self, dz, dW, need_input_grad):
        """dz (N * h * w, F), the gradient of :meth:`forward`'s output -> dx (N, H, W, C).

        Writes dW (3, 3, C, F). Returns None when ``need_input_grad`` is False. Runs the
        forward's transforms transposed, last first (``scratchnet.kernels.winograd_adjoint``).
        """
        n, F, tiles = self.n, dW.shape[3], self.n * self.th * self.tw
        T = self.M  # the forward's products are spent: their planes take A dz A^T
        adj.winograd_output_adjoint(dz.reshape(n, *self.out, F), self.th, self.tw, T)
        V, T = self.V[:, :tiles], T[:, :tiles]
        dW[...] = adj.filter_transform_adjoint(np.matmul(V.transpose(0, 2, 1), T))
        if not need_input_grad:
            return None
        np.matmul(T, self.U.transpose(0, 2, 1), out=V)  # dV; V is spent too, so dV takes it
        dx = np.empty(self.x_shape, dz.dtype)
        return adj.winograd_input_adjoint(self.V, self.th, self.tw, dx)

    def pools(self, pool) -> bool:
        """Whether ``pool`` (a FastMaxPool2D) takes exactly the tiles as its windows."""
        return pool.tiles(self.out)

    def pooled(self, x, W):
        """x (N, H, W, C) -> the 2 x 2 max-pool of conv(x, W), (N, th, tw, F)."""
        M = self._products(x, W)
        y = np.empty((x.shape[0], self.th, self.tw, W.shape[3]), x.dtype)
        k.winograd_output_pool(M, self.th, self.tw, y)
        self.n = None  # nothing here for a backward pass
        return y
