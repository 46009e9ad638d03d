"""LSTM on the fast engine: GEMMs for the projections, fused numba kernels for the gates.

The input projection of all T steps is one GEMM, with the bias folded in as the weight
row of an extra input column of ones (``scratchnet.fast.projection``); only
``h_{t-1} @ U`` stays in the time loop, and each step's gate nonlinearities and cell
update are one numba kernel (``scratchnet.kernels.lstm``). The backward collects dL/dz
of every step in one buffer, so ``[dW; db]``, ``dU`` and ``dx`` are one GEMM each after
the loop; only ``dh_{t-1} = dz_t @ U.T`` is per step.

The cached sequences are stored time-major, (T, N, ...), so that each step's slice is a
C-contiguous (N, ...) block for the kernels and the per-step GEMMs. They are allocated
once and reused across batches (reallocated only when the batch size changes). ``h`` and
``c`` keep T+1 steps with slot 0 = the zero initial state, so ``h[:T]`` is the h_{t-1}
sequence that ``dU`` needs. Inference keeps nothing for backward: a step is one GEMM on
``[x_t, 1, h_{t-1}]`` and one kernel. ``go_backwards`` reads x through a reversed view
(the copy into the time-major buffer reverses it for free) and flips dx back.
"""

from __future__ import annotations

import numpy as np

from scratchnet.fast.projection import InputProjection
from scratchnet.fast.recurrent import RecurrentRunner
from scratchnet.kernels.lstm import lstm_backward_step, lstm_forward_step, lstm_infer_step


class FastLSTM(RecurrentRunner):
    """:class:`~scratchnet.layers.LSTM` with reusable time-major buffers."""

    def __init__(self, layer, grads):
        super().__init__(layer, grads)
        self.batch = None  # batch size the buffers are allocated for

    def _buffers(self, n):
        """Allocate the per-batch caches once per batch size; every step writes into them."""
        if self.batch == n:
            return
        (t, d), h, dt = self.layer.input_shape, self.layer.units, self.layer.dtype
        self.projection = InputProjection(t, n, d, 4 * h, dt)
        self.zx = np.empty((t, n, 4 * h), dt)  # x_t @ W + b for all t
        self.zh = np.empty((n, 4 * h), dt)  # h_{t-1} @ U, one step at a time
        self.gates = np.empty((t, n, 4 * h), dt)  # i, f, g, o after nonlinearities
        self.h = np.zeros((t + 1, n, h), dt)  # slot 0 = h_{-1} = 0, never written
        self.c = np.zeros((t + 1, n, h), dt)  # slot 0 = c_{-1} = 0, never written
        self.tanh_c = np.empty((t, n, h), dt)
        self.dz = np.empty((t, n, 4 * h), dt)  # dL/dz of every step, for the weight GEMMs
        self.dh = np.empty((n, h), dt)
        self.ut = np.empty((4 * h, h), dt)  # U.T, C-contiguous (see backward)
        self.dc = np.empty((n, h), dt)
        self.dc_prev = np.empty((n, h), dt)
        self.batch = n

    def forward(self, x, training, activate=True):
        """(N, T, D) -> (N, H), or (N, T, H) with ``return_sequences``."""
        self.inference_pass = not training
        if self.layer.go_backwards:
            x = x[:, ::-1]  # a view: both paths below copy x step by step or in one go
        if not training:
            return self._infer(x)
        n, t = x.shape[0], self.layer.input_shape[0]
        self._buffers(n)
        p = self.layer.params
        zx, zh, hs = self.zx, self.zh, self.h
        self.projection.forward(x, p["W"], p["b"], zx)  # x_s @ W + b for every step s
        for s in range(t):
            if s == 0:
                zh.fill(0)  # h_{-1} = 0: no recurrent term, skip the GEMM
            else:
                np.matmul(hs[s], p["U"], out=zh)  # hs[s] is h_{s-1}
            # gates, c_s, tanh(c_s), h_s, fused.
            lstm_forward_step(zx[s], zh, self.c[s], self.gates[s], self.c[s + 1],
                              self.tanh_c[s], hs[s + 1])
        if self.layer.return_sequences:
            return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))
        return hs[t].copy()  # a copy: the buffer is overwritten by the next batch

    def _infer(self, x):
        """Inference: ``[x_t, 1, h_{t-1}] @ [W; b; U]`` gives a step's whole pre-activation."""
        n, (t, d), h = x.shape[0], self.layer.input_shape, self.layer.units
        p, dt = self.layer.params, self.layer.dtype
        wbu = np.concatenate([p["W"], p["b"][None, :], p["U"]])  # (D+1+H, 4H)
        xh = np.empty((n, d + 1 + h), dt)
        xh[:, d] = 1  # the bias column
        c, hs, z = np.zeros((n, h), dt), np.empty((n, h), dt), np.empty((n, 4 * h), dt)
        out = np.empty((n, t, h), dt) if self.layer.return_sequences else None
        for s in range(t):
            xh[:, :d] = x[:, s]
            k = d + 1 if s == 0 else d + 1 + h  # h_{-1} = 0: step 0 is [x_0, 1] @ [W; b]
            np.matmul(xh[:, :k], wbu[:k], out=z)
            lstm_infer_step(z, c, hs)  # into a contiguous h: a strided one would not vectorize
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
        dz, dh, dc, dc_prev = self.dz, self.dh, self.dc, self.dc_prev
        dc.fill(0)  # nothing flows into c_{T-1} from after the sequence
        for s in range(t - 1, -1, -1):
            # dL/dh_s = the upstream gradient at step s + what step s+1 sends back through U.
            if s == t - 1:
                dh[...] = dy[:, s] if seqs else dy
            else:
                np.matmul(dz[s + 1], ut, out=dh)
                if seqs:
                    dh += dy[:, s]
            lstm_backward_step(dh, dc, self.gates[s], self.c[s], self.tanh_c[s], dz[s], dc_prev)
            dc, dc_prev = dc_prev, dc
        # Every step shares W, U, b: their gradients sum over steps, one GEMM over T*N rows.
        self.projection.weight_grads(dz, self.grads["W"], self.grads["b"])
        self.recurrent_weight_grad(dz, self.grads["U"])
        if not self.need_input_grad:
            return None
        return self.projection.input_grad(dz, W, self.layer.go_backwards)
