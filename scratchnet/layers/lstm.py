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
The maths, step by step and as a loop over time (BPTT): ``scratchnet.reference.lstm``.

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
from scratchnet.layers.base import Layer, positive_int
from scratchnet.reference import lstm_backward, lstm_forward


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

    def __init__(self, units, return_sequences=False, input_shape=None, name=None,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None):
        super().__init__(input_shape=input_shape, name=name,
                         kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer)
        self.units = positive_int(units, f"{self.name}: units")
        if not isinstance(return_sequences, (bool, np.bool_)):
            raise TypeError(
                f"{self.name}: return_sequences must be True or False, got {return_sequences!r}"
            )
        self.return_sequences = bool(return_sequences)
        if self.declared_input_shape is not None:
            self._check_input_shape(self.declared_input_shape)

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
        t = input_shape[0]
        return (t, h) if self.return_sequences else (h,)

    def forward(self, x, training):
        """(N, T, D) -> (N, H), or (N, T, H) with ``return_sequences``."""
        p = self.params
        y, self.cache = lstm_forward(x, p["W"], p["U"], p["b"], self.return_sequences)
        return y

    def backward(self, dy):
        """dy (N, H) or (N, T, H) -> dx (N, T, D); dW (D, 4H), dU (H, 4H), db (4H,)."""
        dx, dW, dU, db = lstm_backward(dy, self.backward_cache())
        self.store_grads(W=dW, U=dU, b=db)
        return dx
