"""The fast Conv2D by Winograd F(2x2, 3x3) computes what the layer's reference pair does.

A 3 x 3, stride-1 'valid' convolution on at least ``MIN_CHANNELS`` input channels whose
computed map has even sides runs by Winograd on the fast engine
(``scratchnet.fast.winograd``): forward, backward, crops, and the fused max-pool at
inference. Each is held to the reference pair (the maths) in
float64, and to finite differences.
"""

import numpy as np
import pytest
from helpers import assert_gradients, fast_runner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scratchnet.fast import winograd
from scratchnet.layers.conv2d import Conv2D
from scratchnet.layers.pooling import MaxPool2D

C = winograd.MIN_CHANNELS  # the fewest input channels that take the Winograd path
AGREE = 1e-12


def rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


@st.composite
def convs(draw):
    """A built 3 x 3 Conv2D that takes the Winograd path, and an input batch for it."""
    n, h, w = draw(st.integers(1, 3)), draw(st.integers(4, 9)), draw(st.integers(4, 9))
    activation = draw(st.sampled_from([None, "relu", "tanh"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    layer = Conv2D(draw(st.integers(1, 3)), 3, activation=activation)
    layer.build((h, w, C + draw(st.integers(0, 2))), np.float64, rng)
    layer.params["b"][:] = rng.standard_normal(layer.filters)
    return layer, rng.standard_normal((n, *layer.input_shape)), rng


@settings(deadline=None, max_examples=30)
@given(case=convs(), data=st.data())
def test_forward_and_backward_equal_the_reference_pair(case, data):
    layer, x, rng = case
    Ho, Wo, F = layer.output_shape
    # all of the map if its sides are even, else an even crop (what the kernels take)
    h, w = 2 * data.draw(st.integers(1, Ho // 2)), 2 * data.draw(st.integers(1, Wo // 2))
    y = layer(x, training=True)
    dy = np.zeros(y.shape)
    dy[:, :h, :w] = rng.standard_normal((x.shape[0], h, w, F))
    dx = layer.backprop(dy)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    runner = fast_runner(layer)
    runner.crop_output((h, w, F))
    assert runner.winograd is not None
    y_fast = runner.forward(x, True)
    assert rel(y_fast, y[:, :h, :w]) <= AGREE
    dx_fast = runner.backward(np.ascontiguousarray(dy[:, :h, :w]))
    assert rel(dx_fast, dx) <= AGREE
    for key, g in grads.items():
        assert rel(layer.grads[key], g) <= AGREE, key


@settings(deadline=None, max_examples=6)
@given(case=convs())
def test_finite_differences(case):
    layer, x, _ = case
    Ho, Wo, _ = layer.output_shape
    assume(Ho % 2 == 0 and Wo % 2 == 0)  # the whole map by Winograd, no crop
    if layer.activation is not None and type(layer.activation).__name__ == "ReLU":
        assume(np.min(np.abs(layer.forward(x, False))) > 1e-3)  # off the kink
    assert fast_runner(layer).winograd is not None
    assert_gradients(layer, x[:2], engine="fast")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [13, 12])
def test_pooled_by_winograd_is_the_pool_of_the_conv_bit_for_bit(dtype, size):
    """The seed CNN's second conv and pool: 13 x 13 in, 10 x 10 read by the pool (and an
    even map, all of it read); the fused max equals pooling the Winograd map."""
    rng = np.random.default_rng(size)
    conv = Conv2D(5, 3, activation="relu")
    conv.build((size, size, C), dtype, rng)
    conv.params["b"][:] = rng.standard_normal(conv.filters)
    pool = MaxPool2D(2)
    pool.build(conv.output_shape, dtype)
    fconv, fpool = fast_runner(conv), fast_runner(pool)
    fconv.crop_output(fpool.input_window())
    assert fconv.winograd.pools(fpool)
    x = rng.standard_normal((3, size, size, C)).astype(dtype)
    y = fconv.pooled(x, fpool)
    np.testing.assert_array_equal(y, fpool.forward(fconv.forward(x, False), False))
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(y, pool(conv(x)), rtol=tol, atol=tol)


@pytest.mark.parametrize("kwargs, channels, uses", [
    (dict(kernel_size=3), C, True),  # 9 x 9 in, 7 x 7 out: odd, cropped to 6 x 6 below
    (dict(kernel_size=3, padding="same"), C, False),  # padding: the kernels take none
    (dict(kernel_size=3), C - 1, False),  # too few channels: im2col is faster
    (dict(kernel_size=3, strides=2), C, False),
    (dict(kernel_size=(3, 5)), C, False),
    (dict(kernel_size=5), C, False),
])
def test_winograd_runs_on_3x3_stride_1_convs_with_enough_channels(kwargs, channels, uses):
    layer = Conv2D(4, **kwargs)
    layer.build((9, 9, channels))
    runner = fast_runner(layer)
    if layer.padding == "valid":
        assert runner.winograd is None  # 7 x 7: not whole tiles
    h, w, _ = layer.output_shape
    runner.crop_output((h - h % 2, w - w % 2, 4))  # whole tiles
    assert (runner.winograd is not None) is uses


def test_a_pool_that_is_not_the_tiles_runs_after_the_map():
    """A 3 x 3 pool does not fuse; pooled() still gives pool(conv), by Winograd's map."""
    rng = np.random.default_rng(0)
    conv = Conv2D(3, 3, activation="relu")
    conv.build((14, 14, C), "float64", rng)  # a 12 x 12 map, read whole by the pool
    pool = MaxPool2D(3)
    pool.build(conv.output_shape, "float64")
    fconv, fpool = fast_runner(conv), fast_runner(pool)
    fconv.crop_output(fpool.input_window())
    assert not fconv.winograd.pools(fpool)
    x = rng.standard_normal((2, 14, 14, C))
    np.testing.assert_allclose(fconv.pooled(x, fpool), pool(conv(x)), rtol=1e-12, atol=1e-12)
