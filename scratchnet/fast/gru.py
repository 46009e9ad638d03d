"""GRU on the fast engine: GEMMs for the projections, a fused kernel per step.

The input projection of all T steps is one GEMM (``[x, 1] @ [W; b[0]]``,
``scratchnet.fast.projection``); each step is
one GEMM (``h_{t-1} @ U``) and one kernel (gates, candidate and new state,
``scratchnet.kernels.gru``), which adds the recurrent bias ``b[1]``. The backward is one
GEMM (``dzh_{t+1} @ U.T``) and one kernel per step, the kernel also carrying the direct
path ``z * dh`` to the step before; ``[dW; db[0]]``, ``dU``, ``db[1]`` and ``dx`` are one
reduction each over all steps after the loop. Caches are time-major (T, N, ...) buffers
reused while the batch size stays; ``h`` keeps T+1 steps with slot 0 the zero initial
state.

Inference keeps nothing: the same GEMMs (the input projection a block of steps at a
time, ``projected_steps``, and ``h_{t-1} @ U`` per step) and one kernel per step that
updates h in place. (A single GEMM per step on ``[x_t, 1, h_{t-1}]`` would need a
(D+1+H, 4H) block matrix, since the reset gate multiplies only the recurrent part of the
candidate: a third more multiplications, of zeros; benchmarks/README.md has the figures.)
"""

from __future__ import annotations

import numpy as np

from scratchnet.fast.projection import InputProjection, projected_steps
from scratchnet.fast.recurrent import RecurrentRunner
from scratchnet.kernels.gru import gru_backward_step, gru_forward_step, gru_infer_step


class FastGRU(RecurrentRunner):
    """:class:`~scratchnet.layers.GRU` with reusable time-major buffers.

    ``reset_after=True`` only: a ``GRU(reset_after=False)`` runs its reference pair on the
    fast engine too (``handles``). Its reset gate sits between two recurrent GEMMs per
    step, ``h @ U_zr`` and ``(r * h) @ U_h``, so a fast path would need two more fused
    kernels per direction for a formulation that the study, Keras 3 and PyTorch do not use
    by default.
    """

    @classmethod
    def handles(cls, layer) -> bool:
        return layer.reset_after

    def __init__(self, layer, grads):
        super().__init__(layer, grads)
        self.batch = None  # batch size the buffers are allocated for

    def _buffers(self, n):
        if self.batch == n:
            return
        (t, d), h, dt = self.layer.input_shape, self.layer.units, self.layer.dtype
        self.projection = InputProjection(t, n, d, 3 * h, dt)  # [x, 1] @ [W; b[0]]
        self.zx = np.empty((t, n, 3 * h), dt)  # x_t @ W + b[0] for all t
        self.zh = np.empty((n, 3 * h), dt)  # h_{t-1} @ U, one step at a time
        self.gates = np.empty((t, n, 3 * h), dt)  # z, r, hh
        self.a = np.empty((t, n, h), dt)  # h_{t-1} @ U_h + b1_h
        self.h = np.zeros((t + 1, n, h), dt)  # slot 0 = h_{-1} = 0, never written
        self.dzx = np.empty((t, n, 3 * h), dt)
        self.dzh = np.empty((t, n, 3 * h), dt)
        self.dh = np.empty((n, h), dt)
        self.ut = np.empty((3 * h, h), dt)  # U.T, C-contiguous (see backward)
        self.carry = np.empty((2, n, h), dt)  # z * dL/dh, passed to the step before
        self.zeros = np.zeros((n, h), dt)
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
        self.projection.forward(x, p["W"], p["b"][0], self.zx)
        hs, zh, b1 = self.h, self.zh, p["b"][1]
        for s in range(t):
            if s == 0:
                zh.fill(0)  # h_{-1} = 0: no recurrent product
            else:
                np.matmul(hs[s], p["U"], out=zh)  # hs[s] is h_{s-1}
            gru_forward_step(self.zx[s], zh, b1, hs[s], self.gates[s], self.a[s], hs[s + 1])
        if self.layer.return_sequences:
            return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))
        return hs[t].copy()  # a copy: the buffer is overwritten by the next batch

    def _infer(self, x):
        """Inference: the training forward's GEMMs and maths, keeping nothing: the input
        projection a block of steps at a time, then per step ``h @ U`` and a kernel that
        updates h in place."""
        n, h = x.shape[0], self.layer.units
        p, dt = self.layer.params, self.layer.dtype
        U, b1 = p["U"], p["b"][1]
        zh, hs = np.zeros((n, 3 * h), dt), np.zeros((n, h), dt)  # h_{-1} = 0: zh = 0
        out = np.empty((n, x.shape[1], h), dt) if self.layer.return_sequences else None
        for s, zx in enumerate(projected_steps(x, p["W"], p["b"][0])):
            if s > 0:
                np.matmul(hs, U, out=zh)
            gru_infer_step(zx, zh, b1, hs)  # h_{s-1} -> h_s in place
            if out is not None:
                out[:, s] = hs
        return out if out is not None else hs

    def backward(self, dy, activate=True):
        """dy (N, H) or (N, T, H) -> dx (N, T, D), or None if the input gradient is not needed."""
        n, t, h = self.batch, self.layer.input_shape[0], self.layer.units
        seqs = self.layer.return_sequences
        dy = self.begin_backward(dy)
        W, ut = self.layer.params["W"], self.ut  # ut: U.T, refreshed by begin_backward
        dzx, dzh, dh, carry = self.dzx, self.dzh, self.dh, self.carry
        for s in range(t - 1, -1, -1):
            # dL/dh_s = through step s+1's GEMM (dh_rec) + its direct path z * dh (carried)
            # + this step's output gradient; step s+1 wrote its carry to carry[(s+1) % 2].
            if s == t - 1:
                dh_rec, carry_in = self.zeros, self.zeros  # nothing after the last step
            else:
                np.matmul(dzh[s + 1], ut, out=dh)
                dh_rec, carry_in = dh, carry[(s + 1) % 2]
            dy_s = self.dyt[s] if seqs else (dy if s == t - 1 else self.zeros)
            gru_backward_step(dh_rec, carry_in, dy_s, self.gates[s], self.a[s], self.h[s],
                              dzx[s], dzh[s], carry[s % 2])
        # Every step shares W, U, b: their gradients sum over steps, one GEMM over T*N rows.
        dzh2 = dzh.reshape(t * n, 3 * h)
        self.projection.weight_grads(dzx, self.grads["W"], self.grads["b"][0])
        self.grads["b"][1] = dzh2.sum(axis=0)
        self.recurrent_weight_grad(dzh, self.grads["U"])
        if not self.need_input_grad:
            return None
        return self.projection.input_grad(dzx, W, self.layer.go_backwards)
