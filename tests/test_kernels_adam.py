"""The Adam kernels: the parallel kernel, its serial twin and the dispatcher agree bit for
bit, and equal the plain NumPy update to a stated tolerance (the optimizer's own checks
are in test_optimizers)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.kernels import adam

DTYPES = [np.float32, np.float64]
# The same formula in the same order, about six roundings per value: a few ulp apart at
# most if a compiler rounds one step differently (e.g. a vectorized sqrt).
TOL = {np.float32: 1e-6, np.float64: 1e-14}
VARIANTS = ("_parallel", "_serial", "")  # the kernel, its twin, the dispatcher


def draw(rng, size, dtype):
    p, g = (rng.standard_normal(size).astype(dtype) for _ in range(2))
    m = (0.1 * rng.standard_normal(size)).astype(dtype)
    v = (0.1 * rng.random(size)).astype(dtype)
    return p, g, m, v


@pytest.mark.parametrize("dtype", DTYPES)
@given(size=st.integers(1, 3000), t=st.integers(1, 50), seed=st.integers(0, 2**16),
       lr=st.sampled_from([1e-4, 1e-3, 1e-1]))
def test_update_equals_the_definition(dtype, size, t, seed, lr):
    p, g, m, v = draw(np.random.default_rng(seed), size, dtype)
    alpha = lr * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)
    want = [a.copy() for a in (p, m, v)]
    adam.adam_update_reference(want[0], g, want[1], want[2], alpha, 0.9, 0.999, 1e-7)
    outs = {}
    for name in VARIANTS:
        got = [a.copy() for a in (p, m, v)]
        getattr(adam, "adam_update" + name)(got[0], g, got[1], got[2], alpha, 0.9, 0.999, 1e-7)
        for a, b in zip(got, want, strict=True):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=TOL[dtype], atol=TOL[dtype])
        outs[name] = got
    for name in VARIANTS[1:]:
        for a, b in zip(outs[name], outs["_parallel"], strict=True):
            np.testing.assert_array_equal(a, b)


def test_large_arrays_take_the_pool_and_agree_with_the_twin():
    # At PARALLEL_MIN_ELEMENTS the dispatcher runs the parallel kernel (test_kernels_dispatch).
    p, g, m, v = draw(np.random.default_rng(1), adam.PARALLEL_MIN_ELEMENTS, np.float32)
    outs = []
    for name in VARIANTS:
        got = [a.copy() for a in (p, m, v)]
        getattr(adam, "adam_update" + name)(got[0], g, got[1], got[2], 1e-3, 0.9, 0.999, 1e-7)
        outs.append(got)
    for got in outs[1:]:
        for a, b in zip(got, outs[0], strict=True):
            np.testing.assert_array_equal(a, b)
