"""What SimpleRNN, GRU and LSTM share: the options, the input checks, and the states.

A recurrent layer reads inputs (N, T, D) one step at a time. Its options are Keras's:

- ``return_sequences``: output every step's h, (N, T, H), instead of the last, (N, H);
- ``go_backwards``: read the steps from the last to the first; the sequence output
  stays in that processing order (``Bidirectional`` flips it back);
- ``return_state``: a direct call returns ``[y, *final_states]`` (h_T, and c_T for an
  LSTM), as ``keras.layers.LSTM(..., return_state=True)``. A Sequential model passes one
  array between layers and refuses such a layer;
- an initial state: ``layer(x, initial_state=[h0])`` (``[h0, c0]`` for an LSTM).

The maths is the cell's reference pair (``scratchnet.reference``): ``forward``/``backward``
are what the engines run (zero initial state, output only); a direct call with an
initial state also gets dL/d(initial state) back from ``backprop``.
"""

from __future__ import annotations

import numpy as np

from scratchnet.layers.base import Layer, positive_int


def flag(value, what: str) -> bool:
    """Validate a True/False option (1 and 0 are refused: they hide typos like a units count)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return bool(value)


class Recurrent(Layer):
    """Base class of the recurrent layers: subclasses give the cell.

    Subclasses set ``state_names`` and implement ``_make_params(d, rng)``,
    ``sequence_forward(x, states)`` and ``sequence_backward(dy, cache, dstates)``.

    Parameters
    ----------
    units : int
        H, the size of the hidden state.
    return_sequences, return_state, go_backwards : bool
        See the module docstring.
    input_shape : (T, D), optional
        Shape of one sequence; only needed on a model's first layer.
    name : str, optional
    """

    #: The states a cell carries from step to step, in Keras's order.
    state_names: tuple[str, ...] = ("h",)

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False,
                 input_shape=None, name=None, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None):
        super().__init__(input_shape=input_shape, name=name,
                         kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer)
        self.units = positive_int(units, f"{self.name}: units")
        self.return_sequences = flag(return_sequences, f"{self.name}: return_sequences")
        self.return_state = flag(return_state, f"{self.name}: return_state")
        self.go_backwards = flag(go_backwards, f"{self.name}: go_backwards")
        self._had_initial_state = False
        if self.declared_input_shape is not None:
            self._check_input_shape(self.declared_input_shape)

    @property
    def several_outputs(self) -> str | None:
        """Why a call returns a list rather than one array (``return_state``), or None."""
        if not self.return_state:
            return None
        return f"return_state=True returns [y, {', '.join(f'{s}_T' for s in self.state_names)}]"

    # -- shapes ---------------------------------------------------------------------------------
    def _check_input_shape(self, input_shape):
        ok = len(input_shape) == 2 and all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1
            for d in input_shape
        )
        if not ok:
            raise ValueError(
                f"{self.name}: {type(self).__name__} expects input_shape (timesteps, features) "
                f"of positive ints, i.e. inputs (N, T, D); got {tuple(input_shape)!r}"
            )

    def _build(self, input_shape, rng):
        self._check_input_shape(input_shape)
        self.params = self._make_params(input_shape[1], rng)
        t, h = input_shape[0], self.units
        return (t, h) if self.return_sequences else (h,)

    def check_input(self, x) -> None:
        """As ``Layer.check_input``, naming (N, T, D) when the rank is wrong."""
        if isinstance(x, np.ndarray) and x.ndim != 3:
            t, d = self.input_shape
            hint = (" (images (N, H, W, 1) read row by row: x.reshape(len(x), H, W))"
                    if x.ndim == 4 else "")
            raise ValueError(
                f"{self.name}: {type(self).__name__} expects inputs (N, T, D) = (batch, "
                f"timesteps, features), here (N, {t}, {d}); got an array of shape "
                f"{x.shape}{hint}")
        super().check_input(x)

    def _state_shape(self, n):
        return (n, self.units)

    def _check_states(self, states, n, what):
        """``states`` as a list of arrays of shape (N, H), or a clear error naming the fix."""
        names = ", ".join(f"{s}0" for s in self.state_names)
        want = f"[{names}], each of shape (N, H) = {self._state_shape(n)} and dtype {self.dtype}"
        if isinstance(states, np.ndarray) and len(self.state_names) == 1:
            states = [states]
        if not isinstance(states, (list, tuple)) or len(states) != len(self.state_names):
            raise ValueError(f"{self.name}: {what} must be {want}; got {_describe(states)}")
        for s in states:
            if not isinstance(s, np.ndarray) or s.shape != self._state_shape(n):
                raise ValueError(f"{self.name}: {what} must be {want}; got {_describe(states)}")
            if s.dtype != self.dtype:
                raise TypeError(f"{self.name}: {what} must be {want}; got {s.dtype}: pass "
                                f"s.astype(np.{self.dtype})")
        return list(states)

    # -- the engines' contract: output only, zero initial state ----------------------------------
    def forward(self, x, training):
        """(N, T, D) -> (N, H), or (N, T, H) with ``return_sequences``."""
        y, self.cache = self.sequence_forward(x, None)
        return y

    def backward(self, dy):
        """dy (N, H) or (N, T, H) -> dx (N, T, D); fills ``grads``."""
        dx, _, grads = self.sequence_backward(dy, self.backward_cache(), None)
        self.store_grads(**grads)
        return dx

    # -- a direct call: initial state in, final states out ---------------------------------------
    def __call__(self, x, training=False, initial_state=None):
        """Run the layer on ``x`` (N, T, D), from ``initial_state`` if given.

        Returns
        -------
        y : ndarray, or ``[y, *final_states]`` with ``return_state``
        """
        if not self.built:
            self.build(x.shape[1:], x.dtype if x.dtype in (np.float32, np.float64)
                       else np.float32)
        self.check_input(x)
        states = (None if initial_state is None
                  else self._check_states(initial_state, x.shape[0], "initial_state"))
        y, self.cache = self.sequence_forward(x, states)
        self._output = (y.shape, y.dtype)
        self._had_initial_state = states is not None
        if self.return_state:
            return [y, *self.cache["final_state"]]
        return y

    def backprop(self, dy, dstates=None):
        """dL/dy (and, with ``return_state``, dL/d final states) -> dL/dx.

        Parameters
        ----------
        dy : ndarray, the shape and dtype of the last call's y
        dstates : list of ndarray (N, H) or None, optional
            Gradients of the returned final states, in the order they were returned.

        Returns
        -------
        dx : ndarray (N, T, D), or ``(dx, [dh0, ...])`` if the last call had an initial state
        """
        expected = self._output
        if expected is None:
            raise RuntimeError(f"{self.name}: backward called before any forward pass")
        if getattr(dy, "shape", None) != expected[0]:
            raise ValueError(f"{self.name}: expected an upstream gradient of shape {expected[0]} "
                             f"(the last forward's output), got {getattr(dy, 'shape', type(dy))}")
        if dy.dtype != expected[1]:
            raise TypeError(f"{self.name}: expected a {expected[1]} upstream gradient, "
                            f"got {dy.dtype}")
        if dstates is not None:
            if not self.return_state:
                raise ValueError(f"{self.name}: dstates are the gradients of returned states; "
                                 "this layer has return_state=False")
            n = dy.shape[0]
            filled = [np.zeros(self._state_shape(n), self.dtype) if d is None else d
                      for d in dstates] if isinstance(dstates, (list, tuple)) else dstates
            dstates = self._check_states(filled, n, "dstates")
        dx, d0, grads = self.sequence_backward(dy, self.backward_cache(), dstates)
        self.store_grads(**grads)
        return (dx, d0) if self._had_initial_state else dx

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards}

    #: How many gate blocks of H columns W and U have (SimpleRNN 1, GRU 3, LSTM 4).
    gates = 1

    def weight_shapes(self, input_shape):
        if len(input_shape) != 2:
            return None  # build raises the clear error
        d, h, g = input_shape[1], self.units, self.gates
        return {"W": (d, g * h), "U": (h, g * h), "b": self.bias_shape()}

    def bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    return repr(value)
