"""LSTM: a long short-term memory layer with full backpropagation through time, by hand.

Parameters and gate order
-------------------------
Exactly Keras's layout, so weights map over without reshuffling:

- ``W`` (Keras ``kernel``), shape (D, 4H): input -> gates;
- ``U`` (Keras ``recurrent_kernel``), shape (H, 4H): previous hidden state -> gates;
- ``b`` (Keras ``bias``), shape (4H,).

The 4H gate columns are ordered ``[i | f | g | o]``: input gate, forget gate, candidate
cell (Keras's "c"), output gate. For inputs x (N, T, D) and h_{-1} = c_{-1} = 0::

    z_t = x_t @ W + h_{t-1} @ U + b                      (N, 4H)
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

The output is h_{T-1} (N, H), or every h_t (N, T, H) with ``return_sequences=True``.

Porting weights
---------------
- Keras: ``keras_lstm.set_weights([W, U, b])``; back: ``W, U, b = keras_lstm.get_weights()``
  (Keras defaults: tanh activation, sigmoid recurrent activation, which is what this is).
- PyTorch (``nn.LSTM(D, H, batch_first=True)``) uses the same gate order i, f, g, o, with
  weights stored transposed and two biases: ``weight_ih_l0 = W.T`` (4H, D),
  ``weight_hh_l0 = U.T`` (4H, H), and ``b = bias_ih_l0 + bias_hh_l0`` (when exporting, put
  ``b`` in ``bias_ih_l0`` and zeros in ``bias_hh_l0``).

Implementation
--------------
Everything not a GEMM is fused into the numba kernels of ``scratchnet.kernels.lstm``. The
input projection of all T steps is one GEMM, with the bias folded in as the weight row of an
extra input column of ones; only ``h_{t-1} @ U`` stays in the time loop. The backward pass
collects dL/dz of every step in one buffer, so ``[dW; db]``, ``dU`` and ``dx`` are one GEMM
each after the loop; only ``dh_{t-1} = dz_t @ U.T`` is per step.

The cached sequences are stored time-major, (T, N, ...), so that each step's slice is a
C-contiguous (N, ...) block for the kernels and the per-step GEMMs. They are allocated once
and reused across batches (reallocated only when the batch size changes). ``h`` and ``c``
keep T+1 steps with slot 0 = the zero initial state, so ``h[:T]`` is the h_{t-1} sequence
that ``dU`` needs.
"""

from __future__ import annotations

import numpy as np

from scratchnet.initializers import glorot_uniform, orthogonal
from scratchnet.kernels.lstm import (
    PARALLEL_MIN_CELLS,
    lstm_backward_step,
    lstm_backward_step_serial,
    lstm_forward_step,
    lstm_forward_step_serial,
    lstm_infer_step,
    lstm_infer_step_serial,
)
from scratchnet.kernels.threads import use_pool
from scratchnet.layers.base import Layer, positive_int


class LSTM(Layer):
    """Long short-term memory layer, Keras semantics and weight layout.

    Parameters
    ----------
    units : int
        H, the size of the hidden and cell states.
    return_sequences : bool
        Return every step's h, shape (N, T, H), instead of the last one, (N, H).
    input_shape : (T, D), optional
        Shape of one sequence; only needed on a model's first layer.
    name : str, optional
    """

    def __init__(self, units, return_sequences=False, input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        self.units = positive_int(units, f"{self.name}: units")
        if not isinstance(return_sequences, (bool, np.bool_)):
            raise TypeError(
                f"{self.name}: return_sequences must be True or False, got {return_sequences!r}"
            )
        self.return_sequences = bool(return_sequences)
        if self.declared_input_shape is not None:
            self._check_input_shape(self.declared_input_shape)
        self._batch = None  # batch size the buffers are allocated for

    def _check_input_shape(self, input_shape):
        ok = len(input_shape) == 2 and all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1
            for d in input_shape
        )
        if not ok:
            raise ValueError(
                f"{self.name}: LSTM expects input_shape (timesteps, features) of positive "
                f"ints, i.e. inputs (N, T, D); got {tuple(input_shape)!r}"
            )

    def _build(self, input_shape, rng):
        self._check_input_shape(input_shape)
        d, h = input_shape[1], self.units
        b = np.zeros(4 * h, dtype=self.dtype)
        b[h : 2 * h] = 1  # Keras's unit_forget_bias: remember by default at the start
        self.params = {
            "W": glorot_uniform((d, 4 * h), d, 4 * h, rng, self.dtype),
            "U": orthogonal((h, 4 * h), rng, self.dtype),
            "b": b,
        }
        self._batch = None
        t = input_shape[0]
        return (t, h) if self.return_sequences else (h,)

    def _buffers(self, n):
        """Allocate the per-batch caches once per batch size; every step writes into them."""
        if self._batch == n:
            return
        (t, d), h, dt = self.input_shape, self.units, self.dtype
        # x, time-major, with a column of ones whose weight row is b (see forward).
        self._x1 = np.empty((t, n, d + 1), dt)
        self._x1[:, :, d] = 1
        self._wb = np.empty((d + 1, 4 * h), dt)  # [W; b]
        self._dwb = np.empty((d + 1, 4 * h), dt)  # [dW; db]
        self._zx = np.empty((t, n, 4 * h), dt)  # x_t @ W + b for all t
        self._zh = np.empty((n, 4 * h), dt)  # h_{t-1} @ U, one step at a time
        self._gates = np.empty((t, n, 4 * h), dt)  # i, f, g, o after nonlinearities
        self._h = np.zeros((t + 1, n, h), dt)  # slot 0 = h_{-1} = 0, never written
        self._c = np.zeros((t + 1, n, h), dt)  # slot 0 = c_{-1} = 0, never written
        self._tanh_c = np.empty((t, n, h), dt)
        self._dz = np.empty((t, n, 4 * h), dt)  # dL/dz of every step, for the weight GEMMs
        self._dh = np.empty((n, h), dt)
        self._dc = np.empty((n, h), dt)
        self._dc_prev = np.empty((n, h), dt)
        self._batch = n

    def forward(self, x, training):
        """(N, T, D) -> (N, H), or (N, T, H) with ``return_sequences``."""
        self._inference_pass = not training
        if not training:
            return self._infer(x)
        n, (t, d), h = x.shape[0], self.input_shape, self.units
        self._buffers(n)
        W, U, b = self.params["W"], self.params["U"], self.params["b"]
        x1, wb, zx, zh = self._x1, self._wb, self._zx, self._zh
        gates, cs, tanh_c, hs = self._gates, self._c, self._tanh_c, self._h
        parallel = use_pool(n * h, PARALLEL_MIN_CELLS)
        step = lstm_forward_step if parallel else lstm_forward_step_serial

        # Input projection of all T steps in one GEMM: [x, 1] @ [W; b] = x @ W + b, with
        # (T*N, D+1) @ (D+1, 4H). The ones column adds the bias inside the GEMM, and in
        # backward its row of [x, 1].T @ dz is db: no separate passes over the (T, N, 4H) z.
        np.copyto(x1[:, :, :d], x.transpose(1, 0, 2))
        wb[:d], wb[d] = W, b
        np.matmul(x1.reshape(t * n, d + 1), wb, out=zx.reshape(t * n, 4 * h))
        for s in range(t):
            if s == 0:
                zh.fill(0)  # h_{-1} = 0: no recurrent term, skip the GEMM
            else:
                np.matmul(hs[s], U, out=zh)  # hs[s] is h_{s-1}
            # gates, c_s, tanh(c_s), h_s; fused, and parallel over the batch if it is large.
            step(zx[s], zh, cs[s], gates[s], cs[s + 1], tanh_c[s], hs[s + 1])

        if self.return_sequences:
            return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))
        return hs[t].copy()  # a copy: the buffer is overwritten by the next batch

    def _infer(self, x):
        """Inference: nothing is kept for backward, so a step is one GEMM and one kernel.

        ``xh = [x_t, 1, h_{t-1}]`` (N, D+1+H) against ``[W; b; U]`` (D+1+H, 4H) gives the
        whole pre-activation at once; c is updated in place. Nothing of size T*N*4H is
        written, so at inference batch sizes everything a step touches stays in cache.
        """
        n, (t, d), h = x.shape[0], self.input_shape, self.units
        W, U, b = self.params["W"], self.params["U"], self.params["b"]
        wbu = np.concatenate([W, b[None, :], U])  # (D+1+H, 4H)
        xh = np.empty((n, d + 1 + h), self.dtype)
        xh[:, d], xh[:, d + 1:] = 1, 0  # the bias column; h_{-1} = 0
        c, hs = np.zeros((n, h), self.dtype), np.empty((n, h), self.dtype)
        z = np.empty((n, 4 * h), self.dtype)
        step = lstm_infer_step if use_pool(n * h, PARALLEL_MIN_CELLS) else lstm_infer_step_serial
        out = np.empty((n, t, h), self.dtype) if self.return_sequences else None
        for s in range(t):
            xh[:, :d] = x[:, s]
            np.matmul(xh, wbu, out=z)
            # Into a contiguous h, then copied: a strided output keeps numba from vectorizing.
            step(z, c, hs)
            xh[:, d + 1:] = hs
            if out is not None:
                out[:, s] = hs
        return out if out is not None else hs

    def backward(self, dy):
        """dy (N, H) or (N, T, H) -> dx (N, T, D), or None if the input gradient is not needed.

        Fills ``grads['W']`` (D, 4H), ``grads['U']`` (H, 4H), ``grads['b']`` (4H,).
        """
        n, (t, d), h = self._batch, self.input_shape, self.units
        expected = None if n is None else (n, t, h) if self.return_sequences else (n, h)
        dy = self.check_upstream(dy, expected)
        W, U = self.params["W"], self.params["U"]
        dz, dh, dc, dc_prev = self._dz, self._dh, self._dc, self._dc_prev
        parallel = use_pool(n * h, PARALLEL_MIN_CELLS)
        step = lstm_backward_step if parallel else lstm_backward_step_serial

        dc.fill(0)  # nothing flows into c_{T-1} from after the sequence
        for s in range(t - 1, -1, -1):
            # dL/dh_s = the upstream gradient at step s + what step s+1 sends back through U.
            if s == t - 1:
                dh[...] = dy[:, s] if self.return_sequences else dy
            else:
                np.matmul(dz[s + 1], U.T, out=dh)
                if self.return_sequences:
                    dh += dy[:, s]
            step(dh, dc, self._gates[s], self._c[s], self._tanh_c[s], dz[s], dc_prev)
            dc, dc_prev = dc_prev, dc

        # Every step shares W, U, b: their gradients sum over steps, i.e. one GEMM over T*N rows.
        dz2 = dz.reshape(t * n, 4 * h)
        np.matmul(self._x1.reshape(t * n, d + 1).T, dz2, out=self._dwb)  # [dW; db]
        self.grads["W"][...], self.grads["b"][...] = self._dwb[:d], self._dwb[d]
        np.matmul(self._h[:t].reshape(t * n, h).T, dz2, out=self.grads["U"])  # h_{s-1} rows
        if not self.need_input_grad:
            return None
        dx = dz2 @ W.T  # (T*N, D), time-major
        return np.ascontiguousarray(dx.reshape(t, n, d).transpose(1, 0, 2))
