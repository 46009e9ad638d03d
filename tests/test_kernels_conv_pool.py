"""The fused 3 x 3 convolution + 2 x 2 max-pool kernels: equal to their NumPy references
(the inference one to float rounding: it sums in its own order; the training forward to
the bit, its reference sums in the same order), their twins bit for bit; and, on the fast
engine, what a first layer and its pool compute at inference and in training."""

import numpy as np
import pytest
from helpers import fast_runner
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet.kernels import conv_pool
from scratchnet.layers.conv2d import Conv2D
from scratchnet.layers.pooling import MaxPool2D

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}  # of the largest output
KERNELS = [conv_pool.conv3x3_maxpool_parallel, conv_pool.conv3x3_maxpool_serial,
           conv_pool.conv3x3_maxpool]
shapes = dict(n=st.integers(1, 3), hp=st.integers(1, 4), wp=st.integers(1, 4),
              extra=st.tuples(st.integers(0, 2), st.integers(0, 2)), c=st.integers(1, 5),
              f=st.integers(1, 9), seed=st.integers(0, 2**16))


@settings(deadline=None)
@given(**shapes)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_variant_equals_the_reference(dtype, n, hp, wp, extra, c, f, seed):
    """Odd input sizes too: the pool reads only the windows that fit."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2 * hp + 2 + extra[0], 2 * wp + 2 + extra[1], c)).astype(dtype)
    W = rng.standard_normal((3, 3, c, f)).astype(dtype)
    want = conv_pool.conv3x3_maxpool_reference(x, W, np.empty((n, hp, wp, f), dtype))
    got = [k(x, W, np.full((n, hp, wp, f), np.nan, dtype)) for k in KERNELS]
    np.testing.assert_allclose(got[0], want, rtol=0,
                               atol=TOL[dtype] * max(1.0, np.abs(want).max()))
    np.testing.assert_array_equal(got[1], got[0])  # the twins: the same bits
    np.testing.assert_array_equal(got[2], got[0])


def _seed_first_layer(dtype, channels):
    """The seed CNN's first conv (on ``channels``) and pool, built, with their fast
    runners as a model's first layers, and 5 input samples."""
    rng = np.random.default_rng(channels)
    conv = Conv2D(32, 3, activation="relu")
    conv.build((28, 28, channels), dtype, rng)
    conv.params["b"][:] = rng.standard_normal(32)  # some negative: ReLU zeroes
    pool = MaxPool2D(2)
    pool.build(conv.output_shape, dtype)
    fconv, fpool = fast_runner(conv, first=True), fast_runner(pool)
    fconv.crop_output(fpool.input_window())
    x = rng.standard_normal((5, 28, 28, channels)).astype(dtype)
    return rng, conv, pool, fconv, fpool, x


def _training_inputs(dtype, n, hp, wp, extra, f, seed):
    """One channel, as the training kernels take it: x (N, H, W), W (9, F)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2 * hp + 2 + extra[0], 2 * wp + 2 + extra[1])).astype(dtype)
    W = rng.standard_normal((9, f)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)  # some windows all below 0: no gradient
    x[0, :4, :4] = 0  # a window of equal sums: ties go to the first
    return rng, x, W, b


training_shapes = {k: v for k, v in shapes.items() if k != "c"}


@settings(deadline=None)
@given(**training_shapes)
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_training_forward_equals_its_reference_to_the_bit(dtype, n, hp, wp, extra, f,
                                                              seed):
    _, x, W, b = _training_inputs(dtype, n, hp, wp, extra, f, seed)
    out, arg = np.empty((n, hp, wp, f), dtype), np.empty((n, hp, wp, f), np.uint8)
    conv_pool.conv3x3_relu_maxpool_reference(x, W, b, out, arg)
    got, got_arg = np.full_like(out, np.nan), np.full_like(arg, 255)
    assert conv_pool.conv3x3_relu_maxpool(x, W, b, got, got_arg) is got
    np.testing.assert_array_equal(got, out)
    np.testing.assert_array_equal(got_arg, arg)
    assert (arg[0, 0, 0] == np.where(b > 0, 0, 4)).all()  # the tied window
    # the pooled values are the inference kernel's, with the bias and ReLU after the max
    pooled = conv_pool.conv3x3_maxpool_serial(x[..., None], W.reshape(3, 3, 1, f),
                                              np.empty_like(out))
    np.testing.assert_array_equal(np.maximum(pooled + b, 0), out)


@settings(deadline=None)
@given(**training_shapes)
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_weight_gradients_equal_their_reference(dtype, n, hp, wp, extra, f, seed):
    rng, x, W, b = _training_inputs(dtype, n, hp, wp, extra, f, seed)
    out, arg = np.empty((n, hp, wp, f), dtype), np.empty((n, hp, wp, f), np.uint8)
    conv_pool.conv3x3_relu_maxpool(x, W, b, out, arg)
    dy = rng.standard_normal(out.shape).astype(dtype)
    dW, db = np.empty_like(W), np.empty_like(b)
    conv_pool.conv3x3_maxpool_grads_reference(x, arg, dy, dW, db)
    gW, gb = np.full_like(W, np.nan), np.full_like(b, np.nan)
    assert conv_pool.conv3x3_maxpool_grads(x, arg, dy, gW, gb) is gW
    scale = max(1.0, np.abs(dy).sum())
    np.testing.assert_allclose(gW, dW, rtol=0, atol=TOL[dtype] * scale)
    np.testing.assert_allclose(gb, db, rtol=0, atol=TOL[dtype] * scale)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_first_conv_and_its_pool_in_training(dtype):
    """The seed CNN's first layer and pool: pooled_training gives the reference pair's
    pool(conv), and pooled_backward their dW and db for any gradient."""
    rng, conv, pool, fconv, fpool, x = _seed_first_layer(dtype, channels=1)
    assert fconv.trains_pooled(fpool)
    tol = 1e-5 if dtype == "float32" else 1e-12
    want = pool(conv(x, training=True), training=True)
    y = fconv.pooled_training(x, fpool)
    np.testing.assert_allclose(y, want, rtol=tol, atol=tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    conv.backprop(pool.backprop(dy))
    want = {key: g.copy() for key, g in conv.grads.items()}  # the runner writes conv.grads
    for g in conv.grads.values():
        g[...] = np.nan
    assert fconv.pooled_backward(dy) is None  # a first layer: no input gradient
    for key in ("W", "b"):
        np.testing.assert_allclose(conv.grads[key], want[key], rtol=tol,
                                   atol=tol * np.abs(want[key]).max())
    with pytest.raises(ValueError, match="upstream gradient of shape"):
        fconv.pooled_backward(dy[:, :-1])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_backward_follows_only_its_own_forward(dtype):
    """After the one pass, the plain backward has no caches of it (and would read a
    stale im2col); after a plain forward, pooled_backward has no winners to follow."""
    _, _, _, fconv, fpool, x = _seed_first_layer(dtype, channels=1)
    z = fconv.forward(x, True)  # the plain pass first: its caches exist
    y = fconv.pooled_training(x, fpool)
    with pytest.raises(RuntimeError, match="before any forward pass"):
        fconv.backward(np.ones_like(z))
    fconv.forward(x, True)
    with pytest.raises(RuntimeError, match="before any forward pass"):
        fconv.pooled_backward(np.ones_like(y))


@pytest.mark.parametrize("kwargs, first, channels, uses", [
    (dict(activation="relu"), True, 1, True),
    (dict(activation="relu"), False, 1, False),  # an input gradient to give: im2col's
    (dict(activation="relu"), True, 3, False),  # the training kernels take one channel
    (dict(activation="tanh"), True, 1, False),
    (dict(), True, 1, False),
])
def test_training_pools_in_one_pass_only_for_a_first_relu_layer(kwargs, first, channels,
                                                                 uses):
    conv = Conv2D(4, 3, **kwargs)
    conv.build((12, 12, channels))
    pool = MaxPool2D(2)
    pool.build(conv.output_shape)
    fconv, fpool = fast_runner(conv, first=first), fast_runner(pool)
    fconv.crop_output(fpool.input_window())
    assert fconv.trains_pooled(fpool) is uses


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("channels", [1, 3])
def test_a_first_conv_and_its_pool_at_inference(dtype, channels):
    """The seed CNN's first layer and pool (28 x 28 in, 13 x 13 out) and an RGB one:
    pooled() takes the one-pass kernel and gives pool(conv) of the reference pair."""
    _, conv, pool, fconv, fpool, x = _seed_first_layer(dtype, channels)
    assert fconv._pools_in_one_pass(fpool)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(fconv.pooled(x, fpool), pool(conv(x)), rtol=tol, atol=tol)


@pytest.mark.parametrize("kwargs, channels, pool_kwargs, uses", [
    (dict(kernel_size=3), 1, dict(pool_size=2), True),
    (dict(kernel_size=3), 15, dict(pool_size=2), True),
    (dict(kernel_size=3), 16, dict(pool_size=2), False),  # Winograd's, from 16 channels
    (dict(kernel_size=3, padding="same"), 1, dict(pool_size=2), False),
    (dict(kernel_size=3, strides=2), 1, dict(pool_size=2), False),
    (dict(kernel_size=5), 1, dict(pool_size=2), False),
    (dict(kernel_size=3), 1, dict(pool_size=3), False),
    (dict(kernel_size=3), 1, dict(pool_size=2, strides=1), False),
])
def test_the_one_pass_kernel_runs_only_where_it_computes_the_same(kwargs, channels,
                                                                  pool_kwargs, uses):
    conv = Conv2D(4, activation="relu", **kwargs)
    conv.build((12, 12, channels))
    pool = MaxPool2D(**pool_kwargs)
    pool.build(conv.output_shape)
    fconv, fpool = fast_runner(conv), fast_runner(pool)
    fconv.crop_output(fpool.input_window())
    assert fconv._pools_in_one_pass(fpool) is uses
