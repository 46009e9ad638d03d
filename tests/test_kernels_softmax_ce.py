"""The fused softmax cross-entropy kernel equals the textbook definition,
loss = logsumexp(z) - z[label] and grad = (softmax(z) - onehot) / B, to a stated
tolerance (the loss's own checks are in test_loss)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.kernels.softmax_ce import (
    softmax_cross_entropy,
    softmax_cross_entropy_reference,
)

DTYPES = [np.float32, np.float64]
# The kernel sums exp over a row in its own order and keeps log1p's digits where the
# textbook form rounds 1 + r: a few ulp of the row's largest term (the loss scales
# with the logits, the gradient is below 1 / B).
TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
@given(n=st.integers(1, 40), c=st.integers(1, 50), scale=st.floats(0.01, 1e3),
       seed=st.integers(0, 2**16), extra=st.sampled_from([0, 0, 1, 57]))
def test_kernel_equals_the_definition(dtype, n, c, scale, seed, extra):
    # extra > 0: the rows are one shard of a batch of n + extra (the gradient's 1/B).
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((n, c)) * scale).astype(dtype)
    labels = rng.integers(0, c, n)
    grad, grad_ref = np.full_like(logits, np.nan), np.full_like(logits, np.nan)
    losses = softmax_cross_entropy(logits, labels, grad, n + extra)
    losses_ref = softmax_cross_entropy_reference(logits, labels, grad_ref, n + extra)
    assert losses.dtype == losses_ref.dtype == grad.dtype == dtype
    tol = TOL[dtype]
    np.testing.assert_allclose(losses, losses_ref, rtol=tol, atol=tol * max(1.0, scale))
    np.testing.assert_allclose(grad, grad_ref, rtol=tol, atol=tol)


def test_reference_is_the_textbook_formula():
    logits = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    labels = np.array([2, 0])
    grad = np.empty_like(logits)
    losses = softmax_cross_entropy_reference(logits, labels, grad, 4)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(losses, -np.log(p[[0, 1], labels]))
    np.testing.assert_allclose(grad, (p - np.eye(3)[labels]) / 4)
