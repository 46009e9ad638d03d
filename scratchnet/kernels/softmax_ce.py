"""Fused softmax + cross-entropy over integer labels, with its gradient.

For logits z (N, C) and labels y (N,), with m = max_j z_nj:

    loss_n = log(sum_j exp(z_nj - m)) - (z_n[y_n] - m)
    dL/dz  = (softmax(z) - onehot(y)) / B       (L = sum_n loss_n / B)

B is the batch size: N itself, or more when the N rows are one shard of a batch of B
(``scratchnet.parallel``), so the shards' gradients add up to the batch's.

Fusing them avoids ever forming log(softmax), which underflows, and the separate
softmax Jacobian, which cancels analytically. The sum is 1 + r, where r sums the
non-maximal terms, and log1p(r) keeps the digits of a confident prediction's tiny
loss that log(1 + r) would round away; for the same reason the gradient at a label
that is also the maximum is written -r / (1 + r) rather than 1 / (1 + r) - 1.

NaN and inf behave as in the plain definition: a row holding a NaN, or whose max is +inf
(or all -inf), gives NaN loss and gradients; a label at -inf among finite logits gives
an infinite loss.
"""

import numpy as np
from numba import njit


def softmax_cross_entropy_reference(logits, labels, grad, batch):
    """Plain NumPy: per-sample losses (N,), and ``grad`` (N, C) <- (softmax - onehot) / batch.

    The textbook definition, shifted by each row's max so that exp never overflows.
    """
    rows = np.arange(logits.shape[0])
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    total = e.sum(axis=1, keepdims=True)
    onehot = np.zeros_like(logits)
    onehot[rows, labels] = 1
    grad[...] = (e / total - onehot) / batch
    losses = np.log(total[:, 0]) - (logits[rows, labels] - m[:, 0])  # -log softmax[label]
    return losses.astype(logits.dtype, copy=False)


@njit(cache=True, nogil=True)
def softmax_cross_entropy(logits, labels, grad, batch):
    """numba kernel, one pass per row; ``batch`` >= N is the B of the gradient's 1/B.

    Serial on purpose: a batch's logits are (N, classes), e.g. 128 x 47, which one core
    handles in microseconds, less than waking the thread pool would cost.
    """
    n, c = logits.shape
    losses = np.empty(n, dtype=logits.dtype)
    one = logits.dtype.type(1.0)
    inv_n = one / batch
    for i in range(n):
        top = 0
        for j in range(1, c):
            if logits[i, j] > logits[i, top]:
                top = j
        m = logits[i, top]
        if m - m != 0:  # +-inf or NaN: the shift by m makes the whole row NaN, as in NumPy
            for j in range(c):
                grad[i, j] = np.nan
            losses[i] = np.nan
            continue
        rest = logits.dtype.type(0.0)
        for j in range(c):
            e = np.exp(logits[i, j] - m) if j != top else one
            grad[i, j] = e
            if j != top:
                rest += e
        scale = inv_n / (one + rest)
        for j in range(c):
            grad[i, j] *= scale
        if labels[i] == top:
            grad[i, top] = -rest * scale
        else:
            grad[i, labels[i]] -= inv_n
        losses[i] = np.log1p(rest) - (logits[i, labels[i]] - m)
    return losses
