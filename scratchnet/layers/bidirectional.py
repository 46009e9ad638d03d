"""Bidirectional: a recurrent layer run over the sequence both ways, outputs merged.

``Bidirectional(LSTM(64))`` holds two copies of the layer, as Keras does: ``forward_layer``
reads the steps in order, ``backward_layer`` (the same configuration with ``go_backwards``
flipped) reads them from the last. With ``return_sequences`` the backward copy's outputs
are put back in forward time order (``reverse_time``), so step t of the output sees the
whole sequence: x_0..x_t through the forward copy, x_t..x_{T-1} through the backward one.
The two outputs are then merged (``merge_mode``):

- ``'concat'`` (default): ``[y_fwd, y_bwd]`` along the features, 2H;
- ``'sum'``, ``'mul'``, ``'ave'``: element-wise, H;
- ``None``: both, as the list ``[y_fwd, y_bwd]`` (a direct call only: a Sequential model
  passes one array between layers).

Parameters
----------
``params`` holds both copies' arrays (the very same arrays as theirs) under
``'forward/<name>'`` and ``'backward/<name>'``, so Bidirectional(LSTM(128)) has twice the
LSTM's parameters, as in Keras. Each copy's weights port to Keras and PyTorch as its
layer's docstring says; PyTorch's ``bidirectional=True`` keeps the backward copy's in the
``*_l0_reverse`` tensors, and its output is the ``'concat'`` merge.
The merge's maths: ``scratchnet.reference.bidirectional``.
"""

from __future__ import annotations

from scratchnet.layers.base import Layer
from scratchnet.layers.recurrent import Recurrent
from scratchnet.reference.bidirectional import (
    MERGE_MODES,
    merge_backward,
    merge_forward,
    reverse_time,
)


class Bidirectional(Layer):
    """Runs a copy of ``layer`` forwards and one backwards over the sequence, and merges them.

    Parameters
    ----------
    layer : SimpleRNN, GRU or LSTM
        Its configuration is copied; the instance itself is not used.
    merge_mode : {'concat', 'sum', 'mul', 'ave', None}
    input_shape : (T, D), optional
        Shape of one sequence; only needed on a model's first layer (also taken from
        ``layer``'s ``input_shape``).
    name : str, optional
    """

    def __init__(self, layer, merge_mode="concat", input_shape=None, name=None):
        if not isinstance(layer, Recurrent):
            raise TypeError(
                f"Bidirectional wraps a recurrent layer (SimpleRNN, GRU or LSTM), got "
                f"{type(layer).__name__}: wrap the recurrent layer itself, e.g. "
                "Bidirectional(LSTM(64))")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Bidirectional: unknown merge_mode {merge_mode!r}; choose one "
                             f"of {MERGE_MODES}")
        if layer.return_state:
            raise ValueError(f"Bidirectional({layer.name}): a wrapped layer with "
                             "return_state=True is not supported; wrap it with "
                             "return_state=False")
        if input_shape is None:
            input_shape = layer.declared_input_shape
        super().__init__(input_shape=input_shape, name=name)
        self.merge_mode = merge_mode
        config = layer.get_config()
        self.forward_layer = type(layer)(**{**config, "name": f"forward_{layer.name}"})
        self.backward_layer = type(layer)(**{**config, "go_backwards": not layer.go_backwards,
                                             "name": f"backward_{layer.name}"})
        self.return_sequences = layer.return_sequences

    def get_config(self):
        from scratchnet.registry import serialize

        # The wrapped layer as given: the forward copy under its original name.
        inner = serialize(self.forward_layer)
        inner["config"]["name"] = self.forward_layer.name.removeprefix("forward_")
        return {**super().get_config(), "layer": inner, "merge_mode": self.merge_mode}

    def weight_shapes(self, input_shape):
        shapes = {d: layer.weight_shapes(input_shape) for d, layer in self._directions()}
        if any(s is None for s in shapes.values()):
            return None
        return {f"{d}/{k}": v for d, s in shapes.items() for k, v in s.items()}

    @property
    def several_outputs(self) -> str | None:
        """Why a call returns a list rather than one array (``merge_mode=None``), or None."""
        return "merge_mode=None returns [y_fwd, y_bwd]" if self.merge_mode is None else None

    def _build(self, input_shape, rng):
        shape = self.forward_layer.build(input_shape, self.dtype, rng)
        self.backward_layer.build(input_shape, self.dtype, rng)
        self.params = {f"{d}/{k}": v for d, layer in self._directions()
                       for k, v in layer.params.items()}
        if self.merge_mode == "concat":
            return (*shape[:-1], 2 * shape[-1])
        return shape  # None: the shape of each of the two outputs

    def _directions(self):
        return (("forward", self.forward_layer), ("backward", self.backward_layer))

    def forward(self, x, training):
        """(N, T, D) -> (N, [T,] 2H) for 'concat', (N, [T,] H) otherwise, or two of those."""
        y_fwd = self.forward_layer.forward(x, training)
        y_bwd = self.backward_layer.forward(x, training)
        if self.return_sequences:
            y_bwd = reverse_time(y_bwd)  # back to forward time order
        y, self.cache = merge_forward(y_fwd, y_bwd, self.merge_mode)
        return y

    def backward(self, dy):
        """dy as the forward's output -> dx (N, T, D); fills both copies' grads."""
        dy_fwd, dy_bwd = merge_backward(dy, self.backward_cache())
        if self.return_sequences:
            # In the forward pass this was y_bwd = reverse_time(y_bwd); its own inverse.
            dy_bwd = reverse_time(dy_bwd)
        dx = self.forward_layer.backward(dy_fwd) + self.backward_layer.backward(dy_bwd)
        self.store_grads(**{f"{d}/{k}": g for d, layer in self._directions()
                            for k, g in layer.grads.items()})
        return dx

    # With merge_mode=None the output is a list: a direct call checks it as one.
    def __call__(self, x, training=False):
        if self.merge_mode is not None:
            return super().__call__(x, training)
        if not self.built:
            self.build(x.shape[1:], x.dtype)
        self.check_input(x)
        y = self.forward(x, training)
        self._output = [(a.shape, a.dtype) for a in y]
        return y

    def backprop(self, dy):
        if self.merge_mode is not None:
            return super().backprop(dy)
        if self._output is None:
            raise RuntimeError(f"{self.name}: backward called before any forward pass")
        want = [shape for shape, _ in self._output]
        if not isinstance(dy, (list, tuple)) or [getattr(d, "shape", None) for d in dy] != want:
            raise ValueError(f"{self.name}: merge_mode=None takes the list [dy_fwd, dy_bwd] of "
                             f"shapes {want}")
        return self.backward(list(dy))

    def check_input(self, x) -> None:
        self.forward_layer.check_input(x)  # names (N, T, D) on a wrong rank
        super().check_input(x)
