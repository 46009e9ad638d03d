"""Activations: NaN propagation, extreme inputs, and values against their definitions."""

import numpy as np

from scratchnet import reference as R


def test_relu_propagates_nan_with_zero_gradient():
    x = np.array([np.nan, -1.0, 0.0, 2.0])
    y, cache = R.relu_forward(x)
    np.testing.assert_array_equal(y, [np.nan, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(R.relu_backward(np.ones(4), cache), [0, 0, 0, 1])


def test_sigmoid_is_stable_at_the_extremes():
    # With RuntimeWarnings as errors (pyproject), an overflowing exp would fail here.
    x = np.array([-1e4, -40.0, 0.0, 40.0, 1e4, np.nan])
    y, cache = R.sigmoid_forward(x)
    np.testing.assert_allclose(y[:5], [0.0, np.exp(-40.0), 0.5, 1.0, 1.0], rtol=1e-15)
    assert np.isnan(y[5])
    x = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(R.sigmoid_forward(x)[0], 1 / (1 + np.exp(-x)), rtol=1e-14)


def test_tanh_and_its_derivative():
    x = np.linspace(-3, 3, 13)
    y, cache = R.tanh_forward(x)
    np.testing.assert_array_equal(y, np.tanh(x))
    np.testing.assert_allclose(R.tanh_backward(np.ones_like(x), cache), 1 / np.cosh(x) ** 2,
                               rtol=1e-13)


def test_softmax_is_shift_invariant_and_finite():
    x = np.array([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0]])
    y, _ = R.softmax_forward(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(y[1], np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum(),
                               rtol=1e-15)
    np.testing.assert_array_equal(R.softmax_forward(x[1:] + 100)[0], y[1:])
