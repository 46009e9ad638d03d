"""The input projection a recurrent runner makes for all T steps at once: ``[x, 1] @ [W; b]``.

A recurrent layer's input enters each step only through ``x_t @ W + b``, which does not
depend on the state: so the fast LSTM, GRU and SimpleRNN compute it for every step in
one (T*N, D+1) @ (D+1, C) GEMM before their time loops, the bias folded in as the
weight row of an extra input column of ones. In backward the same ones column makes
``[x, 1].T @ dz`` give ``[dW; db]`` in one GEMM, and ``dz @ W.T`` gives dx for all steps.

The operands are kept time-major, (T, N, ...), so that each step's slice is a
C-contiguous (N, C) block for the step kernels and the per-step GEMMs; ``x`` arrives
(N, T, D) and ``dx`` leaves that way. ``go_backwards`` is a reversed view of x on the
way in (the copy into the time-major buffer reverses it for free) and a flip of dx on
the way out.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: At inference, the input projection is made a block of steps at a time, each block's
#: (steps, N, C) result at most this big: all 28 steps of a GRU(128) at N = 512 would be
#: 22 MB (and a peak-memory cost), a block of them stays in cache.
INFERENCE_BLOCK_BYTES = 4 << 20


def projected_steps(x: np.ndarray, W: np.ndarray, b: np.ndarray,
                    block_bytes: int = INFERENCE_BLOCK_BYTES) -> Iterator[np.ndarray]:
    """``x[:, s] @ W + b``, (N, C), for s = 0 .. T-1, each block of steps in one GEMM.

    For inference: nothing is kept for backward, and a yielded array is overwritten
    after the next block's GEMM, so use it before asking for the next step.

    Parameters
    ----------
    x : (N, T, D) array, or a time-reversed view of one
    W : (D, C) array
    b : (C,) array
    """
    n, t, d = x.shape
    cols = W.shape[1]
    steps = max(1, min(t, block_bytes // max(1, n * cols * x.dtype.itemsize)))
    made = {}  # block length -> its projection and output buffer (at most two lengths)
    for start in range(0, t, steps):
        m = min(steps, t - start)
        if m not in made:
            made[m] = (InputProjection(m, n, d, cols, x.dtype), np.empty((m, n, cols), x.dtype))
        projection, zx = made[m]
        projection.forward(x[:, start:start + m], W, b, zx)
        yield from zx


class InputProjection:
    """Buffers and GEMMs of ``[x, 1] @ [W; b]`` for one batch size.

    Parameters
    ----------
    t, n, d : int
        Time steps, batch size, input features.
    cols : int
        Columns of W: the gate blocks (4H for an LSTM, 3H for a GRU, H for a SimpleRNN).
    dtype : numpy dtype
    """

    def __init__(self, t: int, n: int, d: int, cols: int, dtype):
        self.t, self.n, self.d, self.cols = t, n, d, cols
        self.x1 = np.empty((t, n, d + 1), dtype)  # x, time-major, and a column of ones
        self.x1[:, :, d] = 1
        self.wb = np.empty((d + 1, cols), dtype)  # [W; b]
        self.dwb = np.empty((d + 1, cols), dtype)  # [dW; db]

    def forward(self, x: np.ndarray, W: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
        """``out[s] = x[:, s] @ W + b`` for every step s.

        Parameters
        ----------
        x : (N, T, D) array, or a time-reversed view of one
        W : (D, C) array
        b : (C,) array
        out : (T, N, C) array, written
        """
        t, n, d = self.t, self.n, self.d
        np.copyto(self.x1[:, :, :d], x.transpose(1, 0, 2))
        self.wb[:d], self.wb[d] = W, b
        np.matmul(self.x1.reshape(t * n, d + 1), self.wb, out=out.reshape(t * n, self.cols))

    def weight_grads(self, dz: np.ndarray, dW: np.ndarray, db: np.ndarray) -> None:
        """``dW = sum_s x_s.T @ dz[s]`` and ``db = sum_s sum_n dz[s]``, in one GEMM.

        Parameters
        ----------
        dz : (T, N, C) array
            dL/d(x_s @ W + b) of every step.
        dW : (D, C) array, written
        db : (C,) array, written
        """
        t, n, d = self.t, self.n, self.d
        np.matmul(self.x1.reshape(t * n, d + 1).T, dz.reshape(t * n, self.cols), out=self.dwb)
        dW[...], db[...] = self.dwb[:d], self.dwb[d]

    def input_grad(self, dz: np.ndarray, W: np.ndarray, go_backwards: bool) -> np.ndarray:
        """dL/dx (N, T, D) from dz (T, N, C) in processing order: ``dz @ W.T``, one GEMM."""
        t, n, d = self.t, self.n, self.d
        dx = (dz.reshape(t * n, self.cols) @ W.T).reshape(t, n, d)
        if go_backwards:
            dx = dx[::-1]  # processing step s read x[:, T-1-s]
        return np.ascontiguousarray(dx.transpose(1, 0, 2))
