"""Loss functions. Each returns the mean loss and its gradient with respect to the logits."""

from __future__ import annotations

import numpy as np

from scratchnet.kernels.softmax_ce import softmax_cross_entropy
from scratchnet.reference import softmax_cross_entropy_backward, softmax_cross_entropy_forward


def check_labels(labels, num_classes: int, n: int) -> np.ndarray:
    """Integer class labels of shape (n,) in [0, num_classes), as a contiguous int64 array."""
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integers (class indices), got {labels.dtype}")
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}) for {num_classes} classes, "
            f"got values in [{labels.min()}, {labels.max()}]"
        )
    return np.ascontiguousarray(labels, dtype=np.int64)


class SparseCategoricalCrossentropy:
    """Cross-entropy of integer labels, fused with the softmax that precedes it.

    The model hands this loss the logits ``z`` (N, C): with a final softmax layer it
    stops just before it in training, and with ``from_logits=True`` the model has no
    softmax at all. Either way

        L = mean_n [logsumexp(z_n) - z_n[y_n]],    dL/dz = (softmax(z) - onehot(y)) / N.

    Parameters
    ----------
    from_logits : bool
        False (Keras's default) means the model ends in a softmax, which the model
        fuses away in training; True means the model outputs logits.
    """

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    def __call__(self, logits: np.ndarray, labels: np.ndarray, batch_size: int | None = None):
        """Return ``(mean loss as float, dL/dlogits (n, C) in the logits' dtype)``.

        ``batch_size`` (default n) is the N of the mean. When the n rows are one shard of
        a larger batch (``scratchnet.parallel``), the shards' losses and gradients then
        add up to the whole batch's.
        """
        if logits.ndim != 2:
            raise ValueError(f"{self.name}: expected logits of shape (N, C), got {logits.shape}")
        n = logits.shape[0]
        batch_size = n if batch_size is None else int(batch_size)
        if batch_size < max(n, 1):
            raise ValueError(f"{self.name}: batch_size must be at least the {n} rows of "
                             f"logits (and >= 1), got {batch_size}")
        labels = check_labels(labels, logits.shape[1], n)
        logits = np.ascontiguousarray(logits)
        grad = np.empty_like(logits)
        losses = softmax_cross_entropy(logits, labels, grad, batch_size)
        return float(losses.sum(dtype=np.float64) / batch_size), grad


    def reference(self, logits: np.ndarray, labels: np.ndarray):
        """The same ``(mean loss, dL/dlogits)`` by the textbook pair of
        ``scratchnet.reference.losses``: ``(softmax - onehot) / N``."""
        if logits.ndim != 2:
            raise ValueError(f"{self.name}: expected logits of shape (N, C), got {logits.shape}")
        labels = check_labels(labels, logits.shape[1], logits.shape[0])
        loss, cache = softmax_cross_entropy_forward(logits, labels)
        return loss, softmax_cross_entropy_backward(1.0, cache)


def get_loss(spec) -> SparseCategoricalCrossentropy:
    if isinstance(spec, SparseCategoricalCrossentropy):
        return spec
    if spec in ("sparse_categorical_crossentropy", "crossentropy"):
        return SparseCategoricalCrossentropy()
    raise ValueError(f"unknown loss {spec!r}; use 'sparse_categorical_crossentropy'")
