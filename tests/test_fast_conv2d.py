"""The fast engine's Conv2D: first-layer shortcuts, buffers, chunks, crops and pooled().

Each is checked against the layer's reference pair (the maths) or against the runner's
own plain path, so that the speed machinery never changes what is computed.
"""

import numpy as np
import pytest
from helpers import fast_runner
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_conv2d import BOUND, configs, naive_conv

import scratchnet.fast.conv2d as fast_conv
from scratchnet.gradcheck import check_layer
from scratchnet.layers.conv2d import Conv2D
from scratchnet.layers.pooling import MaxPool2D


@settings(max_examples=20, deadline=None)
@given(cfg=configs(), seed=st.integers(0, 2**16))
def test_first_layer_skips_dx_but_gets_dw_db_right(cfg, seed):
    """With ReLU this is the fused small-K backward (kernels.small_k); without, the GEMM."""
    shape, kwargs = cfg
    layer = Conv2D(**kwargs)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    layer.build(shape[1:], np.float64, rng)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    if kwargs["activation"] == "relu":
        assume(np.min(np.abs(layer.forward(x, False))) > 1e-3)  # off the kink
    errors = check_layer(layer, x, seed=seed, engine="fast", need_input_grad=False)
    assert set(errors) == {"W", "b"}  # check_layer leaves out 'x' when backward gives None
    assert max(errors.values()) <= BOUND, errors


def test_buffers_are_reused_until_the_batch_size_changes():
    layer = Conv2D(3, 3)
    layer.build((6, 6, 2), np.float32)
    runner = fast_runner(layer)
    rng = np.random.default_rng(0)
    x1, x2, x3 = (rng.standard_normal((n, 6, 6, 2)).astype(np.float32) for n in (4, 4, 3))
    runner.forward(x1, False)
    cols = runner.cols
    y2 = runner.forward(x2, False).copy()
    assert runner.cols is cols  # same batch size: no new im2col matrix
    y3 = runner.forward(x3, False)
    assert runner.cols is not cols and runner.cols.shape[0] == 3 * 4 * 4
    # Results stay correct across the reallocation, both ways.
    W, b = layer.params["W"].astype(np.float64), layer.params["b"].astype(np.float64)
    np.testing.assert_allclose(y3, naive_conv(x3.astype(np.float64), W, b, (1, 1), "valid"),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(runner.forward(x2, False), y2)


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
        runner = fast_runner(layer, first=first)
        y = runner.forward(x, True)
        dy = np.random.default_rng(2).standard_normal(y.shape).astype(dtype)
        runner.backward(dy)
        assert (runner.tail._dz is None) == first  # the fused path stores no dz
        grads.append({k: g.copy() for k, g in layer.grads.items()})
    for k in ("W", "b"):
        assert grads[0][k].dtype == dtype
        tol = 1e-4 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(grads[0][k], grads[1][k], rtol=tol,
                                   atol=tol * np.abs(grads[1][k]).max())


@pytest.mark.parametrize("samples_per_chunk", [1, 3])
def test_backward_in_chunks_equals_one_pass(monkeypatch, samples_per_chunk):
    """dx from dcols + col2im a few samples at a time, ragged last chunk included."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 6, 5, 3))
    layer = Conv2D(4, (3, 2), strides=(1, 2), padding="same", activation="relu")
    layer.build(x.shape[1:], np.float64, rng)
    runner = fast_runner(layer)
    y = runner.forward(x, True)
    dy = rng.standard_normal(y.shape)
    whole = runner.backward(dy)  # the default chunk holds all 7 samples
    per_sample = runner.Ho * runner.Wo * runner.K * 8
    monkeypatch.setattr(fast_conv, "BACKWARD_CHUNK_BYTES", samples_per_chunk * per_sample)
    chunked = runner.backward(dy)
    assert runner.dcols.shape[0] == samples_per_chunk * runner.Ho * runner.Wo
    np.testing.assert_allclose(chunked, whole, rtol=1e-13, atol=1e-13)
    layer(x, training=True)  # and the reference pair agrees
    np.testing.assert_allclose(layer.backprop(dy), whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inference_chunk_keeps_the_im2col_matrix_within_its_budget(dtype):
    conv = Conv2D(64, 3, strides=(1, 2))  # not 3 x 3 stride 1: im2col, not Winograd
    conv.build((13, 23, 32), dtype)
    runner = fast_runner(conv)
    assert runner.winograd is None
    budget = fast_conv.INFERENCE_CHUNK_BYTES
    per_sample = 11 * 11 * 3 * 3 * 32 * np.dtype(dtype).itemsize
    assert runner.inference_chunk == budget // per_sample  # 30 in float32
    assert runner.inference_chunk * per_sample <= budget
    runner.crop_output((10, 10, 64))  # what its pool reads: a smaller matrix per sample
    assert runner.inference_chunk == budget // (per_sample * 100 // 121)
    huge = Conv2D(8, 1)
    huge.build((2048, 2048, 1), dtype)  # one sample is over budget: still one at a time
    assert fast_runner(huge).inference_chunk == 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inference_chunk_keeps_winograds_planes_within_their_budget(dtype):
    conv = Conv2D(64, 3)
    conv.build((13, 13, 32), dtype)  # the seed CNN's second conv
    runner = fast_runner(conv)
    runner.crop_output((10, 10, 64))  # what its pool reads: 5 x 5 tiles
    per_sample = 16 * 25 * (32 + 64) * np.dtype(dtype).itemsize  # V and M
    assert runner.inference_chunk == fast_conv.WINOGRAD_CHUNK_BYTES // per_sample  # 18 in f32


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
    y = layer(x, training=True)  # the reference pair, whole
    dy = np.zeros(y.shape)
    dy[:, :h, :w] = rng.standard_normal((shape[0], h, w, F))  # what a crop's reader sends
    dx = layer.backprop(dy)
    dW = layer.grads["W"].copy()
    runner = fast_runner(layer)
    runner.crop_output((h, w, F))
    y_c = runner.forward(x, True)
    assert y_c.shape == (shape[0], h, w, F) == (shape[0], *runner.computed_shape)
    np.testing.assert_allclose(y_c, y[:, :h, :w], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(runner.backward(np.ascontiguousarray(dy[:, :h, :w])), dx,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], dW, rtol=1e-12, atol=1e-12)
    runner.crop_output(None)
    assert runner.forward(x, False).shape == y.shape


@pytest.mark.parametrize("crop", [(12, 5, 4), (5, 0, 4), (5, 5, 3)])
def test_an_impossible_crop_is_refused(crop):
    layer = Conv2D(4, 3)
    layer.build((13, 7, 2))  # output (11, 5, 4)
    with pytest.raises(ValueError, match=r"cannot crop an output of shape \(11, 5, 4\) to"):
        fast_runner(layer).crop_output(crop)


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
    fconv, fpool = fast_runner(conv), fast_runner(layer)
    assert fconv.pools_first(fpool)
    x = rng.standard_normal(shape).astype(dtype)
    y = fconv.pooled(x, fpool)
    assert y.dtype == np.dtype(dtype)
    if not fconv._pools_in_one_pass(fpool):  # its own sums: tests/test_kernels_conv_pool.py
        np.testing.assert_array_equal(y, fpool.forward(fconv.forward(x, False), False))
    np.testing.assert_allclose(y, layer(conv(x)), rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-5 if dtype == "float32" else 1e-12)
    fconv.pooled(x, fpool)
    with pytest.raises(RuntimeError, match="backward needs a forward pass with training=True"):
        fconv.backward(np.zeros((shape[0], *fconv.computed_shape), dtype))


@pytest.mark.parametrize("activation", [None, "tanh", "sigmoid"])
def test_only_a_relu_conv_pools_first(activation):
    def runner(layer, shape):
        layer.build(shape)
        return fast_runner(layer)

    pool = runner(MaxPool2D(), (4, 4, 2))
    assert not runner(Conv2D(2, 3, activation=activation), (6, 6, 1)).pools_first(pool)
    assert runner(Conv2D(2, 3, activation="relu"), (6, 6, 1)).pools_first(pool)
    assert not runner(Conv2D(2, 3, activation="relu"), (6, 6, 1)).pools_first(
        runner(Conv2D(2, 3), (4, 4, 2)))
