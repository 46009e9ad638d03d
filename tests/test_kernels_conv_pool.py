"""The fused 3 x 3 convolution + 2 x 2 max-pool kernel: equal to its NumPy reference (to
float rounding: it sums in its own order), its twins bit for bit; and, on the fast
engine, what a first layer and its pool compute at inference."""

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


@settings(deadline=None)
@given(n=st.integers(1, 3), hp=st.integers(1, 4), wp=st.integers(1, 4),
       extra=st.tuples(st.integers(0, 2), st.integers(0, 2)), c=st.integers(1, 5),
       f=st.integers(1, 9), seed=st.integers(0, 2**16))
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


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("channels", [1, 3])
def test_a_first_conv_and_its_pool_at_inference(dtype, channels):
    """The seed CNN's first layer and pool (28 x 28 in, 13 x 13 out) and an RGB one:
    pooled() takes the one-pass kernel and gives pool(conv) of the reference pair."""
    rng = np.random.default_rng(channels)
    conv = Conv2D(32, 3, activation="relu")
    conv.build((28, 28, channels), dtype, rng)
    conv.params["b"][:] = rng.standard_normal(32)  # some negative: ReLU zeroes
    pool = MaxPool2D(2)
    pool.build(conv.output_shape, dtype)
    fconv, fpool = fast_runner(conv, first=True), fast_runner(pool)
    fconv.crop_output(fpool.input_window())
    assert fconv._pools_in_one_pass(fpool)
    x = rng.standard_normal((5, 28, 28, channels)).astype(dtype)
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
