"""The gradient checker itself: it must be able to fail, and never divide 0 by 0."""

import numpy as np
import pytest

from scratchnet.gradcheck import check_layer, numerical_gradient, rel_error
from scratchnet.layers import Dense


def test_rel_error_guards_zero_over_zero():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([-1.0])) == pytest.approx(1.0)


def test_numerical_gradient_of_known_function():
    x = np.array([1.0, -2.0, 3.0])
    g = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # restored exactly


def test_numerical_gradient_rejects_float32():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.zeros(2, np.float32))


class WrongDense(Dense):
    """A Dense whose weight gradient is off by a factor: the checker must notice."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["W"] *= 1.01
        return dx


def test_checker_catches_a_wrong_backward():
    x = np.random.default_rng(0).standard_normal((4, 3))
    errors = check_layer(WrongDense(2), x)
    assert errors["W"] > 1e-3
    assert errors["x"] < 1e-8 and errors["b"] < 1e-8
