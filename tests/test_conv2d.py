"""Conv2D: gradients by finite differences, forward by the definition, dtypes, errors."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scratchnet.gradcheck import check_layer
from scratchnet.layers.conv2d import INFERENCE_CHUNK_BYTES, Conv2D, conv_output_size
from scratchnet.layers.pooling import MaxPool2D

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
    N, H, Wd, C = x.shape
    kh, kw, _, F = W.shape
    Ho, pt = conv_output_size(H, kh, strides[0], padding)
    Wo, pl = conv_output_size(Wd, kw, strides[1], padding)
    y = np.zeros((N, Ho, Wo, F))
    for n, i, j, f in np.ndindex(N, Ho, Wo, F):
        acc = b[f]
        for a, q, c in np.ndindex(kh, kw, C):
            r, s = i * strides[0] - pt + a, j * strides[1] - pl + q
            if 0 <= r < H and 0 <= s < Wd:
                acc += x[n, r, s, c] * W[a, q, c, f]
        y[n, i, j, f] = acc
    return y


@settings(deadline=None)
@given(cfg=configs(), seed=st.integers(0, 2**16))
def test_gradients_match_finite_differences(cfg, seed):
    shape, kwargs = cfg
    layer = Conv2D(**kwargs)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    layer.build(shape[1:], np.float64, rng)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)  # not just zeros
    if kwargs["activation"] == "relu":
        # Keep pre-activations off the kink, where finite differences straddle two slopes.
        assume(np.min(np.abs(layer(x, apply_activation=False))) > 1e-3)
    errors = check_layer(layer, x, seed=seed)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) <= BOUND, errors


@settings(max_examples=20, deadline=None)
@given(cfg=configs(), seed=st.integers(0, 2**16))
def test_first_layer_skips_dx_but_gets_dw_db_right(cfg, seed):
    """With ReLU this is the fused small-K backward (kernels.small_k); without, the GEMM."""
    shape, kwargs = cfg
    layer = Conv2D(**kwargs)
    layer.need_input_grad = False
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    layer.build(shape[1:], np.float64, rng)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    if kwargs["activation"] == "relu":
        assume(np.min(np.abs(layer(x, apply_activation=False))) > 1e-3)  # off the kink
    errors = check_layer(layer, x, seed=seed)
    assert set(errors) == {"W", "b"}  # check_layer leaves out 'x' when backprop gives None
    assert max(errors.values()) <= BOUND, errors
    assert layer.backprop(np.ones((shape[0], *layer.output_shape))) is None


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


def test_buffers_are_reused_until_the_batch_size_changes():
    layer = Conv2D(3, 3)
    rng = np.random.default_rng(0)
    x1, x2, x3 = (rng.standard_normal((n, 6, 6, 2)).astype(np.float32) for n in (4, 4, 3))
    layer(x1)
    cols = layer._cols
    y2 = layer(x2)
    assert layer._cols is cols  # same batch size: no new im2col matrix
    y3 = layer(x3)
    assert layer._cols is not cols and layer._cols.shape[0] == 3 * 4 * 4
    # Results stay correct across the reallocation, both ways.
    W, b = layer.params["W"].astype(np.float64), layer.params["b"].astype(np.float64)
    np.testing.assert_allclose(y3, naive_conv(x3.astype(np.float64), W, b, (1, 1), "valid"),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer(x2), y2)


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 9, 8, 1), (64, 28, 28, 1), (3, 6, 6, 3)])
def test_first_layer_fused_backward_equals_the_general_one(dtype, shape):
    """The small-K path (no dz stored) gives the dW, db the general GEMM path gives."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(8)
    grads = []
    for first in (True, False):
        layer = Conv2D(8, 3, padding="same", activation="relu")
        layer.build(shape[1:], dtype, np.random.default_rng(0))
        layer.params["b"][...] = b
        layer.need_input_grad = not first
        y = layer(x, training=True)
        dy = np.random.default_rng(2).standard_normal(y.shape).astype(dtype)
        layer.backprop(dy)
        assert (getattr(layer, "_dz", None) is None) == first  # the fused path stores no dz
        grads.append({k: g.copy() for k, g in layer.grads.items()})
    for k in ("W", "b"):
        assert grads[0][k].dtype == dtype
        tol = 1e-4 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(grads[0][k], grads[1][k], rtol=tol,
                                   atol=tol * np.abs(grads[1][k]).max())


@pytest.mark.parametrize("samples_per_chunk", [1, 3])
def test_backward_in_chunks_equals_one_pass(monkeypatch, samples_per_chunk):
    """dx from dcols + col2im a few samples at a time, ragged last chunk included."""
    import scratchnet.layers.conv2d as conv_module

    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 6, 5, 3))
    layer = Conv2D(4, (3, 2), strides=(1, 2), padding="same", activation="relu")
    layer.build(x.shape[1:], np.float64, rng)
    y = layer(x, training=True)
    dy = rng.standard_normal(y.shape)
    whole = layer.backprop(dy)  # the default chunk holds all 7 samples
    per_sample = layer._Ho * layer._Wo * layer._K * 8
    monkeypatch.setattr(conv_module, "BACKWARD_CHUNK_BYTES", samples_per_chunk * per_sample)
    chunked = layer.backprop(dy)
    assert layer._dcols.shape[0] == samples_per_chunk * layer._Ho * layer._Wo
    np.testing.assert_allclose(chunked, whole, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inference_chunk_keeps_the_im2col_matrix_within_its_budget(dtype):
    conv = Conv2D(64, 3)
    conv.build((13, 13, 32), dtype)  # the seed CNN's second conv
    per_sample = 11 * 11 * 3 * 3 * 32 * np.dtype(dtype).itemsize
    assert conv.inference_chunk == INFERENCE_CHUNK_BYTES // per_sample  # 30 in float32
    assert conv.inference_chunk * per_sample <= INFERENCE_CHUNK_BYTES
    conv.crop_output((10, 10, 64))  # what its pool reads: a smaller matrix per sample
    assert conv.inference_chunk == INFERENCE_CHUNK_BYTES // (per_sample * 100 // 121)
    huge = Conv2D(8, 1)
    huge.build((2048, 2048, 1), dtype)  # one sample is over budget: still one at a time
    assert huge.inference_chunk == 1


@settings(deadline=None, max_examples=15)
@given(cfg=configs(), seed=st.integers(0, 2**16), data=st.data())
def test_a_cropped_output_is_the_top_left_of_the_whole_one(cfg, seed, data):
    shape, kwargs = cfg
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    layer = Conv2D(**kwargs)
    layer.build(shape[1:], np.float64, rng)
    layer.params["b"][:] = rng.standard_normal(layer.filters)
    Ho, Wo, F = layer.output_shape
    h, w = data.draw(st.integers(1, Ho)), data.draw(st.integers(1, Wo))
    y = layer(x, training=True)
    dy = np.zeros(y.shape)
    dy[:, :h, :w] = rng.standard_normal((shape[0], h, w, F))  # what a crop's reader sends
    dx = layer.backward(dy)
    dW = layer.grads["W"].copy()
    layer.crop_output((h, w, F))
    y_c = layer(x, training=True)
    assert y_c.shape == (shape[0], h, w, F)
    np.testing.assert_allclose(y_c, y[:, :h, :w], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(np.ascontiguousarray(dy[:, :h, :w])), dx,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], dW, rtol=1e-12, atol=1e-12)
    layer.crop_output(None)
    assert layer(x).shape == y.shape


@pytest.mark.parametrize("crop", [(12, 5, 4), (5, 0, 4), (5, 5, 3)])
def test_an_impossible_crop_is_refused(crop):
    layer = Conv2D(4, 3)
    layer.build((13, 7, 2))  # output (11, 5, 4)
    with pytest.raises(ValueError, match=r"cannot crop an output of shape \(11, 5, 4\) to"):
        layer.crop_output(crop)


@settings(deadline=None, max_examples=40)
@given(cfg=configs(), pool=st.integers(1, 3), pool_stride=st.integers(1, 3),
       pool_padding=st.sampled_from(["valid", "same"]),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_pooled_is_the_pool_of_the_conv_bit_for_bit(cfg, pool, pool_stride, pool_padding, dtype,
                                                    seed):
    shape, kwargs = cfg
    rng = np.random.default_rng(seed)
    conv = Conv2D(**{**kwargs, "activation": "relu"})
    conv.build(shape[1:], dtype, rng)
    Ho, Wo, _ = conv.output_shape
    assume(pool_padding == "same" or pool <= min(Ho, Wo))
    conv.params["b"][:] = rng.standard_normal(conv.filters)  # some negative: ReLU zeroes
    layer = MaxPool2D(pool, strides=pool_stride, padding=pool_padding)
    layer.build(conv.output_shape, dtype)
    assert conv.pools_first(layer)
    x = rng.standard_normal(shape).astype(dtype)
    y = conv.pooled(x, layer)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(y, layer(conv(x)))  # bias and ReLU commute with the max
    conv.pooled(x, layer)
    with pytest.raises(RuntimeError, match="backward needs a forward pass with training=True"):
        conv.backprop(np.zeros((shape[0], *conv.computed_shape), dtype))


@pytest.mark.parametrize("activation", [None, "tanh", "sigmoid"])
def test_only_a_relu_conv_pools_first(activation):
    conv, pool = Conv2D(2, 3, activation=activation), MaxPool2D()
    conv.build((6, 6, 1))
    assert not conv.pools_first(pool)
    assert Conv2D(2, 3, activation="relu").pools_first(pool)
    assert not Conv2D(2, 3, activation="relu").pools_first(Conv2D(2, 3))
