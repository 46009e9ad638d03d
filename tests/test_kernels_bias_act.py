"""The fused bias + activation kernels equal their NumPy references, and the layers using
them still pass their gradient checks with every activation (see test_dense_dropout_reshape
and test_conv2d)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.kernels import bias_act as k
from scratchnet.kernels.bias_act import (
    bias_add_reference,
    bias_relu_reference,
    column_sums,
    column_sums_reference,
    relu_bias_backward_reference,
)

DTYPES = [np.float32, np.float64]
SHAPES = dict(rows=st.integers(1, 300), cols=st.integers(1, 70), seed=st.integers(0, 2**16))


def draw(rows, cols, seed, dtype):
    rng = np.random.default_rng(seed)
    z, dy = (rng.standard_normal((rows, cols)).astype(dtype) for _ in range(2))
    return z, rng.standard_normal(cols).astype(dtype), dy


PARALLEL = pytest.mark.parametrize("twin", ["", "_serial"], ids=["parallel", "serial"])


@PARALLEL
@pytest.mark.parametrize("dtype", DTYPES)
@given(**SHAPES)
def test_forward_kernels_equal_references(twin, dtype, rows, cols, seed):
    z, b, _ = draw(rows, cols, seed, dtype)
    for name, reference in (("bias_relu", bias_relu_reference), ("bias_add", bias_add_reference)):
        got, want = getattr(k, name + twin)(z.copy(), b), reference(z.copy(), b)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)  # one add and one max: no rounding freedom


@PARALLEL
@pytest.mark.parametrize("dtype", DTYPES)
@given(**SHAPES)
def test_backward_kernels_equal_references(twin, dtype, rows, cols, seed):
    z, b, dy = draw(rows, cols, seed, dtype)
    y = bias_relu_reference(z, b)
    dz, dz_ref = np.empty_like(dy), np.empty_like(dy)
    db, db_ref = np.empty_like(b), np.empty_like(b)
    getattr(k, "relu_bias_backward" + twin)(dy, y, dz, db)
    relu_bias_backward_reference(dy, y, dz_ref, db_ref)
    np.testing.assert_array_equal(dz, dz_ref)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(db, db_ref, rtol=tol, atol=tol * np.sqrt(rows))
    np.testing.assert_allclose(db, (dy * (y > 0)).sum(axis=0), rtol=tol, atol=tol * np.sqrt(rows))
    sums, sums_ref = np.empty_like(b), np.empty_like(b)
    getattr(k, "column_sums" + twin)(dy, sums)
    column_sums_reference(dy, sums_ref)
    assert sums.dtype == dtype
    np.testing.assert_allclose(sums, sums_ref, rtol=tol, atol=tol * np.sqrt(rows))


def test_bias_gradient_does_not_depend_on_thread_count():
    import numba

    dy = np.random.default_rng(0).standard_normal((1000, 7)).astype(np.float32)
    results = []
    for threads in {1, numba.config.NUMBA_NUM_THREADS}:
        numba.set_num_threads(threads)
        out = np.empty(7, np.float32)
        results.append(column_sums(dy, out).copy())
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_serial_twins_give_bit_identical_results():
    rng = np.random.default_rng(0)
    dy, y = rng.standard_normal((5000, 9)), rng.standard_normal((5000, 9))
    outs = []
    for twin in ("", "_serial"):
        dz, db = np.empty_like(dy), np.empty(9)
        getattr(k, "relu_bias_backward" + twin)(dy, y, dz, db)
        outs.append((dz, db))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
