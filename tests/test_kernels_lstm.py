"""The fused LSTM step kernels: each parallel kernel, its serial twin and the dispatcher
agree bit for bit, and equal the NumPy references to a stated tolerance, float32 and
float64."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet.kernels import lstm as kernels
from scratchnet.kernels.lstm import (
    lstm_backward_step,
    lstm_backward_step_parallel,
    lstm_backward_step_reference,
    lstm_backward_step_serial,
    lstm_forward_step,
    lstm_forward_step_parallel,
    lstm_forward_step_reference,
    lstm_forward_step_serial,
    lstm_infer_step,
    lstm_infer_step_parallel,
    lstm_infer_step_reference,
    lstm_infer_step_serial,
)

DTYPES = [np.float32, np.float64]
# The kernels' exp/tanh (within 4 ulp, see below) and NumPy's differ in the last bits,
# and a few roundings of them add up through the cell update.
TOL = {np.float32: dict(rtol=2e-6, atol=2e-7), np.float64: dict(rtol=1e-13, atol=1e-15)}

cases = given(
    n=st.integers(1, 7),
    hidden=st.integers(1, 9),
    dtype=st.sampled_from(DTYPES),
    scale=st.sampled_from([0.1, 1.0, 5.0, 100.0, 1e4]),  # large |z|: saturated gates
    seed=st.integers(0, 2**32 - 1),
)


def forward_inputs(rng, n, hidden, dtype, scale):
    zx = (scale * rng.standard_normal((n, 4 * hidden))).astype(dtype)
    zh = (scale * rng.standard_normal((n, 4 * hidden))).astype(dtype)
    c_prev = (3 * rng.standard_normal((n, hidden))).astype(dtype)
    return zx, zh, c_prev


def run_forward(fn, zx, zh, c_prev):
    n, hidden = c_prev.shape
    out = [np.full((n, 4 * hidden), np.nan, zx.dtype)] + [
        np.full((n, hidden), np.nan, zx.dtype) for _ in range(3)
    ]
    fn(zx, zh, c_prev, *out)
    return out  # gates, c, tanh_c, h


@cases
@settings(max_examples=25, deadline=None)
def test_forward_step_matches_reference(n, hidden, dtype, scale, seed):
    zx, zh, c_prev = forward_inputs(np.random.default_rng(seed), n, hidden, dtype, scale)
    want = run_forward(lstm_forward_step_reference, zx, zh, c_prev)
    parallel = run_forward(lstm_forward_step_parallel, zx, zh, c_prev)
    serial = run_forward(lstm_forward_step_serial, zx, zh, c_prev)
    dispatched = run_forward(lstm_forward_step, zx, zh, c_prev)
    for name, a, b, c, d in zip(("gates", "c", "tanh_c", "h"), parallel, want, serial,
                                dispatched, strict=True):
        assert a.dtype == dtype and b.dtype == dtype, name
        assert np.all(np.isfinite(a)), name
        np.testing.assert_allclose(a, b, err_msg=name, **TOL[dtype])
        np.testing.assert_array_equal(a, c, err_msg=name)  # same row code, same bits
        np.testing.assert_array_equal(a, d, err_msg=name)
    gates = parallel[0]
    sig = np.delete(gates, np.s_[2 * hidden : 3 * hidden], axis=1)
    assert np.all((sig >= 0) & (sig <= 1))


@cases
@settings(max_examples=25, deadline=None)
def test_infer_step_matches_reference_and_the_training_step(n, hidden, dtype, scale, seed):
    zx, zh, c_prev = forward_inputs(np.random.default_rng(seed), n, hidden, dtype, scale)
    z = zx + zh
    _, c_train, _, h_train = run_forward(lstm_forward_step, zx, z - zx, c_prev)
    outs = []
    for fn in (lstm_infer_step_parallel, lstm_infer_step_reference, lstm_infer_step_serial,
               lstm_infer_step):
        c, h = c_prev.copy(), np.full((n, hidden), np.nan, dtype)
        fn(z, c, h)
        outs.append((c, h))
    for name, k in (("c", 0), ("h", 1)):
        a, b, c, d = (o[k] for o in outs)
        assert a.dtype == dtype and np.all(np.isfinite(a)), name
        np.testing.assert_allclose(a, b, err_msg=name, **TOL[dtype])
        np.testing.assert_array_equal(a, c, err_msg=name)  # same row code, same bits
        np.testing.assert_array_equal(a, d, err_msg=name)
        np.testing.assert_allclose(a, (c_train, h_train)[k], err_msg=name, **TOL[dtype])


@cases
@settings(max_examples=25, deadline=None)
def test_backward_step_matches_reference(n, hidden, dtype, scale, seed):
    rng = np.random.default_rng(seed)
    zx, zh, c_prev = forward_inputs(rng, n, hidden, dtype, scale)
    gates, _, tanh_c, _ = run_forward(lstm_forward_step_reference, zx, zh, c_prev)
    dh = rng.standard_normal((n, hidden)).astype(dtype)
    dc_next = rng.standard_normal((n, hidden)).astype(dtype)
    results = []
    for fn in (lstm_backward_step_parallel, lstm_backward_step_reference,
               lstm_backward_step_serial, lstm_backward_step):
        dz = np.full((n, 4 * hidden), np.nan, dtype)
        dc_prev = np.full((n, hidden), np.nan, dtype)
        fn(dh, dc_next, gates, c_prev, tanh_c, dz, dc_prev)
        results.append((dz, dc_prev))
    for name, a, b, c, d in zip(("dz", "dc_prev"), *results, strict=True):
        assert a.dtype == dtype and np.all(np.isfinite(a)), name
        np.testing.assert_allclose(a, b, err_msg=name, **TOL[dtype])
        np.testing.assert_array_equal(a, c, err_msg=name)
        np.testing.assert_array_equal(a, d, err_msg=name)


def test_saturated_gates_are_exact_and_warning_free():
    # z = +-1000 would overflow a naive exp(-z) (an error here: RuntimeWarnings are errors).
    for dtype in DTYPES:
        z = np.array([[1000.0, -1000.0, 1000.0, -1000.0]], dtype)
        zero, c_prev = np.zeros_like(z), np.ones((1, 1), dtype)
        for fn in (lstm_forward_step, lstm_forward_step_reference):
            gates, c, _, h = run_forward(fn, z, zero, c_prev)
            np.testing.assert_array_equal(gates, [[1, 0, 1, 0]])
            np.testing.assert_array_equal(c, [[1]])  # f*c_prev + i*g = 0*1 + 1*1
            np.testing.assert_array_equal(h, [[0]])  # o = 0


@pytest.mark.parametrize("row", ["_forward_row", "_backward_row"])
def test_float32_kernels_have_no_float64_arithmetic(row):
    # Compile an uncached copy of the per-row code (cached code cannot be inspected).
    fn = numba.njit(error_model="numpy")(getattr(kernels, row).py_func)
    a4 = np.ones((2, 8), np.float32)
    a1 = np.ones((2, 2), np.float32)
    if row == "_forward_row":
        fn(0, a4, a4, a1, a4.copy(), a1.copy(), a1.copy(), a1.copy())
    else:
        fn(0, a1, a1, a4, a1, a1, a4.copy(), a1.copy())
    (ir,) = fn.inspect_llvm().values()
    assert "float" in ir and "double" not in ir


# The kernels' own exp/sigmoid/tanh (vectorizable, unlike libm's) against exact values.
@numba.njit(error_model="numpy")
def _apply(name, x, out):
    for k in range(x.size):
        if name == "exp":
            out[k] = kernels._exp_nonpos(x[k])
        elif name == "sigmoid":
            out[k] = kernels._sigmoid(x[k])
        else:
            out[k] = kernels._tanh(x[k])


# x86's 80-bit long double has 11 more bits than float64: "exact" at this precision.
EXACT = {"exp": np.exp, "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "tanh": np.tanh}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["exp", "sigmoid", "tanh"])
def test_elementary_functions_are_accurate(name, dtype):
    rng = np.random.default_rng(9)
    x = np.concatenate(
        [
            rng.standard_normal(20_000),
            20 * rng.standard_normal(20_000),
            np.linspace(-1, 1, 20_001),  # across tanh's switch at |x| = 1/4
            1e-4 * rng.standard_normal(1_000),
            [0.25, -0.25, 1e-30, -1e-30, 80, -80, 700, -700, 1e4, -1e4],
        ]
    ).astype(dtype)
    if name == "exp":
        x = -np.abs(x)  # defined for x <= 0
    out = np.empty_like(x)
    _apply(name, x, out)
    exact = EXACT[name](x.astype(np.longdouble))
    eps, tiny = np.finfo(dtype).eps, np.finfo(dtype).tiny
    normal = np.abs(exact) >= tiny
    rel = np.abs(out[normal] - exact[normal]) / np.abs(exact[normal])
    assert rel.max() <= 4 * eps
    assert np.all(np.abs(out[~normal]) <= tiny)  # below the normal range: flushed toward 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_inf_saturates_and_nan_propagates(dtype):
    z = np.array([[np.inf, -np.inf, np.inf, np.nan]], dtype)
    zero, c_prev = np.zeros_like(z), np.zeros((1, 1), dtype)
    gates, c, tanh_c, h = run_forward(lstm_forward_step, z, zero, c_prev)
    np.testing.assert_array_equal(gates[0, :3], [1, 0, 1])
    assert np.isnan(gates[0, 3]) and np.isnan(h[0, 0])  # never silent garbage
    np.testing.assert_array_equal(c, [[1]])
