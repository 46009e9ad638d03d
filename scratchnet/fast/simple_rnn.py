"""SimpleRNN on the fast engine: GEMMs for the projections, a fused kernel per step.

As ``FastLSTM``: the input projection of all T steps is one GEMM
(``scratchnet.fast.projection``); each step is one GEMM
(``h_{t-1} @ U``) and one kernel (``h = act(zx + zh)``, ``scratchnet.kernels.simple_rnn``).
The backward is one GEMM (``dz_{t+1} @ U.T``) and one kernel per step; ``[dW; db]``,
``dU`` and ``dx`` are one GEMM each over all steps after the loop. Caches are time-major
(T, N, ...) buffers, reused while the batch size stays; ``h`` keeps T+1 steps with slot
0 the zero initial state. Inference keeps nothing: one GEMM on ``[x_t, 1, h_{t-1}]`` and
one kernel per step. ``go_backwards`` reads x through a reversed view and flips dx back.
"""

from __future__ import annotations

import numpy as np

from scratchnet.fast.projection import InputProjection
from scratchnet.fast.recurrent import RecurrentRunner
from scratchnet.kernels.simple_rnn import (
    ACTIVATION_CODES,
    simple_rnn_backward_step,
    simple_rnn_forward_step,
    simple_rnn_infer_step,
)


class FastSimpleRNN(RecurrentRunner):
    """:class:`~scratchnet.layers.SimpleRNN` with reusable time-major buffers."""

    def __init__(self, layer, grads):
        super().__init__(layer, grads)
        self.act = ACTIVATION_CODES[layer.cell_activation]
        self.batch = None  # batch size the buffers are allocated for

    def _buffers(self, n):
        if self.batch == n:
            return
        (t, d), h, dt = self.layer.input_shape, self.layer.units, self.layer.dtype
        self.projection = InputProjection(t, n, d, h, dt)
        self.zx = np.empty((t, n, h), dt)  # x_t @ W + b for all t
        self.zh = np.empty((n, h), dt)  # h_{t-1} @ U, one step at a time
        self.h = np.zeros((t + 1, n, h), dt)  # slot 0 = h_{-1} = 0, never written
        self.dz = np.empty((t, n, h), dt)
        self.dh = np.empty((n, h), dt)
        self.ut = np.empty((h, h), dt)  # U.T, C-contiguous (see backward)
        self.zeros = np.zeros((n, h), dt)  # dL/dh from outside a step, when there is none
        self.dyt = np.empty((t, n, h), dt) if self.layer.return_sequences else None
        self.batch = n

    def forward(self, x, training, activate=True):
        """(N, T, D) -> (N, H), or (N, T, H) with ``return_sequences``."""
        self.inference_pass = not training
        if self.layer.go_backwards:
            x = x[:, ::-1]  # a view; the copies below reverse it for free
        if not training:
            return self._infer(x)
        n, t = x.shape[0], self.layer.input_shape[0]
        self._buffers(n)
        p = self.layer.params
        self.projection.forward(x, p["W"], p["b"], self.zx)
        hs, zh = self.h, self.zh
        for s in range(t):
            if s == 0:
                zh.fill(0)  # h_{-1} = 0: no recurrent term
            else:
                np.matmul(hs[s], p["U"], out=zh)  # hs[s] is h_{s-1}
            simple_rnn_forward_step(self.zx[s], zh, self.act, hs[s + 1])
        if self.layer.return_sequences:
            return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))
        return hs[t].copy()  # a copy: the buffer is overwritten by the next batch

    def _infer(self, x):
        """Inference: ``[x_t, 1, h_{t-1}] @ [W; b; U]`` gives a step's whole pre-activation."""
        n, (t, d), h = x.shape[0], self.layer.input_shape, self.layer.units
        p, dt = self.layer.params, self.layer.dtype
        wbu = np.concatenate([p["W"], p["b"][None, :], p["U"]])  # (D+1+H, H)
        xh = np.empty((n, d + 1 + h), dt)
        xh[:, d] = 1  # the bias column
        z, hs = np.empty((n, h), dt), np.empty((n, h), dt)
        out = np.empty((n, t, h), dt) if self.layer.return_sequences else None
        for s in range(t):
            xh[:, :d] = x[:, s]
            k = d + 1 if s == 0 else d + 1 + h  # h_{-1} = 0: step 0 is [x_0, 1] @ [W; b]
            np.matmul(xh[:, :k], wbu[:k], out=z)
            simple_rnn_infer_step(z, self.act, hs)
            xh[:, d + 1:] = hs
            if out is not None:
                out[:, s] = hs
        return out if out is not None else hs

    def backward(self, dy, activate=True):
        """dy (N, H) or (N, T, H) -> dx (N, T, D), or None if the input gradient is not needed."""
        t = self.layer.input_shape[0]
        seqs = self.layer.return_sequences
        dy = self.begin_backward(dy)
        W, ut = self.layer.params["W"], self.ut  # ut: U.T, refreshed by begin_backward
        dz, dh = self.dz, self.dh
        for s in range(t - 1, -1, -1):
            # dL/dh_s = what step s+1 sends back through U + this step's output gradient.
            if s == t - 1:
                dh_rec = self.zeros
            else:
                np.matmul(dz[s + 1], ut, out=dh)
                dh_rec = dh
            dy_s = self.dyt[s] if seqs else (dy if s == t - 1 else self.zeros)
            simple_rnn_backward_step(dh_rec, dy_s, self.h[s + 1], self.act, dz[s])
        # Every step shares W, U, b: their gradients sum over steps, one GEMM over T*N rows.
        self.projection.weight_grads(dz, self.grads["W"], self.grads["b"])
        self.recurrent_weight_grad(dz, self.grads["U"])
        if not self.need_input_grad:
            return None
        return self.projection.input_grad(dz, W, self.layer.go_backwards)
