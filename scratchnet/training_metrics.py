"""The metrics ``compile(metrics=[...])`` accepts, as Keras 3 computes them per batch.

Each metric counts, over a batch, how many samples it scores (a sum, so that the
training loop can add batches and divide by the samples seen):

- ``accuracy`` resolves by the loss, as in Keras: sparse labels -> sparse categorical
  accuracy, one-hot rows -> categorical accuracy, binary crossentropy -> binary accuracy;
- ``sparse_categorical_accuracy``, ``categorical_accuracy``, ``binary_accuracy``
  (threshold 0.5; the fraction of right values per sample);
- ``top_k_categorical_accuracy``, ``sparse_top_k_categorical_accuracy`` (k = 5, Keras's
  default; ``TopK(k=3)`` for another k): the true class is among the k highest scores,
  a tie at the k-th place counting as in (Keras's ``in_top_k``).

They take what the model hands its loss (``Sequential.logits``): logits when the loss
fused the final softmax/sigmoid. Softmax keeps each row's order, so argmax and top-k
are unchanged; binary accuracy compares logits with logit(threshold) instead.
"""

from __future__ import annotations

import math

import numpy as np


def _labels(y_true, scores):
    return np.asarray(y_true).reshape(len(scores)).astype(np.int64, copy=False)


def sparse_categorical_accuracy(y_true, scores, from_logits=False) -> float:
    """Count of samples whose highest score is the label. y_true (N,), scores (N, C)."""
    return float(np.count_nonzero(scores.argmax(axis=-1) == _labels(y_true, scores)))


def categorical_accuracy(y_true, scores, from_logits=False) -> float:
    """Count of samples whose highest score is where the one-hot row (N, C) is highest."""
    return float(np.count_nonzero(scores.argmax(axis=-1) == np.asarray(y_true).argmax(axis=-1)))


def binary_accuracy(y_true, scores, from_logits=False, threshold=0.5) -> float:
    """Sum over samples of the fraction of values where (p > threshold) equals the target."""
    cut = math.log(threshold / (1 - threshold)) if from_logits else threshold
    predicted = (scores > cut).reshape(len(scores), -1)
    right = predicted == (np.asarray(y_true).reshape(predicted.shape) > 0.5)
    return float(right.mean(axis=-1).sum())


def _in_top_k(labels, scores, k):
    target = scores[np.arange(len(scores)), labels]
    return np.count_nonzero((scores > target[:, None]).sum(axis=-1) < k)


class TopK:
    """Top-k accuracy; ``sparse`` for integer labels, else one-hot rows."""

    def __init__(self, k: int = 5, sparse: bool = False):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"top-k accuracy needs a positive integer k, got {k!r}")
        self.k, self.sparse = int(k), bool(sparse)
        self.name = ("sparse_" if sparse else "") + "top_k_categorical_accuracy"

    def get_config(self) -> dict:
        return {"k": self.k, "sparse": self.sparse}

    def __call__(self, y_true, scores, from_logits=False) -> float:
        labels = (_labels(y_true, scores) if self.sparse
                  else np.asarray(y_true).argmax(axis=-1))
        return float(_in_top_k(labels, scores, self.k))


_FUNCTIONS = {
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "binary_accuracy": binary_accuracy,
}


def resolve(spec, loss_name: str):
    """``(name, fn)`` for a metric name, a TopK, or a function ``fn(y_true, scores,
    from_logits) -> count``; ``'accuracy'`` picks the variant that fits ``loss_name``."""
    if isinstance(spec, TopK):
        return spec.name, spec
    if callable(spec):
        return getattr(spec, "__name__", "metric"), spec
    if spec in ("accuracy", "acc"):
        variant = {"categorical_crossentropy": categorical_accuracy,
                   "binary_crossentropy": binary_accuracy}.get(loss_name,
                                                               sparse_categorical_accuracy)
        return "accuracy", variant
    if spec in _FUNCTIONS:
        return spec, _FUNCTIONS[spec]
    if spec == "top_k_categorical_accuracy":
        return spec, TopK()
    if spec == "sparse_top_k_categorical_accuracy":
        return spec, TopK(sparse=True)
    valid = sorted(["accuracy", *_FUNCTIONS, "top_k_categorical_accuracy",
                    "sparse_top_k_categorical_accuracy"])
    raise ValueError(f"unknown metric {spec!r}; choose from {valid}, a TopK(k=...), or a "
                     "function fn(y_true, scores, from_logits) -> count over the batch")


__all__ = ["TopK", "binary_accuracy", "categorical_accuracy", "resolve",
           "sparse_categorical_accuracy"]
