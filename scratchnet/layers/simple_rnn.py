"""SimpleRNN: the Elman recurrent layer, h_t = act(x_t @ W + h_{t-1} @ U + b), by hand.

Parameters
----------
Exactly Keras's layout (``keras.layers.SimpleRNN``), so weights map over unchanged:

- ``W`` (Keras ``kernel``), shape (D, H), Glorot-uniform;
- ``U`` (Keras ``recurrent_kernel``), shape (H, H), orthogonal;
- ``b`` (Keras ``bias``), shape (H,), zeros.

SimpleRNN(128) on 28 features has 28*128 + 128*128 + 128 = 20,096 parameters. The
maths, step by step and as a loop over time (BPTT): ``scratchnet.reference.simple_rnn``.

Porting weights
---------------
- Keras: ``keras_rnn.set_weights([W, U, b])``; back: ``W, U, b = keras_rnn.get_weights()``.
- PyTorch (``nn.RNN(D, H, nonlinearity='tanh' or 'relu', batch_first=True)``) stores the
  transposes and two biases: ``weight_ih_l0 = W.T`` (H, D), ``weight_hh_l0 = U.T`` (H, H),
  and ``b = bias_ih_l0 + bias_hh_l0`` (when exporting, put ``b`` in ``bias_ih_l0`` and
  zeros in ``bias_hh_l0``). PyTorch's output ``out[:, -1]`` is this layer's y, its
  ``out`` the y of ``return_sequences=True``; ``go_backwards`` is ``out`` of the
  time-reversed input. PyTorch has no sigmoid or linear cell.
"""

from __future__ import annotations

from scratchnet.initializers import glorot_uniform, orthogonal, zeros
from scratchnet.layers.recurrent import Recurrent
from scratchnet.reference import simple_rnn_backward_with_state, simple_rnn_forward
from scratchnet.reference.simple_rnn import ACTIVATIONS


class SimpleRNN(Recurrent):
    """Fully-connected recurrent layer, Keras semantics and weight layout.

    Parameters
    ----------
    units : int
        H, the size of the hidden state.
    activation : {'tanh', 'relu', 'sigmoid', 'linear', None}
        The cell's nonlinearity (None: linear, as Keras).
    return_sequences, return_state, go_backwards : bool
        See ``scratchnet.layers.recurrent``.
    input_shape : (T, D), optional
    name : str, optional
    """

    def __init__(self, units, activation="tanh", return_sequences=False, return_state=False,
                 go_backwards=False, input_shape=None, name=None, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None):
        act = "linear" if activation is None else activation
        super().__init__(units, return_sequences, return_state, go_backwards, input_shape, name,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer)
        if act not in ACTIVATIONS:
            raise ValueError(f"{self.name}: activation must be one of {sorted(ACTIVATIONS)} "
                             f"or None, got {activation!r}")
        #: The cell's nonlinearity (``Layer.activation`` stays None: nothing runs after it).
        self.cell_activation = act

    def _make_params(self, d, rng):
        h = self.units
        return {"W": glorot_uniform((d, h), d, h, rng, self.dtype),
                "U": orthogonal((h, h), rng, self.dtype),
                "b": zeros(h, self.dtype)}

    def sequence_forward(self, x, states):
        """x (N, T, D), states [h0] or None -> y (N, H) or (N, T, H), cache."""
        p = self.params
        return simple_rnn_forward(x, p["W"], p["U"], p["b"], self.cell_activation,
                                  self.return_sequences, self.go_backwards,
                                  None if states is None else states[0])

    def sequence_backward(self, dy, cache, dstates):
        """-> dx (N, T, D), [dh0], {W: dW (D, H), U: dU (H, H), b: db (H,)}."""
        dx, dh0, dW, dU, db = simple_rnn_backward_with_state(
            dy, cache, None if dstates is None else dstates[0])
        return dx, [dh0], {"W": dW, "U": dU, "b": db}

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": self.cell_activation}
