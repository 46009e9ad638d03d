"""NaN and inf in the convolution kernels that Winograd and the one-pass first layer add:
each variant gives what its NumPy reference gives (the rules and helpers of
``test_kernels_nonfinite.py``). A file of its own, so that the test run can put their
first compiles on the other worker."""

import numpy as np
import pytest
from test_kernels_nonfinite import DTYPES, VARIANTS, assert_same, reference, seeds, sprinkle

from scratchnet.kernels import conv_pool, winograd, winograd_adjoint


# -- Winograd F(2x2, 3x3) ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", VARIANTS)
@seeds
def test_winograd_transforms(v, dtype, seed):
    """A patch or tile holding a non-finite value makes non-finite what its sums touch;
    an inf may come out NaN (inf - inf) where a direct sum would keep it inf."""
    rng = np.random.default_rng(seed)
    n, th, tw = 2, 3, 2  # a 6 x 4 map of a 3 x 3 convolution on 9 x 7 (one row unread)
    tiles = n * th * tw
    x = sprinkle(rng, rng.standard_normal((n, 9, 7, 3)).astype(dtype))
    m = sprinkle(rng, rng.standard_normal((16, tiles, 4)).astype(dtype))
    dz = sprinkle(rng, rng.standard_normal((n, 6, 4, 4)).astype(dtype))
    dv = sprinkle(rng, rng.standard_normal((16, tiles, 3)).astype(dtype))
    calls = [
        (winograd, "winograd_input", (x, th, tw), (16, tiles, 3)),
        (winograd, "winograd_output", (m, th, tw), (n, 6, 4, 4)),
        (winograd, "winograd_output_pool", (m, th, tw), (n, th, tw, 4)),
        (winograd_adjoint, "winograd_output_adjoint", (dz, th, tw), (16, tiles, 4)),
        (winograd_adjoint, "winograd_input_adjoint", (dv, th, tw), x.shape),
    ]
    for module, name, args, out_shape in calls:
        want = reference(getattr(module, name + "_reference"), *args, np.empty(out_shape, dtype))
        got = getattr(module, name + v)(*args, np.empty(out_shape, dtype))
        assert_same(got, want, dtype, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", VARIANTS)
@seeds
def test_conv3x3_maxpool(v, dtype, seed):
    rng = np.random.default_rng(seed)
    x = sprinkle(rng, rng.standard_normal((2, 9, 8, 2)).astype(dtype), fraction=0.02)
    W = rng.standard_normal((3, 3, 2, 5)).astype(dtype)
    want = reference(conv_pool.conv3x3_maxpool_reference, x, W, np.empty((2, 3, 3, 5), dtype))
    got = getattr(conv_pool, "conv3x3_maxpool" + v)(x, W, np.empty((2, 3, 3, 5), dtype))
    assert_same(got, want, dtype, "conv3x3_maxpool")


@pytest.mark.parametrize("dtype", DTYPES)
@seeds
def test_conv3x3_relu_maxpool_and_its_grads(dtype, seed):
    """Training's pair on one channel: a window holding a NaN pools to its first NaN (the
    ReLU keeps it); a non-finite x or dy reaches dW and db as through im2col and
    ``cols.T @ dz``."""
    rng = np.random.default_rng(seed)
    x = sprinkle(rng, rng.standard_normal((2, 9, 8)).astype(dtype), fraction=0.02)
    W = rng.standard_normal((9, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    shape = (2, 3, 3, 5)
    out, arg = np.empty(shape, dtype), np.empty(shape, np.uint8)
    reference(conv_pool.conv3x3_relu_maxpool_reference, x, W, b, out, arg)
    got, got_arg = np.empty(shape, dtype), np.empty(shape, np.uint8)
    conv_pool.conv3x3_relu_maxpool(x, W, b, got, got_arg)
    assert_same(got, out, dtype, "conv3x3_relu_maxpool")
    np.testing.assert_array_equal(got_arg, arg)
    dy = sprinkle(rng, rng.standard_normal(shape).astype(dtype), fraction=0.05)
    want = [np.empty_like(W), np.empty_like(b)]
    reference(conv_pool.conv3x3_maxpool_grads_reference, x, arg, dy, *want)
    grads = [np.empty_like(W), np.empty_like(b)]
    conv_pool.conv3x3_maxpool_grads(x, arg, dy, *grads)
    assert_same(grads[0], want[0], dtype, "conv3x3_maxpool_grads dW")
    assert_same(grads[1], want[1], dtype, "conv3x3_maxpool_grads db")
