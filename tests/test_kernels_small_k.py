"""The fused first-layer backward (ReLU + bias and weight gradients of a thin GEMM): the
parallel kernel, its serial twin and the dispatcher agree bit for bit, on any thread
count, and equal the plain NumPy definition to a stated tolerance; the layer's own checks
are in test_conv2d."""

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.kernels import small_k

DTYPES = [np.float32, np.float64]
# Sums of up to 400 products, chunk by chunk here and by BLAS there: a few ulp of the
# largest term per summed row at most; atol is scaled by sqrt(rows), the typical growth.
SUM_TOL = {np.float32: 1e-5, np.float64: 1e-12}
VARIANTS = ("_parallel", "_serial", "")  # the kernel, its twin, the dispatcher


def draw(rng, rows, k, f, dtype):
    cols = rng.standard_normal((rows, k)).astype(dtype)
    dy = rng.standard_normal((rows, f)).astype(dtype)
    y = np.maximum(rng.standard_normal((rows, f)), 0).astype(dtype)  # a ReLU output
    return dy, y, cols


@pytest.mark.parametrize("dtype", DTYPES)
@given(rows=st.integers(1, 400), k=st.integers(1, small_k.MAX_K), f=st.integers(1, 40),
       seed=st.integers(0, 2**16))
def test_relu_weight_grads_equal_the_definition(dtype, rows, k, f, seed):
    dy, y, cols = draw(np.random.default_rng(seed), rows, k, f, dtype)
    dW_ref, db_ref = np.empty((k, f), dtype), np.empty(f, dtype)
    small_k.relu_weight_grads_reference(dy, y, cols, dW_ref, db_ref)
    tol = SUM_TOL[dtype]
    outs = {}
    for v in VARIANTS:
        dW, db = np.full((k, f), np.nan, dtype), np.full(f, np.nan, dtype)  # fully overwritten
        assert getattr(small_k, "relu_weight_grads" + v)(dy, y, cols, dW, db) is dW
        assert dW.dtype == db.dtype == dtype
        scale = tol * np.sqrt(rows)
        np.testing.assert_allclose(dW, dW_ref, rtol=tol, atol=scale * np.abs(cols).max())
        np.testing.assert_allclose(db, db_ref, rtol=tol, atol=scale)
        outs[v] = dW, db
    for v in VARIANTS[1:]:
        np.testing.assert_array_equal(outs[v][0], outs["_parallel"][0])
        np.testing.assert_array_equal(outs[v][1], outs["_parallel"][1])


def test_parallel_serial_and_thread_count_agree_bit_for_bit():
    dy, y, cols = draw(np.random.default_rng(0), 5000, 9, 32, np.float32)
    results = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            for v in VARIANTS:
                dW, db = np.empty((9, 32), np.float32), np.empty(32, np.float32)
                getattr(small_k, "relu_weight_grads" + v)(dy, y, cols, dW, db)
                results.append((dW, db))
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for dW, db in results[1:]:
        np.testing.assert_array_equal(dW, results[0][0])
        np.testing.assert_array_equal(db, results[0][1])
