"""Softmax cross-entropy over integer class labels, in its textbook form."""

import numpy as np


def softmax_cross_entropy_forward(logits, labels):
    """Mean over the batch of -log softmax(z_n)[y_n] = logsumexp(z_n) - z_n[y_n].

    Shifting each row by its maximum leaves the loss unchanged and keeps exp finite.

    Parameters
    ----------
    logits : ndarray, shape (N, C)
    labels : ndarray of int, shape (N,), values in [0, C)

    Returns
    -------
    loss : float
    cache : dict with ``probs`` (N, C) and ``labels``
    """
    labels = np.asarray(labels)
    N, C = logits.shape
    if N == 0:
        raise ValueError("the loss is a mean over the batch: pass at least one sample")
    if labels.shape != (N,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {N} integer class indices (shape ({N},)), got "
                         f"{labels.dtype} of shape {labels.shape}")
    if (labels.min() < 0 or labels.max() >= C):
        raise ValueError(f"labels must lie in [0, {C}) for {C} classes, got values in "
                         f"[{labels.min()}, {labels.max()}]")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), labels].mean()
    return float(loss), {"probs": np.exp(log_probs), "labels": labels}


def softmax_cross_entropy_backward(dloss, cache):
    """dlogits = dloss * (softmax(z) - onehot(y)) / N.

    Parameters
    ----------
    dloss : float
        dL/dloss; 1.0 in training.

    Returns
    -------
    dlogits : ndarray, shape (N, C), dtype of the logits
    """
    probs, labels = cache["probs"], cache["labels"]
    N, C = probs.shape
    onehot = np.eye(C, dtype=probs.dtype)[labels]
    # dloss is cast so that float32 logits get float32 gradients.
    return (probs - onehot) / N * probs.dtype.type(dloss)
