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

Sample weights, as Keras 3: the metrics of ``compile(metrics=...)`` ignore them; those of
``compile(weighted_metrics=...)`` count each sample with its weight (``sample_weight=``:
the sum of w_n times the sample's score), and the loop divides by the sum of the weights
seen (:func:`averages`) instead of the number of samples.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

#: The key under which a batch's (and an epoch's) sum of sample weights travels with the
#: metrics' sums: the denominator of the weighted metrics. '@' cannot start a metric name.
WEIGHTS = "@weights"


def _total(per_sample, sample_weight) -> float:
    """sum_n per_sample[n], each times w_n when weights are given."""
    if sample_weight is None:
        return float(np.count_nonzero(per_sample) if per_sample.dtype == bool
                     else per_sample.sum())
    return float(np.dot(per_sample.astype(np.float64), np.asarray(sample_weight, np.float64)))


def _labels(y_true, scores):
    return np.asarray(y_true).reshape(len(scores)).astype(np.int64, copy=False)


def sparse_categorical_accuracy(y_true, scores, from_logits=False, sample_weight=None) -> float:
    """Count of samples whose highest score is the label. y_true (N,), scores (N, C);
    with ``sample_weight`` (N,), the sum of the right samples' weights."""
    return _total(scores.argmax(axis=-1) == _labels(y_true, scores), sample_weight)


def categorical_accuracy(y_true, scores, from_logits=False, sample_weight=None) -> float:
    """Count of samples whose highest score is where the one-hot row (N, C) is highest."""
    return _total(scores.argmax(axis=-1) == np.asarray(y_true).argmax(axis=-1), sample_weight)


def binary_accuracy(y_true, scores, from_logits=False, threshold=0.5,
                    sample_weight=None) -> float:
    """Sum over samples of the fraction of values where (p > threshold) equals the target."""
    cut = math.log(threshold / (1 - threshold)) if from_logits else threshold
    predicted = (scores > cut).reshape(len(scores), -1)
    right = predicted == (np.asarray(y_true).reshape(predicted.shape) > 0.5)
    return _total(right.mean(axis=-1), sample_weight)


def _in_top_k(labels, scores, k):
    """(N,) bool: the label's score is among the k highest (ties at the k-th place in)."""
    target = scores[np.arange(len(scores)), labels]
    return (scores > target[:, None]).sum(axis=-1) < k


class TopK:
    """Top-k accuracy; ``sparse`` for integer labels, else one-hot rows."""

    def __init__(self, k: int = 5, sparse: bool = False):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"top-k accuracy needs a positive integer k, got {k!r}")
        self.k, self.sparse = int(k), bool(sparse)
        self.name = ("sparse_" if sparse else "") + "top_k_categorical_accuracy"

    def get_config(self) -> dict:
        return {"k": self.k, "sparse": self.sparse}

    def __call__(self, y_true, scores, from_logits=False, sample_weight=None) -> float:
        labels = (_labels(y_true, scores) if self.sparse
                  else np.asarray(y_true).argmax(axis=-1))
        return _total(_in_top_k(labels, scores, self.k), sample_weight)


_FUNCTIONS = {
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "binary_accuracy": binary_accuracy,
}


def resolve(spec, loss_name: str, weighted: bool = False):
    """``(name, fn)`` for a metric name, a TopK, or a function ``fn(y_true, scores,
    from_logits) -> count``; ``'accuracy'`` picks the variant that fits ``loss_name``.

    ``weighted`` (for ``weighted_metrics``): a function must also take ``sample_weight``
    and return the weighted count.
    """
    if isinstance(spec, TopK):
        return spec.name, spec
    if callable(spec):
        name = getattr(spec, "__name__", "metric")
        if weighted and not _takes_sample_weight(spec):
            raise TypeError(f"weighted metric {name!r} must take a sample_weight argument: "
                            "fn(y_true, scores, from_logits, sample_weight=None) -> the sum "
                            "of each sample's score times its weight; or put it in metrics=")
        return name, spec
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


def goes_up(fn) -> bool:
    """Whether a resolved metric is one of the built-in scores that grow as the model
    improves (all of them are accuracies): what mode='auto' of a callback reads."""
    return isinstance(fn, TopK) or fn in _FUNCTIONS.values()


def _takes_sample_weight(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    return "sample_weight" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def batch_counts(metric_functions, weighted_functions, y, scores, from_logits,
                 sample_weight=None) -> dict[str, float]:
    """Each metric's sum over one batch: ``metric_functions`` unweighted, the weighted
    ones with ``sample_weight`` (all ones when None), plus the batch's weight sum under
    :data:`WEIGHTS` when there are weighted metrics."""
    counts = {name: fn(y, scores, from_logits) for name, fn in metric_functions}
    if weighted_functions:
        for name, fn in weighted_functions:
            counts[name] = fn(y, scores, from_logits, sample_weight=sample_weight)
        counts[WEIGHTS] = (float(len(scores)) if sample_weight is None
                           else float(np.sum(sample_weight, dtype=np.float64)))
    return counts


def averages(counts, seen: int, weighted_names) -> dict[str, float]:
    """Each metric's mean from the sums of :func:`batch_counts` added over batches: over
    the ``seen`` samples, or, for the weighted ones, over the sum of the weights (0 when
    every weight was 0, as Keras's ``divide_no_nan``)."""
    weights = counts.get(WEIGHTS, 0.0)
    out = {}
    for name, count in counts.items():
        if name == WEIGHTS:
            continue
        if name in weighted_names:
            out[name] = count / weights if weights else 0.0
        else:
            out[name] = count / max(seen, 1)
    return out


__all__ = ["WEIGHTS", "TopK", "averages", "batch_counts", "binary_accuracy",
           "categorical_accuracy", "goes_up", "resolve", "sparse_categorical_accuracy"]
