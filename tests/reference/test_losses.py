"""Softmax cross-entropy: stability on extreme logits, and the textbook gradient."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet import reference as R

from .checks import seeds


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_stay_finite(dtype):
    logits = np.array([[0.0, 1e4, -1e4], [1e4, 0.0, 0.0], [-1e4, -1e4, 0.0]], dtype=dtype)
    labels = np.array([0, 0, 2])
    loss, cache = R.softmax_cross_entropy_forward(logits, labels)
    # Row 0 puts all mass on class 1 (loss 1e4); rows 1 and 2 are certain and right.
    assert loss == pytest.approx(1e4 / 3, rel=1e-6)
    dlogits = R.softmax_cross_entropy_backward(1.0, cache)
    assert np.all(np.isfinite(dlogits))
    np.testing.assert_allclose(dlogits, np.array([[-1, 1, 0], [0, 0, 0], [0, 0, 0]]) / 3,
                               atol=1e-7)


@given(seed=seeds, N=st.integers(1, 5), C=st.integers(1, 6), dloss=st.floats(-3, 3))
def test_backward_is_softmax_minus_onehot_over_n(seed, N, C, dloss):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((N, C)) * 2
    labels = rng.integers(0, C, N)
    loss, cache = R.softmax_cross_entropy_forward(logits, labels)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # no overflow here
    onehot = np.zeros((N, C))
    onehot[np.arange(N), labels] = 1
    assert isinstance(loss, float)
    assert loss == pytest.approx(-np.mean(np.log(softmax[np.arange(N), labels])), rel=1e-12)
    np.testing.assert_allclose(R.softmax_cross_entropy_backward(dloss, cache),
                               dloss * (softmax - onehot) / N, rtol=1e-12, atol=1e-15)


def test_bad_labels_raise_naming_the_fix():
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        R.softmax_cross_entropy_forward(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match="integer class indices"):
        R.softmax_cross_entropy_forward(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="integer class indices"):
        R.softmax_cross_entropy_forward(logits, np.array([[0], [1]]))
