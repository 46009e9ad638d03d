"""What the fast LSTM, GRU and SimpleRNN runners share at the start of their backward.

Each step's ``dh = dz @ U.T`` runs on a C-contiguous copy of ``U.T`` (``self.ut``), made
once per backward call: OpenBLAS took about a quarter longer on the transposed view at
these shapes (benchmarks/README.md, "Recurrent runners"). With ``return_sequences`` the
upstream gradient is copied time-major (``self.dyt``) so that each step's slice is one
contiguous (N, H) block; a runner that reads ``dy[:, s]`` directly allocates no ``dyt``.
"""

from __future__ import annotations

import numpy as np

from scratchnet.fast.runner import Runner


class RecurrentRunner(Runner):
    """Base of the fast recurrent runners: subclasses allocate ``ut`` (and ``dyt``)."""

    ut: np.ndarray
    h: np.ndarray  # (T+1, N, H), slot 0 = h_{-1} = 0
    dyt: np.ndarray | None = None

    def begin_backward(self, dy):
        """Check ``dy`` (N, H) or (N, T, H), refresh ``ut`` and ``dyt``; returns dy."""
        n, t, h = self.batch, self.layer.input_shape[0], self.layer.units
        seqs = self.layer.return_sequences
        dy = self.check_upstream(dy, None if n is None else (n, t, h) if seqs else (n, h))
        np.copyto(self.ut, self.layer.params["U"].T)
        if seqs and self.dyt is not None:
            np.copyto(self.dyt, dy.transpose(1, 0, 2))
        return dy

    def recurrent_weight_grad(self, dz, out):
        """dU = sum over steps s of h_{s-1}.T @ dz_s, as one GEMM over the (T-1)*N rows of
        steps 1..T-1: step 0's h_{-1} is zero, so its N rows would add only zeros.

        ``dz`` (T, N, G) is dL/d(h_{s-1} @ U) of every step; ``out`` (H, G) is overwritten.
        """
        t, n, g = dz.shape
        h = self.h.shape[2]  # self.h: (T+1, N, H), slot 0 = h_{-1} = 0
        np.matmul(self.h[1:t].reshape((t - 1) * n, h).T, dz[1:].reshape((t - 1) * n, g),
                  out=out)
