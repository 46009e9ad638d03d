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
"""

import numpy as np
from numba import njit


def softmax_cross_entropy_reference(logits, labels, grad, batch):
    """NumPy reference. Writes ``grad`` (N, C), scaled by 1/``batch``, in place; returns
    per-sample losses (N,)."""
    rows = np.arange(logits.shape[0])
    top = logits.argmax(axis=1)
    shifted = logits - logits[rows, top][:, None]  # <= 0, so exp never overflows
    exp = np.exp(shifted)
    exp[rows, top] = 0
    rest = exp.sum(axis=1)
    exp[rows, top] = 1
    losses = np.log1p(rest) - shifted[rows, labels]
    np.divide(exp, (1 + rest)[:, None] * batch, out=grad)
    grad[rows, labels] -= logits.dtype.type(1.0 / batch)
    hit = labels == top
    grad[rows[hit], top[hit]] = -rest[hit] / ((1 + rest[hit]) * batch)
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
