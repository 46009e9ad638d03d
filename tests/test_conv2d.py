"""Conv2D: gradients by finite differences on both engines, forward by the definition,
dtypes, errors. The fast engine's own machinery (crop, pooled, buffers, chunks) is
tested in test_fast_conv2d.py."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scratchnet.gradcheck import check_layer
from scratchnet.layers.conv2d import Conv2D
from scratchnet.reference import conv2d_forward_naive

# Hypothesis example counts come from the conftest profile: 25 by default, more with
# HYPOTHESIS_PROFILE=thorough; the slower checks below cap theirs lower.
BOUND = 1e-6


@st.composite
def configs(draw):
    """A small Conv2D and input shape: kernel, strides, padding and channels all drawn."""
    # Small: every element of x and W costs two forward passes in the gradient check.
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5)),
             draw(st.integers(1, 3)))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same"]))
    if padding == "valid":
        assume(k[0] <= shape[1] and k[1] <= shape[2])
    kwargs = dict(filters=draw(st.integers(1, 2)), kernel_size=k, strides=s, padding=padding,
                  activation=draw(st.sampled_from([None, "relu"])))
    return shape, kwargs


def naive_conv(x, W, b, strides, padding):
    """The definition of a Keras 'cross-correlation' convolution, one output at a time."""
    return conv2d_forward_naive(x, W, b, strides, padding)[0]


@pytest.mark.parametrize("engine", ["reference", "fast"])
@settings(deadline=None)
@given(cfg=configs(), seed=st.integers(0, 2**16))
def test_gradients_match_finite_differences(engine, cfg, seed):
    shape, kwargs = cfg
    layer = Conv2D(**kwargs)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    layer.build(shape[1:], np.float64, rng)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)  # not just zeros
    if kwargs["activation"] == "relu":
        # Keep pre-activations off the kink, where finite differences straddle two slopes.
        assume(np.min(np.abs(layer.forward(x, False))) > 1e-3)
    errors = check_layer(layer, x, seed=seed, engine=engine)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) <= BOUND, errors


@settings(max_examples=15, deadline=None)
@given(cfg=configs(), seed=st.integers(0, 2**16))
def test_forward_matches_the_definition(cfg, seed):
    shape, kwargs = cfg
    kwargs["activation"] = None
    layer = Conv2D(**kwargs)
    rng = np.random.default_rng(seed)
    layer.build(shape[1:], np.float64, rng)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    x = rng.standard_normal(shape)
    expected = naive_conv(x, layer.params["W"], layer.params["b"], layer.strides, layer.padding)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)


def test_same_padding_puts_the_odd_cell_bottom_right():
    """2x2 input, 2x2 kernel, 'same': pad 0 before and 1 after, as TensorFlow does."""
    layer = Conv2D(1, 2, padding="same")
    layer.build((2, 2, 1), np.float64)
    layer.params["W"][...] = np.array([[1.0, 10.0], [100.0, 1000.0]]).reshape(2, 2, 1, 1)
    x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    y = layer(x)[0, :, :, 0]
    np.testing.assert_array_equal(y, [[1 + 20 + 300 + 4000, 2 + 400], [3 + 40, 4]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_everywhere(dtype):
    layer = Conv2D(4, 3, strides=2, padding="same", activation="relu")
    x = np.random.default_rng(0).standard_normal((3, 7, 6, 2)).astype(dtype)
    y = layer(x, training=True)
    dx = layer.backprop(np.ones_like(y))
    assert y.dtype == dx.dtype == dtype
    assert all(p.dtype == dtype for p in layer.params.values())
    assert all(g.dtype == dtype for g in layer.grads.values())
    assert y.shape == (3, 4, 3, 4) and dx.shape == x.shape


def test_float32_agrees_with_float64():
    x = np.random.default_rng(1).standard_normal((2, 8, 8, 3))
    l64, l32 = Conv2D(5, 3, padding="same"), Conv2D(5, 3, padding="same")
    l64.build(x.shape[1:], np.float64, np.random.default_rng(2))
    l32.build(x.shape[1:], np.float32, np.random.default_rng(2))
    y64, y32 = l64(x), l32(x.astype(np.float32))
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-5)
    g = np.random.default_rng(3).standard_normal(y64.shape)
    np.testing.assert_allclose(l32.backprop(g.astype(np.float32)), l64.backprop(g),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(l32.grads["W"], l64.grads["W"], rtol=1e-4, atol=1e-4)


def test_keras_shapes_initialisation_and_parameter_count():
    conv1, conv2 = Conv2D(32, 3, activation="relu"), Conv2D(64, 3, activation="relu")
    assert conv1.build((28, 28, 1), np.float32, np.random.default_rng(0)) == (26, 26, 32)
    assert conv2.build((13, 13, 32), np.float32, np.random.default_rng(0)) == (11, 11, 64)
    assert conv1.count_params() == 320 and conv2.count_params() == 18_496  # as Keras counts
    limit = np.sqrt(6 / (3 * 3 * 32 + 3 * 3 * 64))  # Glorot with receptive-field fans
    W = conv2.params["W"]
    assert W.shape == (3, 3, 32, 64) and np.abs(W).max() <= limit and np.abs(W).max() > 0.9 * limit
    assert not conv2.params["b"].any()
    assert Conv2D(2, (3, 1), strides=(2, 3), padding="same").build((7, 8, 1)) == (4, 3, 2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(filters=0, kernel_size=3), "filters"),
    (dict(filters=-2, kernel_size=3), "filters"),
    (dict(filters=2.5, kernel_size=3), "filters"),
    (dict(filters=4, kernel_size=0), "kernel_size"),
    (dict(filters=4, kernel_size=(3, -1)), "kernel_size"),
    (dict(filters=4, kernel_size=(3, 3, 3)), "kernel_size"),
    (dict(filters=4, kernel_size=3, strides=0), "strides"),
    (dict(filters=4, kernel_size=3, padding="full"), "padding"),
    (dict(filters=4, kernel_size=3, padding=None), "padding"),
])
def test_bad_hyperparameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=f"badconv: {message}"):
        Conv2D(**kwargs, name="badconv")


@pytest.mark.parametrize("shape, message", [
    ((28, 28), r"expected samples of shape \(H, W, C\)"),
    ((4, 28, 28, 1), r"expected samples of shape \(H, W, C\)"),
    ((28, 0, 1), r"expected samples of shape \(H, W, C\)"),
    ((2, 28, 1), r"kernel_size \(3, 3\) is larger than the input's \(H, W\) = \(2, 28\)"),
    ((28, 2, 1), r"kernel_size \(3, 3\) is larger"),
])
def test_bad_input_shapes_are_named(shape, message):
    with pytest.raises(ValueError, match=f"badconv: {message}"):
        Conv2D(4, 3, name="badconv").build(shape)


def test_same_padding_allows_a_kernel_larger_than_the_input():
    assert Conv2D(4, 5, padding="same").build((2, 3, 1)) == (2, 3, 4)


def test_wrong_batch_shape_or_dtype_at_call_time():
    layer = Conv2D(4, 3, name="c")
    layer(np.zeros((2, 5, 5, 1), np.float32))
    with pytest.raises(ValueError, match="c: expected input of shape"):
        layer(np.zeros((2, 5, 5, 2), np.float32))
    with pytest.raises(TypeError, match="c: expected float32 input"):
        layer(np.zeros((2, 5, 5, 1), np.float64))


def test_backward_needs_a_forward_and_a_matching_gradient():
    layer = Conv2D(4, 3, name="c")
    layer.build((5, 5, 1), np.float64)
    with pytest.raises(RuntimeError, match="c: backward called before any forward"):
        layer.backprop(np.zeros((2, 3, 3, 4)))
    layer(np.zeros((2, 5, 5, 1)))
    with pytest.raises(ValueError, match=r"c: expected an upstream gradient of shape \(2, 3, 3, 4"):
        layer.backprop(np.zeros((2, 3, 3, 5)))
    with pytest.raises(TypeError, match="c: expected a float64 upstream gradient"):
        layer.backprop(np.zeros((2, 3, 3, 4), np.float32))  # never silently cast
