"""Loss functions, as Keras 3's ``keras.losses``: each returns the mean loss over the batch
and its gradient with respect to what the model hands it.

What the model hands a loss depends on ``from_logits`` and on how the model ends:

- ``from_logits=True``: the model's output, taken as logits;
- ``from_logits=False`` (Keras's default) on a model ending in the activation the loss
  pairs with (softmax for the categorical losses, sigmoid for binary crossentropy): the
  model stops before that activation and hands over the logits, and the loss computes
  the same value in its fused, stable form (``Loss.fused``). This is what ``compile``
  sets up;
- ``from_logits=False`` otherwise: the output, taken as probabilities, clipped to
  [1e-7, 1 - 1e-7] as Keras does. So a loss called directly on probabilities is correct.

The maths: ``scratchnet.reference.losses``. ``SparseCategoricalCrossentropy`` on logits
runs a numba kernel (``scratchnet.kernels.softmax_ce``); the others run their reference
pair on both engines (a loss is a few passes over an (N, C) matrix).

Each loss also owns the check of its targets (:meth:`Loss.check_targets`): integer class
indices for the sparse loss, arrays shaped like the output (one-hot rows for
``categorical_crossentropy``) for the others.
"""

from __future__ import annotations

import copy

import numpy as np

from scratchnet.kernels.softmax_ce import softmax_cross_entropy
from scratchnet.layers.activations import Sigmoid, Softmax
from scratchnet.reference import losses as ref
from scratchnet.weighting import check_sample_weight


def check_labels(labels, num_classes: int, n: int) -> np.ndarray:
    """Integer class labels of shape (n,) in [0, num_classes), as a contiguous int64 array."""
    labels = np.asarray(labels)
    if labels.shape != (n,):
        hint = ""
        if labels.shape == (n, num_classes):
            hint = ("; these look like one-hot rows: use loss='categorical_crossentropy', "
                    "or labels.argmax(axis=1)")
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}{hint}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integers (class indices), got {labels.dtype}")
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}) for {num_classes} classes, "
            f"got values in [{labels.min()}, {labels.max()}]"
        )
    return np.ascontiguousarray(labels, dtype=np.int64)


def to_categorical(labels, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """One-hot rows (N, num_classes) from integer labels (N,), as ``keras.utils.to_categorical``."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"to_categorical takes a 1-D array of integer labels, got "
                         f"{labels.dtype} of shape {labels.shape}")
    num_classes = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    labels = check_labels(labels, num_classes, len(labels))
    out = np.zeros((len(labels), num_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def _smoothing(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 <= value <= 1:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {value!r}")
    return float(value)


class Loss:
    """Base class. Subclasses set ``name``, ``fuses`` and the reference pairs.

    Parameters
    ----------
    from_logits : bool
        False (Keras's default): the model's output is probabilities (or the model ends in
        ``fuses``, which the model then fuses away). True: the output is logits.
    """

    name = "loss"
    #: The final activation whose logits this loss can take instead of its output.
    fuses: type | None = None
    #: Reference pairs (forward, backward) on probabilities / on logits.
    on_probabilities = on_logits = None

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    def get_config(self) -> dict:
        """The constructor's arguments, for saving (``scratchnet.registry``)."""
        return {"from_logits": self.from_logits}

    def fused(self) -> Loss:
        """This loss on the logits of its ``fuses`` activation: what a model ending in that
        activation hands it in training."""
        twin = copy.copy(self)
        twin.from_logits = True
        return twin

    # -- targets -----------------------------------------------------------------------------
    def check_targets(self, targets, output_shape, n: int) -> np.ndarray:
        """``targets`` for ``n`` outputs of ``output_shape`` (without the batch axis), checked;
        a clear error naming the fix otherwise. Default: arrays shaped like the output."""
        targets = np.asarray(targets)
        shape = (n, *output_shape)
        if targets.shape != shape:
            if targets.shape == (n,) and tuple(output_shape) == (1,):
                targets = targets.reshape(n, 1)  # (N,) targets of an (N, 1) output
            else:
                raise ValueError(f"{self.name}: targets must have the output's shape {shape}, "
                                 f"got {targets.shape}{self._shape_hint(targets, shape)}")
        if not (np.issubdtype(targets.dtype, np.floating)
                or np.issubdtype(targets.dtype, np.integer)
                or targets.dtype == np.bool_):
            raise TypeError(f"{self.name}: targets must be numbers, got {targets.dtype}")
        return targets

    def _shape_hint(self, targets, shape) -> str:
        return ""

    def _prepare(self, targets, outputs):
        """Targets as the pair takes them (for the float losses: in the outputs' dtype)."""
        return np.asarray(targets, dtype=outputs.dtype)

    # -- the loss ------------------------------------------------------------------------------
    def _pair(self):
        return self.on_logits if self.from_logits else self.on_probabilities

    def reference(self, outputs: np.ndarray, targets,
                  sample_weight=None) -> tuple[float, np.ndarray]:
        """``(mean loss, dL/doutputs)`` by the textbook pair of ``scratchnet.reference``.

        ``sample_weight`` (N,): Keras's weighting, sum_n w_n loss_n / N.
        """
        n = self._check_outputs(outputs)
        targets = self.check_targets(targets, outputs.shape[1:], n)
        w = check_sample_weight(sample_weight, n, outputs.dtype)
        self._check_probabilities(outputs)
        forward, backward = self._pair()
        loss, cache = forward(outputs, self._prepare(targets, outputs), w)
        return loss, backward(1.0, cache)

    def __call__(self, outputs: np.ndarray, targets, batch_size: int | None = None,
                 sample_weight=None):
        """``(mean loss as float, dL/doutputs in the outputs' dtype)``.

        ``batch_size`` (default n) is the N of the mean. When the n rows are one shard of
        a larger batch (``scratchnet.parallel``), the shards' losses and gradients then
        add up to the whole batch's. ``sample_weight`` (n,), optional: each sample's loss
        times its weight, summed and divided by ``batch_size`` (Keras's weighting).
        """
        n = self._check_outputs(outputs)
        batch_size = n if batch_size is None else int(batch_size)
        if batch_size < max(n, 1):
            raise ValueError(f"{self.name}: batch_size must be at least the {n} rows of "
                             f"the outputs (and >= 1), got {batch_size}")
        loss, grad = self.reference(outputs, targets, sample_weight)
        if batch_size != n:  # the pair averaged over n; the mean runs over batch_size
            scale = n / batch_size
            loss, grad = loss * scale, grad * outputs.dtype.type(scale)
        return loss, grad

    #: Whether ``from_logits=False`` means the outputs must be probabilities.
    takes_probabilities = False

    def _check_probabilities(self, outputs) -> None:
        """Refuse outputs that cannot be probabilities (NaN passes, to propagate)."""
        if not self.takes_probabilities or self.from_logits or outputs.size == 0:
            return
        if outputs.min() < 0 or outputs.max() > 1:
            raise ValueError(
                f"{self.name}: with from_logits=False the outputs are probabilities in [0, 1], "
                f"got values in [{outputs.min():.4g}, {outputs.max():.4g}]; if these are "
                f"logits, use from_logits=True, or end the model in "
                f"{self.fuses.__name__.lower()}")
        if outputs.ndim == 2 and self.fuses is Softmax and \
                not np.all(outputs.sum(axis=-1) > 0):
            raise ValueError(f"{self.name}: a row of probabilities sums to 0; each row must "
                             "hold a distribution over the classes")

    def _check_outputs(self, outputs) -> int:
        if not isinstance(outputs, np.ndarray) or outputs.ndim < 2:
            raise ValueError(f"{self.name}: expected outputs of shape (N, ...), got "
                             f"{getattr(outputs, 'shape', type(outputs))}")
        return outputs.shape[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(from_logits={self.from_logits})"


class CategoricalCrossentropy(Loss):
    """Cross-entropy of one-hot (or soft) targets (N, C), optionally smoothed:
    t <- t (1 - label_smoothing) + label_smoothing / C (Keras's formula).

    Parameters
    ----------
    from_logits : bool, default False
    label_smoothing : float in [0, 1], default 0
    """

    name = "categorical_crossentropy"
    fuses = Softmax
    takes_probabilities = True
    on_probabilities = (ref.categorical_crossentropy_forward,
                        ref.categorical_crossentropy_backward)
    on_logits = (ref.softmax_categorical_crossentropy_forward,
                 ref.softmax_categorical_crossentropy_backward)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        super().__init__(from_logits)
        self.label_smoothing = _smoothing(label_smoothing, self.name)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}

    def _check_outputs(self, outputs) -> int:
        if not isinstance(outputs, np.ndarray) or outputs.ndim != 2:
            raise ValueError(f"{self.name}: expected outputs of shape (N, C), got "
                             f"{getattr(outputs, 'shape', type(outputs))}")
        return outputs.shape[0]

    def _shape_hint(self, targets, shape) -> str:
        if targets.shape == shape[:1]:
            return ("; these look like class indices: use loss="
                    "'sparse_categorical_crossentropy', or scratchnet.losses.to_categorical")
        return ""

    def _prepare(self, targets, outputs):
        targets = np.asarray(targets, dtype=outputs.dtype)
        if self.label_smoothing:
            targets = ref.smooth_labels(targets, outputs.dtype.type(self.label_smoothing))
        return targets

    def __repr__(self):
        return (f"CategoricalCrossentropy(from_logits={self.from_logits}, "
                f"label_smoothing={self.label_smoothing})")


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy of integer labels (N,): -log p[y].

    On logits (a model ending in softmax, or ``from_logits=True``) it is the fused

        L = mean_n [logsumexp(z_n) - z_n[y_n]],    dL/dz = (softmax(z) - onehot(y)) / N,

    run by a numba kernel; on probabilities, categorical crossentropy of one-hot rows.
    """

    name = "sparse_categorical_crossentropy"
    fuses = Softmax
    takes_probabilities = True

    def check_targets(self, targets, output_shape, n):
        if len(output_shape) != 1:
            raise ValueError(f"{self.name}: needs outputs of shape (N, C), got (N, "
                             f"*{tuple(output_shape)})")
        return check_labels(targets, output_shape[-1], n)

    def _check_outputs(self, outputs) -> int:
        return CategoricalCrossentropy._check_outputs(self, outputs)

    def reference(self, outputs, targets, sample_weight=None):
        n = self._check_outputs(outputs)
        labels = self.check_targets(targets, outputs.shape[1:], n)
        w = check_sample_weight(sample_weight, n, outputs.dtype)
        self._check_probabilities(outputs)
        if self.from_logits:
            loss, cache = ref.softmax_cross_entropy_forward(outputs, labels, w)
            return loss, ref.softmax_cross_entropy_backward(1.0, cache)
        onehot = np.eye(outputs.shape[1], dtype=outputs.dtype)[labels]
        loss, cache = ref.categorical_crossentropy_forward(outputs, onehot, w)
        return loss, ref.categorical_crossentropy_backward(1.0, cache)

    def __call__(self, outputs, labels, batch_size=None, sample_weight=None):
        if not self.from_logits:
            return super().__call__(outputs, labels, batch_size, sample_weight)
        n = self._check_outputs(outputs)
        batch_size = n if batch_size is None else int(batch_size)
        if batch_size < max(n, 1):
            raise ValueError(f"{self.name}: batch_size must be at least the {n} rows of "
                             f"logits (and >= 1), got {batch_size}")
        labels = self.check_targets(labels, outputs.shape[1:], n)
        w = check_sample_weight(sample_weight, n, outputs.dtype)
        logits = np.ascontiguousarray(outputs)
        grad = np.empty_like(logits)
        losses = softmax_cross_entropy(logits, labels, grad, batch_size)
        if w is None:
            return float(losses.sum(dtype=np.float64) / batch_size), grad
        # The kernel wrote (softmax - onehot) / B; the weighted loss scales row n by w_n.
        grad *= w[:, None]
        return float(np.dot(losses.astype(np.float64), w) / batch_size), grad


class BinaryCrossentropy(Loss):
    """-[t log p + (1 - t) log(1 - p)], averaged over the last axis and the batch.

    Parameters
    ----------
    from_logits : bool, default False
    label_smoothing : float in [0, 1], default 0: t <- t (1 - s) + s / 2 (Keras's formula)
    """

    name = "binary_crossentropy"
    fuses = Sigmoid
    takes_probabilities = True
    on_probabilities = (ref.binary_crossentropy_forward, ref.binary_crossentropy_backward)
    on_logits = (ref.sigmoid_binary_crossentropy_forward,
                 ref.sigmoid_binary_crossentropy_backward)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        super().__init__(from_logits)
        self.label_smoothing = _smoothing(label_smoothing, self.name)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}

    def _prepare(self, targets, outputs):
        targets = np.asarray(targets, dtype=outputs.dtype)
        if self.label_smoothing:
            s = outputs.dtype.type(self.label_smoothing)
            targets = targets * (1 - s) + s / 2
        return targets

    def __repr__(self):
        return (f"BinaryCrossentropy(from_logits={self.from_logits}, "
                f"label_smoothing={self.label_smoothing})")


class MeanSquaredError(Loss):
    """mean (y - t)^2 over the last axis, then over the batch."""

    name = "mean_squared_error"
    on_probabilities = on_logits = (ref.mse_forward, ref.mse_backward)

    def __init__(self):
        super().__init__(from_logits=False)

    def get_config(self):
        return {}


class MeanAbsoluteError(Loss):
    """mean |y - t| over the last axis, then over the batch."""

    name = "mean_absolute_error"
    on_probabilities = on_logits = (ref.mae_forward, ref.mae_backward)

    def __init__(self):
        super().__init__(from_logits=False)

    def get_config(self):
        return {}


_BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
}


def get_loss(spec) -> Loss:
    """A loss name (``'categorical_crossentropy'``, ``'mse'``, ...) or a Loss instance."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    if spec == "crossentropy":  # kept for old scripts: the integer-label loss
        return SparseCategoricalCrossentropy()
    raise ValueError(f"unknown loss {spec!r}; choose one of {sorted(_BY_NAME)} "
                     "or pass a Loss instance")


__all__ = ["BinaryCrossentropy", "CategoricalCrossentropy", "Loss", "MeanAbsoluteError",
           "MeanSquaredError", "SparseCategoricalCrossentropy", "check_labels", "get_loss",
           "to_categorical"]
