"""Dropout with a given mask, and the per-sample reshape."""

import numpy as np
import pytest

from scratchnet import reference as R


def test_dropout_scales_the_kept_cells():
    x = np.arange(1.0, 7.0).reshape(2, 3)
    keep = np.array([[True, False, True], [False, True, True]])
    y, cache = R.dropout_forward(x, keep, 0.5)
    np.testing.assert_array_equal(y, [[2, 0, 6], [0, 10, 12]])
    np.testing.assert_array_equal(R.dropout_backward(np.ones_like(x), cache), keep * 2.0)


def test_dropout_rate_zero_is_the_identity():
    x = np.arange(6.0).reshape(2, 3)
    y, cache = R.dropout_forward(x, np.zeros((2, 3), dtype=bool), 0.0)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(R.dropout_backward(np.ones_like(x), cache), 1.0)


def test_dropout_float32_scale_is_rounded_once():
    # y = x * (keep * scale) with scale already in float32: no float64 detour.
    x = np.full((4,), 3.0, dtype=np.float32)
    y, _ = R.dropout_forward(x, np.ones(4, dtype=bool), 0.3)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, x * np.float32(1 / 0.7))


def test_dropout_bad_arguments_raise():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        R.dropout_forward(x, np.ones((2, 3), dtype=bool), 1.0)
    with pytest.raises(ValueError, match="boolean mask of x's shape"):
        R.dropout_forward(x, np.ones((3, 2), dtype=bool), 0.5)
    with pytest.raises(ValueError, match="boolean mask of x's shape"):
        R.dropout_forward(x, np.ones((2, 3)), 0.5)


def test_reshape_keeps_the_batch_axis_and_row_major_order():
    x = np.arange(2 * 3 * 4.0).reshape(2, 3, 4)
    y, cache = R.reshape_forward(x, (4, -1))
    assert y.shape == (2, 4, 3)
    np.testing.assert_array_equal(y[1].reshape(-1), x[1].reshape(-1))
    assert R.reshape_backward(y, cache).shape == x.shape
    y, cache = R.flatten_forward(x)
    assert y.shape == (2, 12)
    np.testing.assert_array_equal(R.flatten_backward(y, cache), x)
