"""The fused bias + activation kernels: each parallel kernel, its serial twin and the
dispatcher agree bit for bit, and all equal the plain NumPy definitions to a stated
tolerance (the layers' own gradient checks are in test_dense_dropout_reshape and
test_conv2d)."""

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.kernels import bias_act as k

DTYPES = [np.float32, np.float64]
SHAPES = dict(rows=st.integers(1, 300), cols=st.integers(1, 70), seed=st.integers(0, 2**16))
# The kernels sum the rows chunk by chunk, NumPy pairwise: each order rounds differently,
# by a few ulp per summed row at most. atol is scaled by sqrt(rows) (the typical growth).
SUM_TOL = {np.float32: 1e-5, np.float64: 1e-12}
# One add and one max per element: IEEE arithmetic leaves no rounding freedom.
ELEMENTWISE_TOL = {np.float32: 0.0, np.float64: 0.0}


def draw(rows, cols, seed, dtype):
    rng = np.random.default_rng(seed)
    z, dy = (rng.standard_normal((rows, cols)).astype(dtype) for _ in range(2))
    return z, rng.standard_normal(cols).astype(dtype), dy


def variants(name):
    """The parallel kernel, its serial twin and the dispatcher, by name."""
    return {v: getattr(k, name + v) for v in ("_parallel", "_serial", "")}


def assert_sums_close(got, want, rows, dtype):
    tol = SUM_TOL[dtype]
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(rows))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["bias_relu", "bias_add"])
@given(**SHAPES)
def test_forward_kernels_equal_the_definition(name, dtype, rows, cols, seed):
    z, b, _ = draw(rows, cols, seed, dtype)
    want = getattr(k, name + "_reference")(z.copy(), b)
    got = {v: fn(z.copy(), b) for v, fn in variants(name).items()}
    for v, out in got.items():
        assert out.dtype == dtype, v
        np.testing.assert_array_equal(out, got["_parallel"], err_msg=v)  # twins: same bits
        tol = ELEMENTWISE_TOL[dtype]
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol, err_msg=v)


@pytest.mark.parametrize("dtype", DTYPES)
@given(**SHAPES)
def test_relu_bias_backward_equals_the_definition(dtype, rows, cols, seed):
    z, b, dy = draw(rows, cols, seed, dtype)
    y = k.bias_relu_reference(z, b)
    dz_ref, db_ref = np.empty_like(dy), np.empty_like(b)
    k.relu_bias_backward_reference(dy, y, dz_ref, db_ref)
    np.testing.assert_allclose(db_ref, (dy * (y > 0)).sum(axis=0))
    outs = {}
    for v, fn in variants("relu_bias_backward").items():
        dz, db = np.full_like(dy, np.nan), np.full_like(b, np.nan)  # fully overwritten
        assert fn(dy, y, dz, db) is db
        outs[v] = dz, db
        tol = ELEMENTWISE_TOL[dtype]  # dz is one product per element
        np.testing.assert_allclose(dz, dz_ref, rtol=tol, atol=tol, err_msg=v)
        assert_sums_close(db, db_ref, rows, dtype)
    for v in ("_serial", ""):
        np.testing.assert_array_equal(outs[v][0], outs["_parallel"][0])
        np.testing.assert_array_equal(outs[v][1], outs["_parallel"][1])


@pytest.mark.parametrize("dtype", DTYPES)
@given(**SHAPES)
def test_column_sums_equal_the_definition(dtype, rows, cols, seed):
    _, b, dy = draw(rows, cols, seed, dtype)
    want = k.column_sums_reference(dy, np.empty_like(b))
    np.testing.assert_array_equal(want, dy.sum(axis=0))
    outs = {v: fn(dy, np.full_like(b, np.nan)) for v, fn in variants("column_sums").items()}
    for v, out in outs.items():
        assert out.dtype == dtype
        assert_sums_close(out, want, rows, dtype)
        np.testing.assert_array_equal(out, outs["_parallel"], err_msg=v)


@pytest.mark.parametrize("name", ["column_sums_parallel", "relu_bias_backward_parallel"])
def test_sums_do_not_depend_on_the_thread_count(name):
    rng = np.random.default_rng(0)
    dy, y = rng.standard_normal((1000, 7)), np.maximum(rng.standard_normal((1000, 7)), 0)
    args = (dy,) if name == "column_sums_parallel" else (dy, y, np.empty_like(dy))
    results = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results.append(getattr(k, name)(*args, np.empty(7)).copy())
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
