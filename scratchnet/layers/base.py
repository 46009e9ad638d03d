"""The layer contract shared by every layer in scratchnet.

A layer is built once for a known input shape and dtype, then runs

    y  = layer(x, training)      # forward: validates x, caches what backward needs
    dx = layer.backprop(dy)      # backward: fills layer.grads, returns dL/dx

Every array carries the batch as its first axis; shapes in this package are
written without it (``input_shape``/``output_shape``). Layers are channels-last,
like Keras: images are (N, H, W, C) and sequences (N, T, D).

Three dictionaries hold a layer's arrays, so that optimizers, save/load and
layers with non-trainable state (BatchNorm's running statistics) all work
without special cases:

- ``params``: trainable arrays, updated in place by the optimizer;
- ``grads``:  same keys as ``params``, written by ``backward``;
- ``state``:  non-trainable arrays that are saved and loaded with the model.
"""

from __future__ import annotations

import copy

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_dtype(dtype) -> np.dtype:
    """Return ``dtype`` as a NumPy float dtype, or raise if it is not float32/float64."""
    dt = np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"scratchnet computes in float32 or float64, not {dt}")
    return dt


def positive_int(value, what: str) -> int:
    """Validate a hyperparameter that must be a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def int_pair(value, what: str) -> tuple[int, int]:
    """Accept ``k`` or ``(kh, kw)`` and return a pair of positive ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return positive_int(value[0], what), positive_int(value[1], what)


class Layer:
    """Base class: subclasses implement ``build``, ``forward`` and ``backward``.

    Parameters
    ----------
    activation : str or Layer, optional
        Applied after ``forward`` (``'relu'``, ``'tanh'``, ``'sigmoid'``,
        ``'softmax'``), as Keras's ``activation=`` argument.
    input_shape : tuple of int, optional
        Shape of one sample; only needed on a model's first layer.
    name : str, optional
    """

    _counts: dict[str, int] = {}
    #: True for layers that apply their own activation, fused with their bias
    #: (Dense, Conv2D: see ``scratchnet.layers.bias_activation``).
    fuses_activation = False
    #: At inference, the batch size this layer runs fastest at, if large batches hurt it
    #: (Conv2D: its im2col matrix must stay cache-sized; set when built). A model runs
    #: inference in chunks of the smallest such size through all its layers (Sequential).
    inference_chunk: int | None = None

    def __init__(self, activation=None, input_shape=None, name=None):
        kind = type(self).__name__.lower()
        if name is None:
            n = Layer._counts.get(kind, 0)
            Layer._counts[kind] = n + 1
            name = kind if n == 0 else f"{kind}_{n}"
        self.name = name
        self.declared_input_shape = None if input_shape is None else tuple(input_shape)
        self.activation = None
        if activation is not None:
            from scratchnet.layers.activations import get_activation

            self.activation = get_activation(activation)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        self.built = False
        self.input_shape: tuple[int, ...] | None = None
        self.output_shape: tuple[int, ...] | None = None
        self.dtype = np.dtype(np.float32)
        # False on a model's first layer: its input gradient is never needed.
        self.need_input_grad = True
        self._activate = False  # whether the last forward applied the activation
        # Set by layers whose inference path keeps nothing for backward (LSTM) when the
        # last forward took it.
        self._inference_pass = False
        self.rng = np.random.default_rng(0)

    # -- building ---------------------------------------------------------------------------
    def build(self, input_shape, dtype=np.float32, rng=None) -> tuple[int, ...]:
        """Create parameters for samples of ``input_shape``; return the output shape."""
        self.input_shape = tuple(int(d) for d in input_shape)
        self.dtype = as_float_dtype(dtype)
        if rng is not None:
            self.rng = rng
        self.output_shape = tuple(self._build(self.input_shape, self.rng))
        if self.activation is not None:
            self.activation.build(self.output_shape, self.dtype, self.rng)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.built = True
        return self.output_shape

    def _build(self, input_shape, rng) -> tuple[int, ...]:
        """Subclass hook: validate ``input_shape``, create ``self.params``, return output shape."""
        return input_shape

    #: True for a layer that commutes with every increasing function applied channel by
    #: channel, f(g(x)) = g(f(x)): a max-pool. A conv's bias and ReLU can then run after it.
    commutes_with_increasing = False

    def pools_first(self, after: Layer) -> bool:
        """Whether ``self.pooled(x, after)`` computes ``after(self(x))`` at inference, faster."""
        return False

    # -- reading and writing only what is used -------------------------------------------
    def input_window(self) -> tuple[int, ...] | None:
        """The leading part of each input sample this layer reads, if it reads only part.

        A 'valid' 2x2 max-pool on 11 x 11 maps reads the top-left 10 x 10 and skips the
        last row and column. A model then lets the layer before compute only that part
        (:meth:`crop_output`), and this layer accepts it as its input. ``None``: the
        layer reads its whole input.
        """
        return None

    def crop_output(self, shape: tuple[int, ...] | None) -> None:
        """Compute only the leading ``shape`` of each output sample (``None``: all of it).

        The model calls this with the next layer's :meth:`input_window`. A layer that
        cannot skip work ignores it, as here.
        """

    # -- running ----------------------------------------------------------------------------
    def draw(self, n: int) -> np.ndarray | None:
        """The random numbers a training forward on ``n`` samples uses, drawn from ``self.rng``
        now; ``None`` for a layer that uses none.

        A sharded step (``scratchnet.parallel``) draws them for the whole batch and hands
        each shard's replica its rows in ``self.drawn``, so the draws are the same for any
        number of workers.
        """
        return None

    def __call__(self, x: np.ndarray, training: bool = False, apply_activation: bool = True):
        """Validate ``x`` and run the forward pass (and the activation, unless told not to)."""
        if not self.built:
            self.build(x.shape[1:], x.dtype if x.dtype in FLOAT_DTYPES else np.float32)
        self.check_input(x)
        self._activate = self.activation is not None and apply_activation
        y = self.forward(x, training)
        if self._activate and not self.fuses_activation:
            y = self.activation.forward(y, training)
        return y

    def backprop(self, dy: np.ndarray, through_activation: bool = True):
        """Backward through the activation (if any) then the layer. Returns dL/dx or None."""
        if self.activation is not None and through_activation and not self.fuses_activation:
            dy = self.activation.backward(dy)
        return self.backward(dy)

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    # -- helpers ----------------------------------------------------------------------------
    def check_input(self, x) -> None:
        """Raise a clear error if ``x`` does not fit the shape and dtype the layer was built for."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{self.name}: expected a NumPy array, got {type(x).__name__}")
        expected = (None, *self.input_shape)
        if x.ndim != len(expected) or x.shape[1:] not in (self.input_shape,
                                                         self.input_window()):
            raise ValueError(
                f"{self.name}: expected input of shape {expected} (batch first), got {x.shape}"
            )
        if x.dtype != self.dtype:
            raise TypeError(
                f"{self.name}: expected {self.dtype} input, got {x.dtype}; "
                f"convert it explicitly, e.g. x.astype(np.{self.dtype})"
            )

    def check_upstream(self, dy, expected: tuple[int, ...] | None) -> np.ndarray:
        """``dy`` as a C-contiguous array, or a clear error if it does not fit the last forward.

        ``expected`` is the last forward's output shape (None before any forward). Layers
        whose numba kernels index without bounds checks call this, so a wrong shape never
        reaches them; a wrong dtype is refused rather than silently cast.
        """
        if self._inference_pass:
            raise RuntimeError(f"{self.name}: backward needs a forward pass with training=True; "
                               "the last forward was inference, which keeps nothing for it")
        if expected is None:
            raise RuntimeError(f"{self.name}: backward called before any forward pass")
        if getattr(dy, "shape", None) != tuple(expected):
            raise ValueError(f"{self.name}: expected an upstream gradient of shape {expected} "
                             f"(the last forward's output), got {getattr(dy, 'shape', type(dy))}")
        if dy.dtype != self.dtype:
            raise TypeError(f"{self.name}: expected a {self.dtype} upstream gradient, "
                            f"got {dy.dtype}")
        return np.ascontiguousarray(dy)

    def replica(self) -> Layer:
        """A copy for one shard of a data-parallel step (see ``scratchnet.parallel``).

        It shares this layer's parameter arrays and copies everything else, so its
        ``grads``, forward caches and scratch buffers are its own: two replicas can run
        forward and backward at the same time.
        """
        return copy.deepcopy(self, memo={id(p): p for p in self.params.values()})

    def count_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
