"""Max-pool kernels: the parallel kernels, their serial twins and the dispatchers agree bit
for bit, equal the NumPy references to a stated tolerance, and the references are right."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scratchnet.kernels.maxpool import (
    maxpool_backward,
    maxpool_backward_parallel,
    maxpool_backward_reference,
    maxpool_backward_serial,
    maxpool_forward,
    maxpool_forward_parallel,
    maxpool_forward_reference,
    maxpool_forward_serial,
)

# Hypothesis example counts come from the conftest profile: 25 by default, more with
# HYPOTHESIS_PROFILE=thorough.
DTYPES = [np.float32, np.float64]
INDEX_DTYPES = [np.int32, np.int64]
# The forward selects values: any difference at all is a bug.
SELECT_TOL = {np.float32: 0.0, np.float64: 0.0}
# The backward sums the gradients of the few windows an input wins (at most 16 here);
# another order would round each sum differently by a few ulp of its largest term.
SUM_TOL = {np.float32: 1e-5, np.float64: 1e-13}
FORWARD = [maxpool_forward_parallel, maxpool_forward_serial, maxpool_forward]
BACKWARD = [maxpool_backward_parallel, maxpool_backward_serial, maxpool_backward]
IDS = ["parallel", "serial", "dispatcher"]


def conv_output_size(size, k, stride, padding):
    """Output length and padding before, by Keras's rules (the odd 'same' cell goes after)."""
    if padding == "valid":
        return (size - k) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + k - size, 0) // 2


@st.composite
def geometries(draw):
    """(N, H, W, C), (ph, pw), (sh, sw), padding: overlapping and gapped strides alike."""
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 7)),
             draw(st.integers(1, 4)))
    p = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = draw(st.sampled_from(["valid", "same"]))
    if padding == "valid":
        assume(p[0] <= shape[1] and p[1] <= shape[2])
    return shape, p, s, padding


def run(forward, x, geo, index_dtype):
    shape, (ph, pw), (sh, sw), padding = geo
    Ho, Wo = (conv_output_size(shape[1], ph, sh, padding)[0],
              conv_output_size(shape[2], pw, sw, padding)[0])
    y = np.full((shape[0], Ho, Wo, shape[3]), np.nan, dtype=x.dtype)
    arg = np.full(y.shape, -7, dtype=index_dtype)
    got = forward(x, *geo_args(geo), y, arg)
    assert got[0] is y and got[1] is arg
    return y, arg


def geo_args(geo):
    """The kernels' (ph, pw, sh, sw, pad_top, pad_left) for a geometry."""
    shape, (ph, pw), (sh, sw), padding = geo
    return (ph, pw, sh, sw, conv_output_size(shape[1], ph, sh, padding)[1],
            conv_output_size(shape[2], pw, sw, padding)[1])


def naive_maxpool(x, geo):
    """The definition: max over the in-bounds cells of each window, first one on ties."""
    shape, (ph, pw), (sh, sw), padding = geo
    N, H, W, C = shape
    Ho, pt = conv_output_size(H, ph, sh, padding)
    Wo, pl = conv_output_size(W, pw, sw, padding)
    y = np.zeros((N, Ho, Wo, C), dtype=x.dtype)
    arg = np.zeros((N, Ho, Wo, C), dtype=np.int64)
    for n, i, j, c in np.ndindex(N, Ho, Wo, C):
        cells = [(r, q) for r in range(i * sh - pt, i * sh - pt + ph)
                 for q in range(j * sw - pl, j * sw - pl + pw) if 0 <= r < H and 0 <= q < W]
        vals = [x[n, r, q, c] for r, q in cells]
        k = int(np.argmax(vals))  # np.argmax returns the first maximum
        y[n, i, j, c] = vals[k]
        arg[n, i, j, c] = (cells[k][0] * W + cells[k][1]) * C + c
    return y, arg


@pytest.mark.parametrize("forward", FORWARD, ids=IDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@settings(deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**16), ties=st.booleans())
def test_forward_equals_reference(forward, dtype, index_dtype, geo, seed, ties):
    rng = np.random.default_rng(seed)
    # With ties=True, few distinct values: both must pick the same (first) maximum.
    x = (rng.integers(-2, 3, geo[0]) if ties else rng.standard_normal(geo[0])).astype(dtype)
    y, arg = run(forward, x, geo, index_dtype)
    y_ref, arg_ref = run(maxpool_forward_reference, x, geo, index_dtype)
    tol = SELECT_TOL[dtype]
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
    np.testing.assert_array_equal(arg, arg_ref)
    # Inference passes no argmax: the same maxima, from a separately compiled loop.
    y_only = np.full_like(y, np.nan)
    assert forward(x, *geo_args(geo), y_only, None)[1] is None
    np.testing.assert_array_equal(y_only, y)
    y_def, arg_def = naive_maxpool(x, geo)
    np.testing.assert_array_equal(y_ref, y_def)
    np.testing.assert_array_equal(arg_ref, arg_def)
    # The recorded index really points at the maximum.
    N = x.shape[0]
    np.testing.assert_array_equal(
        np.take_along_axis(x.reshape(N, -1), arg.reshape(N, -1), axis=1), y.reshape(N, -1))


@pytest.mark.parametrize("backward", BACKWARD, ids=IDS)
@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**16))
def test_backward_equals_reference(backward, dtype, geo, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(geo[0]).astype(dtype)
    y, arg = run(maxpool_forward, x, geo, np.int32)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = backward(dy, arg, np.full(geo[0], np.nan, dtype=dtype))
    dx_ref = maxpool_backward_reference(dy, arg, np.full(geo[0], np.nan, dtype=dtype))
    assert dx.dtype == dtype
    tol = SUM_TOL[dtype]
    np.testing.assert_allclose(dx, dx_ref, rtol=tol, atol=tol * np.abs(dy).max())
    # Every output's gradient lands somewhere: nothing is lost or duplicated.
    assert dx.sum(dtype=np.float64) == pytest.approx(dy.sum(dtype=np.float64), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@settings(deadline=None)
@given(geo=geometries(), seed=st.integers(0, 2**16), ties=st.booleans())
def test_twins_and_dispatchers_are_bit_identical_to_parallel_kernels(dtype, index_dtype, geo,
                                                                    seed, ties):
    rng = np.random.default_rng(seed)
    x = (rng.integers(-2, 3, geo[0]) if ties else rng.standard_normal(geo[0])).astype(dtype)
    y, arg = run(maxpool_forward_parallel, x, geo, index_dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = maxpool_backward_parallel(dy, arg, np.full(geo[0], np.nan, dtype=dtype))
    for forward, backward in zip(FORWARD[1:], BACKWARD[1:], strict=True):
        y_twin, arg_twin = run(forward, x, geo, index_dtype)
        assert np.array_equal(y_twin, y) and np.array_equal(arg_twin, arg)
        assert np.array_equal(backward(dy, arg, np.full(geo[0], np.nan, dtype=dtype)), dx)


def test_padding_never_wins_even_against_minus_inf():
    """'same' pads act as -inf: an all-negative or all--inf window still picks a real cell."""
    x = np.full((1, 3, 3, 1), -np.inf)
    x[0, 2, 2, 0] = -5.0
    geo = ((1, 3, 3, 1), (2, 2), (2, 2), "same")  # out 2x2, pad 1 after: last windows 1 cell
    for forward in (*FORWARD, maxpool_forward_reference):
        y, arg = run(forward, x, geo, np.int64)
        np.testing.assert_array_equal(y[0, :, :, 0], [[-np.inf, -np.inf], [-np.inf, -5.0]])
        np.testing.assert_array_equal(arg[0, :, :, 0], [[0, 2], [6, 8]])
        y_only = np.full_like(y, np.nan)
        forward(x, *geo_args(geo), y_only, None)
        np.testing.assert_array_equal(y_only, y)


def test_overlapping_windows_accumulate():
    """Stride 1, pool 2 on [0, 3, 1]: the 3 wins both windows and gets both gradients."""
    x = np.array([0.0, 3.0, 1.0]).reshape(1, 1, 3, 1)
    dy = np.array([10.0, 20.0]).reshape(1, 1, 2, 1)
    geo = ((1, 1, 3, 1), (1, 2), (1, 1), "valid")
    y, arg = run(maxpool_forward, x, geo, np.int32)
    np.testing.assert_array_equal(y.ravel(), [3.0, 3.0])
    for backward in (*BACKWARD, maxpool_backward_reference):
        dx = backward(dy, arg, np.empty_like(x))
        np.testing.assert_array_equal(dx.ravel(), [0.0, 30.0, 0.0])
