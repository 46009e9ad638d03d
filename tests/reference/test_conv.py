"""Convolution: im2col against the naive loops, im2col/col2im adjointness, Keras geometry."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet import reference as R
from scratchnet.gradcheck import rel_error
from scratchnet.reference.geometry import conv_output_size

from .checks import image_geometry, seeds


@given(seed=seeds, geometry=image_geometry(max_k=4), F=st.integers(1, 3),
       stride=st.sampled_from([(1, 1), (2, 2), (2, 1), (1, 3)]), bias=st.booleans())
def test_im2col_conv_equals_naive(seed, geometry, F, stride, bias):
    x_shape, (kh, kw), _, padding = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    W = rng.standard_normal((kh, kw, x_shape[3], F))
    b = rng.standard_normal(F) if bias else None
    y, cache = R.conv2d_forward(x, W, b, stride, padding)
    y_naive, cache_naive = R.conv2d_forward_naive(x, W, b, stride, padding)
    assert y.shape == y_naive.shape
    assert rel_error(y, y_naive) < 1e-12
    dy = rng.standard_normal(y.shape)
    grads = R.conv2d_backward(dy, cache)
    grads_naive = R.conv2d_backward_naive(dy, cache_naive)
    for name, g, g_naive in zip(["dx", "dW", "db"], grads, grads_naive, strict=True):
        if not bias and name == "db":
            assert g is None and g_naive is None
            continue
        assert g.shape == g_naive.shape, name
        assert rel_error(g, g_naive) < 1e-12, name


@given(seed=seeds, geometry=image_geometry(max_k=4))
def test_col2im_is_the_adjoint_of_im2col(seed, geometry):
    x_shape, (kh, kw), (sh, sw), padding = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    cols, (Ho, Wo) = R.im2col(x, kh, kw, sh, sw, padding)
    assert cols.shape == (x_shape[0] * Ho * Wo, kh * kw * x_shape[3])
    c = rng.standard_normal(cols.shape)
    dx = R.col2im(c, x_shape, kh, kw, sh, sw, padding)
    assert dx.shape == x_shape
    lhs, rhs = np.sum(cols * c), np.sum(x * dx)
    assert abs(lhs - rhs) <= 1e-12 * (np.sum(np.abs(cols * c)) + 1e-300)


def test_im2col_layout():
    # Rows (n, i, j), columns (r, s, c): row 0 is the top-left window, read row by row,
    # channels innermost.
    x = np.arange(2 * 3 * 3 * 2, dtype=np.float64).reshape(2, 3, 3, 2)
    cols, (Ho, Wo) = R.im2col(x, 2, 2, 1, 1, "valid")
    assert (Ho, Wo) == (2, 2)
    np.testing.assert_array_equal(cols[0], x[0, 0:2, 0:2, :].reshape(-1))
    np.testing.assert_array_equal(cols[1], x[0, 0:2, 1:3, :].reshape(-1))
    np.testing.assert_array_equal(cols[4], x[1, 0:2, 0:2, :].reshape(-1))


def test_same_padding_puts_the_odd_cell_after():
    # 1x4 input, k=2, stride 1, 'same': total padding 1, all of it after (right).
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 4, 1)
    W = np.ones((1, 2, 1, 1))
    y, _ = R.conv2d_forward(x, W, None, 1, "same")
    np.testing.assert_array_equal(y.reshape(-1), [3.0, 5.0, 7.0, 4.0])


@pytest.mark.parametrize("size, k, stride, padding, expected", [
    (28, 3, 1, "valid", (26, 0)),
    (7, 3, 2, "valid", (3, 0)),
    (6, 2, 2, "valid", (3, 0)),
    (5, 3, 2, "same", (3, 1)),   # total pad 2
    (6, 3, 2, "same", (3, 0)),   # total pad 1: the odd cell after
    (5, 4, 1, "same", (5, 1)),   # total pad 3
    (6, 1, 4, "same", (2, 0)),   # k < stride: no padding needed
])
def test_conv_output_size(size, k, stride, padding, expected):
    assert conv_output_size(size, k, stride, padding) == expected


def test_bad_geometry_raises_naming_the_problem():
    with pytest.raises(ValueError, match="padding must be one of"):
        conv_output_size(5, 3, 1, "full")
    with pytest.raises(ValueError, match="padding='same'"):
        conv_output_size(2, 3, 1, "valid")
    with pytest.raises(ValueError, match="same C"):
        R.conv2d_forward(np.zeros((1, 4, 4, 2)), np.zeros((3, 3, 1, 1)), None)
