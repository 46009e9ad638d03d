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

The output is h_{T-1} (N, H), or every h_t (N, T, H) with ``return_sequences=True``;
``return_state``, ``go_backwards`` and an initial state ``[h0, c0]`` work as in Keras
(``scratchnet.layers.recurrent``). The maths, step by step and as a loop over time
(BPTT): ``scratchnet.reference.lstm``.

Porting weights
---------------
- Keras: ``keras_lstm.set_weights([W, U, b])``; back: ``W, U, b = keras_lstm.get_weights()``
  (Keras defaults: tanh activation, sigmoid recurrent activation, which is what this is).
- PyTorch (``nn.LSTM(D, H, batch_first=True)``) uses the same gate order i, f, g, o, with
  weights stored transposed and two biases: ``weight_ih_l0 = W.T`` (4H, D),
  ``weight_hh_l0 = U.T`` (4H, H), and ``b = bias_ih_l0 + bias_hh_l0`` (when exporting, put
  ``b`` in ``bias_ih_l0`` and zeros in ``bias_hh_l0``).
"""

from __future__ import annotations

import numpy as np

from scratchnet.initializers import glorot_uniform, orthogonal
from scratchnet.layers.recurrent import Recurrent
from scratchnet.reference import lstm_backward_with_state, lstm_forward


class LSTM(Recurrent):
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
    return_state, go_backwards : bool
        See ``scratchnet.layers.recurrent``; the states are ``[h, c]``.
    """

    state_names = ("h", "c")
    gates = 4

    def __init__(self, units, return_sequences=False, input_shape=None, name=None, *,
                 return_state=False, go_backwards=False, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None):
        super().__init__(units, return_sequences, return_state, go_backwards, input_shape, name,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer)

    def _make_params(self, d, rng):
        h = self.units
        b = np.zeros(4 * h, dtype=self.dtype)
        b[h : 2 * h] = 1  # Keras's unit_forget_bias: remember by default at the start
        return {"W": glorot_uniform((d, 4 * h), d, 4 * h, rng, self.dtype),
                "U": orthogonal((h, 4 * h), rng, self.dtype),
                "b": b}

    def sequence_forward(self, x, states):
        """x (N, T, D), states [h0, c0] or None -> y (N, H) or (N, T, H), cache."""
        p = self.params
        h0, c0 = (None, None) if states is None else states
        return lstm_forward(x, p["W"], p["U"], p["b"], self.return_sequences, h0, c0,
                            go_backwards=self.go_backwards)

    def sequence_backward(self, dy, cache, dstates):
        """-> dx (N, T, D), [dh0, dc0], {W: dW (D, 4H), U: dU (H, 4H), b: db (4H,)}."""
        dh, dc = (None, None) if dstates is None else dstates
        dx, dh0, dc0, dW, dU, db = lstm_backward_with_state(dy, cache, dh, dc)
        return dx, [dh0, dc0], {"W": dW, "U": dU, "b": db}
