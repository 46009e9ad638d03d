"""Fused softmax cross-entropy: gradient, stability, its numba kernel and label checks.

The loss takes logits with from_logits=True (what a model ending in softmax hands it);
with from_logits=False it takes probabilities, as Keras's (tests/test_losses.py)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.gradcheck import check_loss
from scratchnet.kernels.softmax_ce import (
    softmax_cross_entropy,
    softmax_cross_entropy_reference,
)
from scratchnet.losses import SparseCategoricalCrossentropy


@given(n=st.integers(1, 6), c=st.integers(2, 8), scale=st.floats(0.1, 20),
       seed=st.integers(0, 2**16))
def test_loss_gradient(n, c, scale, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, c)) * scale
    labels = rng.integers(0, c, n)
    assert check_loss(SparseCategoricalCrossentropy(from_logits=True), logits, labels) <= 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(n=st.integers(1, 40), c=st.integers(1, 50), scale=st.floats(0.01, 1e3),
       seed=st.integers(0, 2**16), extra=st.sampled_from([0, 0, 1, 57]))
def test_kernel_matches_reference(dtype, n, c, scale, seed, extra):
    # extra > 0: the rows are one shard of a batch of n + extra (the gradient's 1/B).
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((n, c)) * scale).astype(dtype)
    labels = rng.integers(0, c, n)
    g1, g2 = np.empty_like(logits), np.empty_like(logits)
    l1 = softmax_cross_entropy(logits, labels, g1, n + extra)
    l2 = softmax_cross_entropy_reference(logits, labels, g2, n + extra)
    assert l1.dtype == l2.dtype == g1.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(l1, l2, rtol=tol, atol=tol * max(1.0, scale))
    np.testing.assert_allclose(g1, g2, rtol=tol, atol=tol)


def test_loss_value_against_definition():
    logits = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    labels = np.array([2, 1])
    loss, grad = SparseCategoricalCrossentropy(from_logits=True)(logits, labels)
    p0 = np.exp(logits[0]) / np.exp(logits[0]).sum()
    assert loss == pytest.approx((-np.log(p0[2]) + 1000.0) / 2)  # huge logits stay finite
    np.testing.assert_allclose(grad[0], (p0 - [0, 0, 1]) / 2)


def test_labels_out_of_range_are_rejected():
    loss = SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        loss(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"labels must be in"):
        loss(np.zeros((2, 3)), np.array([-1, 0]))
    with pytest.raises(TypeError, match="integers"):
        loss(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        loss(np.zeros((2, 3)), np.array([0, 1, 2]))
