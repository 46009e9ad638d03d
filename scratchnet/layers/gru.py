"""GRU: the gated recurrent unit with full backpropagation through time, by hand.

Parameters and gate order
-------------------------
Keras 3's default formulation (``reset_after=True``, also cuDNN's and PyTorch's):

- ``W`` (Keras ``kernel``), shape (D, 3H), Glorot-uniform;
- ``U`` (Keras ``recurrent_kernel``), shape (H, 3H), orthogonal;
- ``b`` (Keras ``bias``), shape (2, 3H), zeros: ``b[0]`` the input bias, ``b[1]`` the
  recurrent bias.

The 3H gate columns are ordered ``[z | r | h]``: update gate, reset gate, candidate.
For inputs x (N, T, D) and h_{-1} = 0::

    zx = x_t @ W + b[0];  zh = h_{t-1} @ U + b[1]             (N, 3H) each
    z = sigmoid(zx_z + zh_z);  r = sigmoid(zx_r + zh_r)
    hh = tanh(zx_h + r * zh_h)                                the reset gate after U
    h_t = z * h_{t-1} + (1 - z) * hh

GRU(128) on 28 features has 3 * (28*128 + 128*128 + 2*128) = 60,672 parameters. The
maths, step by step and as a loop over time (BPTT): ``scratchnet.reference.gru``.

Porting weights
---------------
- Keras: ``keras_gru.set_weights([W, U, b])`` (a ``keras.layers.GRU`` with its defaults);
  back: ``W, U, b = keras_gru.get_weights()``.
- PyTorch (``nn.GRU(D, H, batch_first=True)``) computes the same function with its gates
  in the order ``[r | z | n]`` and its weights transposed. With ``P = [H:2H, 0:H, 2H:3H]``
  (the column blocks r, z, h of this layout)::

      weight_ih_l0 = W[:, P].T   (3H, D)      bias_ih_l0 = b[0, P]
      weight_hh_l0 = U[:, P].T   (3H, H)      bias_hh_l0 = b[1, P]

  and back ``W = weight_ih_l0.T[:, P]`` (P is its own inverse). PyTorch's ``n`` is this
  ``hh``, and its ``h' = (1 - z) * n + z * h`` is this update.
"""

from __future__ import annotations

from scratchnet.initializers import glorot_uniform, orthogonal, zeros
from scratchnet.layers.recurrent import Recurrent
from scratchnet.reference import gru_backward_with_state, gru_forward


class GRU(Recurrent):
    """Gated recurrent unit, Keras 3 semantics (``reset_after=True``) and weight layout.

    Parameters
    ----------
    units : int
        H, the size of the hidden state.
    return_sequences, return_state, go_backwards : bool
        See ``scratchnet.layers.recurrent``.
    reset_after : True
        Keras 3's default, the only formulation implemented (Keras 2's
        ``reset_after=False`` applies the reset gate before U and has one bias row).
    input_shape : (T, D), optional
    name : str, optional
    """

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False,
                 reset_after=True, input_shape=None, name=None, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None):
        super().__init__(units, return_sequences, return_state, go_backwards, input_shape, name,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer)
        if reset_after is not True:
            raise ValueError(
                f"{self.name}: only reset_after=True (Keras 3's and PyTorch's GRU) is "
                f"implemented, got reset_after={reset_after!r}; drop the argument")
        self.reset_after = True

    gates = 3

    def bias_shape(self):
        return (2, 3 * self.units)  # the input and the recurrent bias rows

    def _make_params(self, d, rng):
        h = self.units
        return {"W": glorot_uniform((d, 3 * h), d, 3 * h, rng, self.dtype),
                "U": orthogonal((h, 3 * h), rng, self.dtype),
                "b": zeros((2, 3 * h), self.dtype)}

    def sequence_forward(self, x, states):
        """x (N, T, D), states [h0] or None -> y (N, H) or (N, T, H), cache."""
        p = self.params
        return gru_forward(x, p["W"], p["U"], p["b"], self.return_sequences, self.go_backwards,
                           None if states is None else states[0])

    def sequence_backward(self, dy, cache, dstates):
        """-> dx (N, T, D), [dh0], {W: dW (D, 3H), U: dU (H, 3H), b: db (2, 3H)}."""
        dx, dh0, dW, dU, db = gru_backward_with_state(
            dy, cache, None if dstates is None else dstates[0])
        return dx, [dh0], {"W": dW, "U": dU, "b": db}
