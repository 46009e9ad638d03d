"""Sequential: a stack of layers, with Keras's compile / fit / evaluate / predict API.

The model owns three things the layers do not: the order of the layers, the loss
(fused with a final softmax), and the random streams (initialisation, shuffling,
dropout), which all derive from one seed so that a run can be repeated bit for bit.
"""

from __future__ import annotations

import numpy as np

from scratchnet.engine import check_engine, make_engine
from scratchnet.inputs import as_model_input, check_input_shape
from scratchnet.layers.base import FLOAT_DTYPES, Layer, as_float_dtype
from scratchnet.losses import get_loss
from scratchnet.model_file import save_model
from scratchnet.on_batch import predict_on_batch, test_on_batch, train_on_batch
from scratchnet.optimizers import get_optimizer
from scratchnet.saving import load_weights, save_weights
from scratchnet.training import evaluate, fit, predict
from scratchnet.training_metrics import batch_counts
from scratchnet.training_metrics import resolve as resolve_metric


class Input:
    """The shape of one sample, as ``keras.Input``: ``Sequential([Input((28, 28, 1)), ...])``."""

    def __init__(self, shape):
        self.shape = check_input_shape(shape)


class Sequential:
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer, optional
        May start with an ``Input``; otherwise the first layer's ``input_shape=``
        or the first batch of data fixes the input shape.
    seed : int
        Seeds the weight initialisation, and ``fit``'s shuffling and dropout masks
        unless ``fit`` is given its own seed.
    dtype : 'float32' or 'float64', optional
        The compute dtype. By default the dtype of the first data seen, or float32.
    engine : {'fast', 'reference'}
        Which implementation runs the layers (``scratchnet.engine``): numba kernels and
        data parallelism (``scratchnet.fast``), or each layer's plain-NumPy pair
        (``scratchnet.reference``). Both compute the same, up to float rounding.
    """

    def __init__(self, layers=None, name="sequential", seed=0, dtype=None, engine="fast"):
        self.name = name
        self.seed = int(seed)
        self.layers: list[Layer] = []
        self.input_shape = None
        self.dtype = None if dtype is None else as_float_dtype(dtype)
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        #: Where the loss takes over the final softmax (or sigmoid): "layer" (a Softmax
        #: layer), "activation" (the last layer's activation='softmax') or None. By compile.
        self.fused_activation = None
        self.metrics, self.metric_functions = [], []
        #: compile's weighted_metrics: counted with the sample weights (Keras 3).
        self.weighted_metrics, self.weighted_metric_functions = [], []
        self.engine = check_engine(engine)
        self._engine = None  # made by build
        #: How many times ``fit`` has started: each call without a seed of its own derives
        #: its shuffling and dropout streams from (seed, fit_calls).
        self.fit_calls = 0
        #: While ``fit`` runs, where it is (``scratchnet.backup.FitPosition``): what
        #: BackupAndRestore saves and restores. None outside ``fit``.
        self.fit_position = None
        #: What each output unit means (e.g. the dataset's characters), saved with the
        #: model (``save``) for whoever predicts with it; None when unknown.
        self.class_names: list[str] | None = None
        #: The loss as compile was given it (``loss`` may be its fused form): what ``save`` keeps.
        self.compiled_loss = None
        for layer in layers or []:
            self.add(layer)

    # -- construction -----------------------------------------------------------------------
    def add(self, layer) -> None:
        if isinstance(layer, Input):
            if self.layers:
                raise ValueError("Input must come first in a Sequential model")
            self.input_shape = layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes Layer instances, got {type(layer).__name__}")
        several = getattr(layer, "several_outputs", None)
        if several:
            raise ValueError(
                f"{layer.name}: {several}, but a Sequential model passes one array from "
                "layer to layer; call the layer directly to get the list, or drop the option")
        if not self.layers and self.input_shape is None:
            self.input_shape = layer.declared_input_shape
        self.layers.append(layer)

    @property
    def built(self) -> bool:
        return bool(self.layers) and all(layer.built for layer in self.layers)

    def build(self, input_shape=None, dtype=None, before_layer=None) -> None:
        """Build every layer in turn; each layer's init draws from its own seeded stream.

        ``before_layer(index, layer, input_shape)``, if given, runs before each layer is
        built (loading a file checks the sizes it would allocate there).
        """
        if not self.layers:
            raise ValueError(f"model {self.name!r} has no layers")
        shape = tuple(input_shape or self.input_shape or ())
        if not shape:
            raise ValueError(
                f"model {self.name!r} does not know its input shape: start with Input(shape), "
                "give the first layer input_shape=, or call fit/predict on data"
            )
        self.input_shape = shape
        self.dtype = as_float_dtype(dtype or self.dtype or np.float32)
        streams = np.random.SeedSequence([self.seed, 0]).spawn(len(self.layers))
        for i, (layer, stream) in enumerate(zip(self.layers, streams, strict=True)):
            if before_layer is not None:
                before_layer(i, layer, shape)
            try:
                shape = layer.build(shape, self.dtype, np.random.default_rng(stream))
            except (ValueError, TypeError) as err:
                raise type(err)(f"while building layer {layer.name!r}: {err}") from err
        self._engine = make_engine(self.engine, self)

    def build_for(self, x) -> None:
        """Build the model for the batch ``x`` if it is not built yet (shape and dtype from x)."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"model {self.name!r}: expected a NumPy array, got {type(x).__name__}")
        if not self.built:
            if x.dtype not in FLOAT_DTYPES:
                raise TypeError(
                    f"model {self.name!r}: inputs must be float32 or float64, got {x.dtype}; "
                    "scale and convert them, e.g. x.astype(np.float32) / 255"
                )
            self.build(self.input_shape or x.shape[1:], self.dtype or x.dtype)

    @property
    def output_shape(self):
        return self.layers[-1].output_shape

    # -- parameters ---------------------------------------------------------------------------
    def named_parameters(self):
        """Yield ``('layer/param', array)`` for every trainable array, in a fixed order."""
        for layer in self.layers:
            for key, value in layer.params.items():
                yield f"{layer.name}/{key}", value

    @property
    def parameters(self) -> list[np.ndarray]:
        return [p for layer in self.layers for p in layer.params.values()]

    @property
    def gradients(self) -> list[np.ndarray]:
        return [layer.grads[k] for layer in self.layers for k in layer.params]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every layer's weights, layer by layer in Keras's order."""
        if not self.built:
            self.build()
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Write ``weights`` (as ``get_weights`` returns them) into the layers, in place."""
        if not self.built:
            self.build()
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"model {self.name!r}: expected {expected} arrays (as get_weights "
                             f"returns), got {len(weights)}")
        start = 0
        for layer in self.layers:
            n = len(layer.weights)
            layer.set_weights(weights[start:start + n])
            start += n

    def regularization_loss(self) -> float:
        """The sum of every layer's weight penalties (``kernel_regularizer=`` ...)."""
        return sum((layer.regularization_penalty() for layer in self.layers), 0.0)

    def count_params(self) -> int:
        if not self.built:
            self.build()
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, print_fn=print) -> str:
        """Print (and return) a table of layers, output shapes and parameter counts."""
        if not self.built:
            self.build()
        # As Keras, a layer's count includes its non-trainable state (BatchNorm's moving
        # statistics); the totals below split the two.
        rows = [(f"{layer.name} ({type(layer).__name__})", str((None, *layer.output_shape)),
                 f"{layer.count_params() + sum(v.size for v in layer.state.values()):,}")
                for layer in self.layers]
        widths = [max(len(h), *(len(r[i]) for r in rows)) + 2
                  for i, h in enumerate(("Layer (type)", "Output Shape", "Param #"))]
        line = "=" * sum(widths)

        def fmt(a, b, c):
            return a.ljust(widths[0]) + b.ljust(widths[1]) + c.rjust(widths[2])

        state = sum(v.size for layer in self.layers for v in layer.state.values())
        trainable = self.count_params()
        text = "\n".join([
            f'Model: "{self.name}"', fmt("Layer (type)", "Output Shape", "Param #"), line,
            *(fmt(*r) for r in rows), line,
            f"Total params: {trainable + state:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {state:,}",
        ])
        print_fn(text)
        return text

    # -- compile ------------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss="sparse_categorical_crossentropy",
                metrics=("accuracy",), weighted_metrics=None) -> None:
        """Choose the optimizer, the loss and the metrics (names or instances, as Keras).

        As in Keras 3, ``metrics`` ignore sample and class weights; ``weighted_metrics``
        count every sample with its weight (named ``weighted_<name>`` when ``metrics``
        already has that name).

        A crossentropy loss with ``from_logits=False`` on a model ending in its activation
        (softmax, or sigmoid for binary crossentropy) takes over that activation: in
        training the model stops before it, and ``self.loss`` is the loss's fused form on
        the logits (``Loss.fused``). Otherwise ``self.loss`` is the loss as given.
        """
        self.optimizer = get_optimizer(optimizer)
        given = get_loss(loss)
        self.compiled_loss = given
        self.metrics = list(metrics or [])
        self.metric_functions = [resolve_metric(m, given.name) for m in self.metrics]
        self.weighted_metrics = list(weighted_metrics or [])
        self.weighted_metric_functions = []
        taken = {name for name, _ in self.metric_functions}
        for spec in self.weighted_metrics:
            name, fn = resolve_metric(spec, given.name, weighted=True)
            name = f"weighted_{name}" if name in taken else name
            taken.add(name)
            self.weighted_metric_functions.append((name, fn))
        if not self.layers:
            raise ValueError(f"model {self.name!r} has no layers")
        last = self.layers[-1]
        self.fused_activation, self.loss = None, given
        if not given.from_logits and given.fuses is not None:
            if isinstance(last, given.fuses):
                self.fused_activation = "layer"
            elif isinstance(last.activation, given.fuses):
                self.fused_activation = "activation"
            if self.fused_activation:
                self.loss = given.fused()
        self._accuracy = resolve_metric("accuracy", given.name)[1]

    # -- forward and backward -------------------------------------------------------------------
    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """The full forward pass: probabilities when the model ends in a softmax.

        ``x`` may have any real numeric dtype: it is converted to the model's (as Keras).
        """
        return self._forward(as_model_input(self, x, check_finite=False), training,
                             logits=False)

    def logits(self, x: np.ndarray, training: bool) -> np.ndarray:
        """Forward up to the loss's input: stops before a final softmax that the loss fuses."""
        return self._forward(x, training, logits=True)

    def _forward(self, x: np.ndarray, training: bool, logits: bool) -> np.ndarray:
        self.build_for(x)
        self.layers[0].check_input(x)
        return self._engine.forward(x, training, logits)

    def compute_gradients(self, x: np.ndarray, y: np.ndarray, training: bool = True,
                          sample_weight=None):
        """Forward, loss and backward for one batch, without updating. Returns (loss, logits).

        Fills every layer's ``grads``. On the fast engine a training batch large enough is
        split across the cores (``scratchnet.parallel``). Weight penalties (regularizers)
        are added here, once for the whole batch, to the loss and to the gradients.
        ``sample_weight`` (N,) weighs each sample's loss (``scratchnet.weighting``).
        """
        if self.loss is None:
            raise RuntimeError(f"model {self.name!r} must be compiled first")
        self.build_for(x)
        self.layers[0].check_input(x)
        loss, logits = self._engine.gradients(x, y, training, sample_weight)
        for layer in self.layers:
            if layer.regularizers:
                loss += layer.regularization_penalty()
                layer.add_regularization_gradients()
        return loss, logits

    def train_step(self, x: np.ndarray, y: np.ndarray):
        """One optimisation step on a batch. Returns (mean loss, number correct), the count
        of Keras's 'accuracy' for this loss (fractional for binary accuracy)."""
        loss, logits = self.compute_gradients(x, y, training=True)
        self.optimizer.apply(self.parameters, self.gradients)
        return loss, self._accuracy(y, logits, self.loss.from_logits)

    def fit_step(self, x: np.ndarray, y: np.ndarray, sample_weight=None):
        """One optimisation step. Returns (mean loss, ``batch_metrics`` of the batch): the
        training loop sums the counts and divides by the samples seen."""
        loss, logits = self.compute_gradients(x, y, training=True, sample_weight=sample_weight)
        self.optimizer.apply(self.parameters, self.gradients)
        return loss, self.batch_metrics(y, logits, sample_weight)

    def batch_metrics(self, y, outputs, sample_weight=None) -> dict[str, float]:
        """Each compiled metric's count over a batch, from what ``logits`` returned for it
        (the training loop adds them up and divides: ``training_metrics.averages``).
        The weighted metrics count with ``sample_weight``."""
        return batch_counts(self.metric_functions, self.weighted_metric_functions, y,
                            outputs, self.loss.from_logits, sample_weight)

    @property
    def weighted_metric_names(self) -> set[str]:
        return {name for name, _ in self.weighted_metric_functions}

    def reseed(self, entropy) -> np.random.Generator:
        """Give every layer a fresh random stream from ``entropy`` (an int or tuple of ints);
        return one more stream, for shuffling."""
        streams = np.random.SeedSequence(entropy).spawn(len(self.layers) + 1)
        for layer, stream in zip(self.layers, streams[1:], strict=True):
            layer.rng = np.random.default_rng(stream)
        return np.random.default_rng(streams[0])

    # -- the Keras-style entry points (the loops live in scratchnet.training) -----------------
    fit = fit
    evaluate = evaluate
    predict = predict
    train_on_batch = train_on_batch
    test_on_batch = test_on_batch
    predict_on_batch = predict_on_batch
    save_weights = save_weights
    load_weights = load_weights
    save = save_model
