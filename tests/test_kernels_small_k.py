"""The fused first-layer backward (ReLU + bias and weight gradients of a thin GEMM) equals
its NumPy reference, on one thread or many; the layer's own checks are in test_conv2d."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.kernels import small_k

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("twin", ["", "_serial"], ids=["parallel", "serial"])
@pytest.mark.parametrize("dtype", DTYPES)
@given(rows=st.integers(1, 400), k=st.integers(1, small_k.MAX_K), f=st.integers(1, 40),
       seed=st.integers(0, 2**16))
def test_relu_weight_grads_equal_reference(twin, dtype, rows, k, f, seed):
    rng = np.random.default_rng(seed)
    cols = rng.standard_normal((rows, k)).astype(dtype)
    dy = rng.standard_normal((rows, f)).astype(dtype)
    y = np.maximum(rng.standard_normal((rows, f)), 0).astype(dtype)  # a ReLU output
    dW, db = np.full((k, f), np.nan, dtype), np.full(f, np.nan, dtype)  # fully overwritten
    dW_ref, db_ref = np.empty_like(dW), np.empty_like(db)
    getattr(small_k, "relu_weight_grads" + twin)(dy, y, cols, dW, db)
    small_k.relu_weight_grads_reference(dy, y, cols, dW_ref, db_ref)
    assert dW.dtype == db.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    scale = tol * np.sqrt(rows)  # float sums of `rows` terms, in a different order
    np.testing.assert_allclose(dW, dW_ref, rtol=tol, atol=scale * np.abs(cols).max())
    np.testing.assert_allclose(db, db_ref, rtol=tol, atol=scale)


def test_parallel_serial_and_thread_count_agree_bit_for_bit():
    import numba

    rng = np.random.default_rng(0)
    cols = rng.standard_normal((5000, 9)).astype(np.float32)
    dy = rng.standard_normal((5000, 32)).astype(np.float32)
    y = np.maximum(rng.standard_normal((5000, 32)), 0).astype(np.float32)
    results = []
    for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        numba.set_num_threads(threads)
        for twin in ("", "_serial"):
            dW, db = np.empty((9, 32), np.float32), np.empty(32, np.float32)
            getattr(small_k, "relu_weight_grads" + twin)(dy, y, cols, dW, db)
            results.append((dW, db))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for dW, db in results[1:]:
        np.testing.assert_array_equal(dW, results[0][0])
        np.testing.assert_array_equal(db, results[0][1])
