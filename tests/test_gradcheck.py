"""The gradient checker itself: it must be able to fail, and never divide 0 by 0."""

import numpy as np
import pytest

from scratchnet.gradcheck import check_layer, fd_rounding, numerical_gradient, rel_error
from scratchnet.layers import Dense


def test_rel_error_guards_zero_over_zero():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([-1.0])) == pytest.approx(1.0)


def test_a_floor_forgives_only_what_rounding_can_make_up():
    a, b = np.array([3e-5, -1e-5]), np.array([3e-5 + 7e-11, -1e-5])
    assert rel_error(a, b) > 1e-6  # a tiny gradient against its central difference
    floor = fd_rounding(1.8)  # a loss whose terms' magnitudes sum to 1.8
    assert 3e-10 < floor < 5e-10
    assert rel_error(a, b, floor) == 0.0
    wrong = np.array([3e-5 * 1.01, -1e-5])  # a real error, 1%, is far above the floor
    assert rel_error(a, wrong, floor) == pytest.approx(3e-7 / 6.03e-5, rel=0.01)


def test_a_central_difference_of_a_badly_scaled_loss_is_within_its_floor():
    """A loss of 1e6 plus a small term: its difference's error is rounding, and the floor
    from the terms' magnitudes covers it."""
    x = np.array([0.3, -0.2])

    def loss():
        return float(1e6 + np.sum(1e-3 * np.sin(x)))

    num = numerical_gradient(loss, x)
    exact = 1e-3 * np.cos(x)
    assert rel_error(exact, num) > 1e-6
    assert rel_error(exact, num, fd_rounding(1e6 + 1e-3)) < 1e-6


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
