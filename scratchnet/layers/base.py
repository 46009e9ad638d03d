"""The layer contract shared by every layer in scratchnet.

A layer is built once for a known input shape and dtype, then runs

    y  = layer(x, training)      # forward (and the activation): caches what backward needs
    dx = layer.backprop(dy)      # backward (through the activation): fills layer.grads

``forward``/``backward`` are the textbook path: each built-in layer calls its pair of
plain-NumPy functions in ``scratchnet.reference`` and keeps the returned cache. That is
what the layer computes. The fast engine (``scratchnet.fast``) runs a second
implementation of the same maths, with numba kernels, and is tested equal to this one; a
layer without one runs this path on both engines.

Every array carries the batch as its first axis; shapes in this package are written
without it (``input_shape``/``output_shape``). Layers are channels-last, like Keras:
images are (N, H, W, C) and sequences (N, T, D).

Three dictionaries hold a layer's arrays, so that optimizers, save/load and layers with
non-trainable state (BatchNorm's running statistics) all work without special cases:

- ``params``: trainable arrays, updated in place by the optimizer;
- ``grads``:  same keys as ``params``, written by ``backward``;
- ``state``:  non-trainable arrays that are saved and loaded with the model.
"""

from __future__ import annotations

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
    """Base class: subclasses implement ``_build``, ``forward`` and ``backward``.

    Parameters
    ----------
    activation : str or Layer, optional
        Applied after ``forward`` (``'relu'``, ``'tanh'``, ``'sigmoid'``,
        ``'softmax'``), as Keras's ``activation=`` argument.
    input_shape : tuple of int, optional
        Shape of one sample; only needed on a model's first layer.
    name : str, optional
    kernel_regularizer, recurrent_regularizer, bias_regularizer : Regularizer or str, optional
        Penalties on the parameters ``REGULARIZED`` names (``scratchnet.regularizers``):
        the model adds ``penalty`` to its loss and ``gradient`` to the parameter's
        gradient, once per step. Any layer whose parameters use those names takes them.
    """

    _counts: dict[str, int] = {}
    #: Which parameter each regularizer argument applies to (Keras's kernel / recurrent
    #: kernel / bias). A layer of your own with other names overrides this.
    REGULARIZED = {"kernel_regularizer": "W", "recurrent_regularizer": "U",
                   "bias_regularizer": "b"}

    def __init__(self, activation=None, input_shape=None, name=None, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None):
        kind = type(self).__dict__.get("default_name", type(self).__name__.lower())
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
        self.cache = None  # what the last forward keeps for backward
        self._output = None  # (shape, dtype) of the last call's output, for backprop's check
        self.rng = np.random.default_rng(0)
        from scratchnet.regularizers import get_regularizer

        given = {"kernel_regularizer": kernel_regularizer,
                 "recurrent_regularizer": recurrent_regularizer,
                 "bias_regularizer": bias_regularizer}
        self.regularizers = {arg: get_regularizer(spec) for arg, spec in given.items()
                             if spec is not None}

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
        for arg in self.regularizers:
            key = self.REGULARIZED.get(arg)
            if key not in self.params:
                raise ValueError(f"{self.name}: {arg} was given, but the layer has no "
                                 f"parameter {key!r} for it (its parameters: "
                                 f"{sorted(self.params)}); remove the {arg}")
        self.cache = self._output = None
        self.built = True
        return self.output_shape

    def _build(self, input_shape, rng) -> tuple[int, ...]:
        """Subclass hook: validate ``input_shape``, create ``self.params``, return output shape."""
        return input_shape

    # -- the maths: forward and backward, side by side in each subclass ---------------------
    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """x (N, *input_shape) -> y (N, *output_shape), keeping ``self.cache`` for backward."""
        raise NotImplementedError(
            f"{type(self).__name__} has no reference forward/backward pair: implement "
            "forward and backward, or register a fast implementation and use engine='fast'")

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy = dL/dy -> dL/dx; writes ``self.grads`` for every parameter."""
        raise NotImplementedError(
            f"{type(self).__name__} has no reference forward/backward pair: implement "
            "forward and backward, or register a fast implementation and use engine='fast'")

    @classmethod
    def has_reference(cls) -> bool:
        """Whether this layer type implements the reference pair ``forward``/``backward``."""
        return cls.forward is not Layer.forward and cls.backward is not Layer.backward

    # -- running ----------------------------------------------------------------------------
    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Validate ``x``, then run the forward pass and the activation."""
        if not self.built:
            self.build(x.shape[1:], x.dtype if x.dtype in FLOAT_DTYPES else np.float32)
        self.check_input(x)
        y = self.forward(x, training)
        if self.activation is not None:
            y = self.activation.forward(y, training)
        self._output = (y.shape, y.dtype)
        return y

    def backprop(self, dy: np.ndarray) -> np.ndarray:
        """Backward through the activation (if any), then the layer. Returns dL/dx.

        ``dy`` must have the shape and dtype of the last call's output.
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
        if self.activation is not None:
            dy = self.activation.backward(dy)
        return self.backward(dy)

    def store_grads(self, **grads: np.ndarray) -> None:
        """Write each gradient into ``self.grads`` in place: the arrays keep their identity."""
        for key, g in grads.items():
            self.grads[key][...] = g

    def backward_cache(self):
        """The cache of the last forward, or a clear error if there has been none."""
        if self.cache is None:
            raise RuntimeError(f"{self.name}: backward called before any forward pass")
        return self.cache

    # -- helpers ----------------------------------------------------------------------------
    def check_input(self, x) -> None:
        """Raise a clear error if ``x`` does not fit the shape and dtype the layer was built for."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{self.name}: expected a NumPy array, got {type(x).__name__}")
        expected = (None, *self.input_shape)
        if x.ndim != len(expected) or x.shape[1:] != self.input_shape:
            raise ValueError(
                f"{self.name}: expected input of shape {expected} (batch first), got {x.shape}"
            )
        if x.dtype != self.dtype:
            raise TypeError(
                f"{self.name}: expected {self.dtype} input, got {x.dtype}; layers called "
                f"directly do not convert: pass x.astype(np.{self.dtype}) (a model's fit, "
                "evaluate and predict convert for you)"
            )

    # -- regularization (the model calls these once per step) -----------------------------
    def regularization_penalty(self) -> float:
        """The sum of this layer's weight penalties, for the loss."""
        return sum((reg.penalty(self.params[self.REGULARIZED[arg]])
                    for arg, reg in self.regularizers.items()), 0.0)

    def add_regularization_gradients(self) -> None:
        """Add each penalty's gradient to its parameter's gradient, in place."""
        for arg, reg in self.regularizers.items():
            key = self.REGULARIZED[arg]
            self.grads[key] += reg.gradient(self.params[key])

    # -- weights, in Keras's order -----------------------------------------------------------
    @property
    def weights(self) -> list[np.ndarray]:
        """The layer's arrays themselves: trainable params, then state (Keras's order)."""
        return [*self.params.values(), *self.state.values()]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of :attr:`weights`: e.g. Dense [kernel W, bias b], BatchNormalization
        [gamma, beta, moving_mean, moving_variance], LSTM [W, U, b]."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Write ``weights`` (as ``get_weights`` returns them) into the layer, in place."""
        if not self.built:
            raise RuntimeError(f"{self.name}: build the layer (or its model) before "
                               "set_weights")
        mine = self.weights
        weights = list(weights)
        if len(weights) != len(mine):
            raise ValueError(f"{self.name}: expected {len(mine)} arrays (shapes "
                             f"{[w.shape for w in mine]}), got {len(weights)}")
        arrays = [np.asarray(w) for w in weights]
        for i, (target, w) in enumerate(zip(mine, arrays, strict=True)):
            if w.shape != target.shape:
                raise ValueError(f"{self.name}: weight {i} must have shape {target.shape}, "
                                 f"got {w.shape}")
            if not np.issubdtype(w.dtype, np.number) or np.issubdtype(w.dtype, np.complexfloating):
                raise TypeError(f"{self.name}: weight {i} must be real numbers, got {w.dtype}")
        for target, w in zip(mine, arrays, strict=True):  # all checked before any is written
            target[...] = w

    def count_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    # -- saving: the constructor's arguments, and the arrays build makes (scratchnet.registry) --
    def get_config(self) -> dict:
        """The constructor's keyword arguments as JSON values, Keras-style:
        ``type(layer)(**layer.get_config())`` makes an equal, unbuilt layer.

        Here the arguments every layer shares, when given; subclasses add their own.
        """
        from scratchnet.registry import serialize

        config: dict = {"name": self.name}
        if self.declared_input_shape is not None:
            config["input_shape"] = list(self.declared_input_shape)
        if self.activation is not None:
            config["activation"] = _activation_config(self.activation)
        for arg, reg in self.regularizers.items():
            config[arg] = serialize(reg)
        return config

    def weight_shapes(self, input_shape) -> dict[str, tuple[int, ...]] | None:
        """``{key: shape}`` of the ``params`` and ``state`` that ``build(input_shape)`` would
        create, computed without creating them (loading checks a file's sizes with it);
        None when unknown. A layer with parameters overrides it."""
        return {} if type(self)._build is Layer._build else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _activation_config(activation):
    """A built-in activation by its name ('relu'), another by its layer config."""
    from scratchnet.layers.activations import activation_name
    from scratchnet.registry import serialize

    name = activation_name(activation)
    return name if name is not None else serialize(activation)
