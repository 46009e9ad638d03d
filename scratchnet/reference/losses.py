"""Softmax cross-entropy over integer class labels, in its textbook form."""

import numpy as np


def softmax_cross_entropy_forward(logits, labels, sample_weight=None):
    """Mean over the batch of -log softmax(z_n)[y_n] = logsumexp(z_n) - z_n[y_n].

    Shifting each row by its maximum leaves the loss unchanged and keeps exp finite.

    Parameters
    ----------
    logits : ndarray, shape (N, C)
    labels : ndarray of int, shape (N,), values in [0, C)
    sample_weight : ndarray, shape (N,), optional
        Keras's weighting: L = sum_n w_n loss_n / N (see ``weighted_batch_mean``).

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
    loss = weighted_batch_mean(-log_probs[np.arange(N), labels], sample_weight)
    return loss, {"probs": np.exp(log_probs), "labels": labels, "weights": sample_weight}


def softmax_cross_entropy_backward(dloss, cache):
    """dlogits = dloss * w_n (softmax(z) - onehot(y)) / N (w_n = 1 without weights).

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
    return _per_sample((probs - onehot) / N * probs.dtype.type(dloss), cache)


# -- the losses of keras.losses, each on what the model hands it ---------------------------------
# Losses with from_logits=False take probabilities, as in Keras: they renormalise each row
# (categorical) and clip to [EPSILON, 1 - EPSILON] before the log, so a probability of 0
# costs -log(1e-7) instead of inf. A model ending in the matching softmax/sigmoid never
# calls these in training: it hands the logits to the *_from_logits forms (stable, and
# their gradient is the textbook one). The mean runs over the batch (and, for binary
# crossentropy, mse and mae, over the last axis first), as Keras's default reduction.
#
# Every forward takes optional per-sample weights w (N,), as Keras's ``sample_weight``
# (and ``class_weight``, turned into per-sample weights): each sample's loss is
# multiplied by its weight, and the sum is divided by the batch size N, not by sum(w)
# (Keras's "sum_over_batch_size" reduction). The backward then scales row n by w_n.
EPSILON = 1e-7


def weighted_batch_mean(per_sample, sample_weight=None):
    """sum_n w_n l_n / N over the batch of per-sample losses l (N,); w_n = 1 without
    weights, which is the plain mean. Its gradient with respect to l_n is w_n / N."""
    if per_sample.shape[0] == 0:
        raise ValueError("the loss is a mean over the batch: pass at least one sample")
    if sample_weight is None:
        return float(per_sample.mean())
    return float((per_sample * sample_weight).sum() / per_sample.shape[0])


def _per_sample(grad, cache):
    """The unweighted gradient (N, ...) with row n scaled by w_n, as the weighted mean's
    dL/dl_n = w_n / N says (the 1 / N is already in ``grad``)."""
    w = cache.get("weights")
    if w is None:
        return grad
    return grad * w.reshape(-1, *[1] * (grad.ndim - 1)).astype(grad.dtype, copy=False)


def smooth_labels(targets, label_smoothing):
    """Keras's categorical smoothing: t (1 - s) + s / C."""
    return targets * (1 - label_smoothing) + label_smoothing / targets.shape[-1]


def categorical_crossentropy_forward(probs, targets, sample_weight=None):
    """-sum_c t_c log(clip(p_c / sum_c p_c)), averaged over the batch.

    Parameters
    ----------
    probs : ndarray, shape (N, C), probabilities (each row is renormalised)
    targets : ndarray, shape (N, C), e.g. one-hot rows (smoothed by the caller)
    """
    total = probs.sum(axis=-1, keepdims=True)
    q = probs / total                                  # q = p / S
    q_clipped = np.clip(q, EPSILON, 1 - EPSILON)
    loss = weighted_batch_mean(-(targets * np.log(q_clipped)).sum(axis=-1), sample_weight)
    return loss, {"probs": probs, "targets": targets, "total": total, "q": q,
                  "weights": sample_weight}


def categorical_crossentropy_backward(dloss, cache):
    """dL/dp through the clip and the renormalisation.

    In the forward pass L = -sum_j t_j log(clip(q_j)) / N with q = p / S; so
    g_j = dL/dq_j = -t_j / (N q_j) where q_j is inside the clip (0 where it was clipped),
    and since dq_j/dp_i = delta_ij / S - p_j / S^2:  dL/dp_i = (g_i - sum_j g_j q_j) / S.
    """
    q, t, total = cache["q"], cache["targets"], cache["total"]
    N = q.shape[0]
    inside = (q > EPSILON) & (q < 1 - EPSILON)
    g = np.where(inside, -t / (N * np.where(inside, q, 1.0)), 0.0)
    dp = (g - (g * q).sum(axis=-1, keepdims=True)) / total
    return _per_sample((dp * dloss).astype(q.dtype, copy=False), cache)


def softmax_categorical_crossentropy_forward(logits, targets, sample_weight=None):
    """-sum_c t_c log softmax(z)_c, averaged over the batch (from_logits=True)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    loss = weighted_batch_mean(-(targets * log_probs).sum(axis=-1), sample_weight)
    return loss, {"probs": np.exp(log_probs), "targets": targets, "weights": sample_weight}


def softmax_categorical_crossentropy_backward(dloss, cache):
    """dL/dz = (softmax(z) sum_c t_c - t) / N: softmax - t for targets that sum to 1."""
    p, t = cache["probs"], cache["targets"]
    dz = (p * t.sum(axis=-1, keepdims=True) - t) / p.shape[0]
    return _per_sample((dz * dloss).astype(p.dtype, copy=False), cache)


def binary_crossentropy_forward(probs, targets, sample_weight=None):
    """-mean_c [t log(clip p) + (1 - t) log(1 - clip p)], averaged over the batch."""
    p = np.clip(probs, EPSILON, 1 - EPSILON)
    per_value = -(targets * np.log(p) + (1 - targets) * np.log(1 - p))
    return (weighted_batch_mean(per_value.mean(axis=-1), sample_weight),
            {"probs": probs, "targets": targets, "weights": sample_weight})


def binary_crossentropy_backward(dloss, cache):
    """In the forward pass each value added -(t log p + (1 - t) log(1 - p)) / (N C); so
    dL/dp = (p - t) / (p (1 - p) N C), and 0 where p was clipped."""
    p, t = cache["probs"], cache["targets"]
    n_values = p.size
    inside = (p > EPSILON) & (p < 1 - EPSILON)
    safe = np.where(inside, p, 0.5)
    dp = np.where(inside, (safe - t) / (safe * (1 - safe) * n_values), 0.0)
    return _per_sample((dp * dloss).astype(p.dtype, copy=False), cache)


def sigmoid_binary_crossentropy_forward(logits, targets, sample_weight=None):
    """The same loss on logits z, stably: max(z, 0) - z t + log(1 + exp(-|z|))."""
    per_value = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    return (weighted_batch_mean(per_value.mean(axis=-1), sample_weight),
            {"logits": logits, "targets": targets, "weights": sample_weight})


def sigmoid_binary_crossentropy_backward(dloss, cache):
    """dL/dz = (sigmoid(z) - t) / (N C)."""
    z, t = cache["logits"], cache["targets"]
    dz = (1 / (1 + np.exp(-z)) - t) / z.size
    return _per_sample((dz * dloss).astype(z.dtype, copy=False), cache)


def mse_forward(y_pred, targets, sample_weight=None):
    """mean over the batch of mean_c (y - t)^2."""
    diff = y_pred - targets
    per_sample = (diff**2).reshape(len(diff), -1).mean(axis=-1)
    return weighted_batch_mean(per_sample, sample_weight), {"diff": diff,
                                                            "weights": sample_weight}


def mse_backward(dloss, cache):
    """dL/dy = 2 (y - t) / (N C)."""
    diff = cache["diff"]
    return _per_sample((2 * diff / diff.size * dloss).astype(diff.dtype, copy=False), cache)


def mae_forward(y_pred, targets, sample_weight=None):
    """mean over the batch of mean_c |y - t|."""
    diff = y_pred - targets
    per_sample = np.abs(diff).reshape(len(diff), -1).mean(axis=-1)
    return weighted_batch_mean(per_sample, sample_weight), {"diff": diff,
                                                            "weights": sample_weight}


def mae_backward(dloss, cache):
    """dL/dy = sign(y - t) / (N C) (0 where y = t, as the subgradient Keras's backends use)."""
    diff = cache["diff"]
    return _per_sample((np.sign(diff) / diff.size * dloss).astype(diff.dtype, copy=False),
                       cache)
