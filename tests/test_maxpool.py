"""MaxPool2D: gradients by finite differences, forward by the definition, dtypes, errors."""

import numpy as np
import pytest
from helpers import ENGINES, fast_runner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scratchnet.gradcheck import check_layer
from scratchnet.layers.geometry import conv_output_size
from scratchnet.layers.pooling import MaxPool2D

# Hypothesis example counts come from the conftest profile: 25 by default, more with
# HYPOTHESIS_PROFILE=thorough.
BOUND = 1e-6


@st.composite
def configs(draw):
    """Input shape and pooling: overlapping (stride < pool) and gapped strides, valid/same."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6)),
             draw(st.integers(1, 3)))
    pool = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = draw(st.sampled_from(["valid", "same"]))
    if padding == "valid":
        assume(pool[0] <= shape[1] and pool[1] <= shape[2])
    return shape, dict(pool_size=pool, strides=strides, padding=padding)


def untied(shape, rng):
    """A random permutation of values 0.1 apart: no two cells within 2*eps of each other."""
    return 0.1 * rng.permutation(int(np.prod(shape))).reshape(shape) - 1.0


def naive_maxpool(x, pool, strides, padding):
    """The definition: the max over each window's in-bounds cells."""
    N, H, W, C = x.shape
    Ho, pt = conv_output_size(H, pool[0], strides[0], padding)
    Wo, pl = conv_output_size(W, pool[1], strides[1], padding)
    y = np.empty((N, Ho, Wo, C), dtype=x.dtype)
    for i, j in np.ndindex(Ho, Wo):
        r, s = i * strides[0] - pt, j * strides[1] - pl
        y[:, i, j] = x[:, max(r, 0):r + pool[0], max(s, 0):s + pool[1]].max(axis=(1, 2))
    return y


@pytest.mark.parametrize("engine", ENGINES)
@settings(deadline=None)
@given(cfg=configs(), seed=st.integers(0, 2**16))
def test_gradients_match_finite_differences(engine, cfg, seed):
    shape, kwargs = cfg
    x = untied(shape, np.random.default_rng(seed))
    errors = check_layer(MaxPool2D(**kwargs), x, seed=seed, engine=engine)
    assert set(errors) == {"x"}
    assert errors["x"] <= BOUND, errors


@settings(deadline=None)
@given(cfg=configs(), seed=st.integers(0, 2**16))
def test_forward_matches_the_definition(cfg, seed):
    shape, kwargs = cfg
    layer = MaxPool2D(**kwargs)
    x = np.random.default_rng(seed).standard_normal(shape)
    y = layer(x)
    np.testing.assert_array_equal(y, naive_maxpool(x, layer.pool_size, layer.strides,
                                                   layer.padding))
    runner = fast_runner(layer)
    np.testing.assert_array_equal(runner.forward(x, False), y)  # no argmax kept
    np.testing.assert_array_equal(runner.forward(x, True), y)


def test_backward_routes_each_gradient_to_exactly_one_input():
    x = untied((2, 4, 4, 3), np.random.default_rng(0))
    layer = MaxPool2D()
    y = layer(x, training=True)
    dx = layer.backprop(np.ones_like(y))
    # Non-overlapping 2x2 windows: a 1 exactly where x equals its window's max, 0 elsewhere.
    window_max = np.repeat(np.repeat(y, 2, axis=1), 2, axis=2)
    np.testing.assert_array_equal(dx, (x == window_max).astype(x.dtype))
    assert dx.sum() == y.size


def test_overlapping_windows_accumulate_on_a_shared_maximum():
    x = np.zeros((1, 3, 3, 1))
    x[0, 1, 1, 0] = 5.0  # the centre wins all four 2x2 windows at stride 1
    layer = MaxPool2D(2, strides=1)
    y = layer(x, training=True)
    np.testing.assert_array_equal(y[0, :, :, 0], np.full((2, 2), 5.0))
    dx = layer.backprop(np.arange(1.0, 5.0).reshape(1, 2, 2, 1))
    assert dx[0, 1, 1, 0] == 10.0 and dx.sum() == 10.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_everywhere(dtype):
    layer = MaxPool2D(3, strides=2, padding="same")
    x = np.random.default_rng(0).standard_normal((3, 7, 6, 2)).astype(dtype)
    y = layer(x, training=True)
    dx = layer.backprop(np.ones_like(y))
    assert y.dtype == dx.dtype == dtype
    assert y.shape == (3, 4, 3, 2) and dx.shape == x.shape


def test_keras_shapes_and_default_strides():
    assert MaxPool2D().build((26, 26, 32)) == (13, 13, 32)
    assert MaxPool2D().build((11, 11, 64)) == (5, 5, 64)  # valid drops the odd row/column
    assert MaxPool2D(padding="same").build((11, 11, 64)) == (6, 6, 64)
    assert MaxPool2D((3, 2)).strides == (3, 2)
    assert MaxPool2D(3, strides=1).build((5, 6, 1)) == (3, 4, 1)
    assert MaxPool2D().count_params() == 0


def test_first_layer_returns_none_on_the_fast_engine():
    layer = MaxPool2D()
    layer.build((4, 4, 1), np.float64)
    runner = fast_runner(layer, first=True)
    y = runner.forward(np.ones((1, 4, 4, 1)), True)
    assert runner.backward(y) is None


@pytest.mark.parametrize("kwargs, message", [
    (dict(pool_size=0), "pool_size"),
    (dict(pool_size=(2, -1)), "pool_size"),
    (dict(pool_size=1.5), "pool_size"),
    (dict(strides=0), "strides"),
    (dict(strides=(1, 2, 3)), "strides"),
    (dict(padding="causal"), "padding"),
])
def test_bad_hyperparameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=f"badpool: {message}"):
        MaxPool2D(**kwargs, name="badpool")


@pytest.mark.parametrize("shape, message", [
    ((28, 28), r"expected samples of shape \(H, W, C\)"),
    ((1, 28, 28, 1), r"expected samples of shape \(H, W, C\)"),
    ((0, 4, 1), r"expected samples of shape \(H, W, C\)"),
    ((1, 4, 1), r"pool_size \(2, 2\) is larger than the input's \(H, W\) = \(1, 4\)"),
])
def test_bad_input_shapes_are_named(shape, message):
    with pytest.raises(ValueError, match=f"badpool: {message}"):
        MaxPool2D(name="badpool").build(shape)


def test_same_padding_allows_a_pool_larger_than_the_input():
    layer = MaxPool2D(3, padding="same")
    assert layer.build((1, 2, 1), np.float64) == (1, 1, 1)
    y = layer(np.array([[[[1.0], [4.0]]]]))
    assert y.item() == 4.0


def test_wrong_batch_shape_or_dtype_at_call_time():
    layer = MaxPool2D(name="p")
    layer(np.zeros((2, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match="p: expected input of shape"):
        layer(np.zeros((2, 4, 5, 1), np.float32))
    with pytest.raises(TypeError, match="p: expected float32 input"):
        layer(np.zeros((2, 4, 4, 1), np.float64))


def test_backward_needs_a_forward_and_a_matching_gradient():
    """The scatter kernel trusts its indices, so a mismatched dy must never reach it."""
    layer = MaxPool2D(name="p")
    layer.build((4, 4, 1), np.float64)
    runner = fast_runner(layer)
    for forward, backward in [(layer, layer.backprop), (runner.forward, runner.backward)]:
        with pytest.raises(RuntimeError, match="p: backward called before any forward"):
            backward(np.zeros((2, 2, 2, 1)))
        forward(np.zeros((2, 4, 4, 1)), True)
        with pytest.raises(ValueError,
                           match=r"p: expected an upstream gradient of shape \(2, 2, 2, 1"):
            backward(np.zeros((3, 2, 2, 1)))
        with pytest.raises(TypeError, match="p: expected a float64 upstream gradient"):
            backward(np.zeros((2, 2, 2, 1), np.float32))  # never silently cast
    runner.forward(np.zeros((2, 4, 4, 1)), False)  # fast inference records no argmax
    with pytest.raises(RuntimeError, match="p: backward needs a forward pass with training=True"):
        runner.backward(np.zeros((2, 2, 2, 1)))


@settings(deadline=None)
@given(cfg=configs(), seed=st.integers(0, 2**16))
def test_input_window_is_what_the_windows_read_and_is_enough(cfg, seed):
    shape, kwargs = cfg
    pool = MaxPool2D(**kwargs)
    pool.build(shape[1:], np.float64)
    layer = fast_runner(pool)
    x = untied(shape, np.random.default_rng(seed))
    y = layer.forward(x, True)
    dy = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dx = layer.backward(dy)
    window = layer.input_window()
    # Rows and columns the windows touch, by brute force.
    (ph, pw), (sh, sw) = pool.pool_size, pool.strides
    _, pt = conv_output_size(shape[1], ph, sh, pool.padding)
    _, pl = conv_output_size(shape[2], pw, sw, pool.padding)
    h = min(shape[1], (y.shape[1] - 1) * sh - pt + ph)
    w = min(shape[2], (y.shape[2] - 1) * sw - pl + pw)
    if pool.padding == "valid" and (h, w) != shape[1:3]:
        assert window == (h, w, shape[3])
    else:
        assert window is None
        return
    # Given only the window, the pool computes the same output and the same gradient.
    y_w = layer.forward(np.ascontiguousarray(x[:, :h, :w]), True)
    np.testing.assert_array_equal(y_w, y)
    dx_w = layer.backward(dy)
    assert dx_w.shape == (shape[0], h, w, shape[3])
    np.testing.assert_array_equal(dx_w, dx[:, :h, :w])
    assert not dx[:, h:].any() and not dx[:, :, w:].any()  # nothing outside was read


def test_a_valid_pool_on_an_odd_map_reads_one_row_and_column_less():
    layer = MaxPool2D()
    layer.build((11, 11, 64))
    assert fast_runner(layer).input_window() == (10, 10, 64)
    layer.build((10, 10, 64))
    assert fast_runner(layer).input_window() is None
    with pytest.raises(ValueError, match=r"expected input of shape \(None, 10, 10, 64\)"):
        layer(np.zeros((1, 9, 9, 64), np.float32))
