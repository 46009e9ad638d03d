"""NaN and inf: every kernel (parallel, serial twin and dispatcher) gives what its plain
NumPy reference gives, so a non-finite value is never turned into a finite one.

Each input gets NaN, +inf and -inf sprinkled over finite values; the outputs must hold
NaN and +-inf at the same places as the reference's, and the finite values must agree to
the same tolerances as in each kernel's own test file.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.kernels import (
    adam,
    bias_act,
    im2col,
    lstm,
    maxpool,
    small_k,
    softmax_ce,
)

DTYPES = [np.float32, np.float64]
# Finite values: the tolerances of each kernel's own equivalence test (see those files).
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
VARIANTS = ("_parallel", "_serial", "")  # the numba kernel, its twin, the dispatcher
SPECIALS = np.array([np.nan, np.inf, -np.inf])


def sprinkle(rng, a, fraction=0.1):
    """``a`` with about ``fraction`` of its values replaced by NaN, +inf or -inf."""
    a = a.copy()
    hit = rng.random(a.shape) < fraction
    a[hit] = rng.choice(SPECIALS, hit.sum())
    return a


def assert_same(got, want, dtype, what=""):
    """NaN where ``want`` has NaN, the same infinities, finite values to tolerance."""
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaN")
    np.testing.assert_allclose(got, want, equal_nan=True, err_msg=what, **TOL[dtype])


def reference(fn, *args):
    """Run a NumPy reference on non-finite input, where NumPy's warnings are expected."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return fn(*args)


seeds = given(seed=st.integers(0, 2**32 - 1))


# -- im2col / col2im ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", VARIANTS)
@seeds
def test_im2col_and_col2im(v, dtype, seed):
    rng = np.random.default_rng(seed)
    x = sprinkle(rng, rng.standard_normal((2, 6, 5, 3)).astype(dtype))
    geo = (3, 2, 2, 1, 1, 0)  # kh, kw, sh, sw, pad_top, pad_left: overlapping, padded
    cols_shape = (2, 3, 5, 18)
    want = reference(im2col.im2col_reference, x, *geo, np.empty(cols_shape, dtype))
    got = getattr(im2col, "im2col" + v)(x, *geo, np.empty(cols_shape, dtype))
    assert_same(got, want, dtype, "im2col")
    valid_shape = (2, 4, 4, 18)  # stride 1, no padding: the valid case's own kernels
    want = reference(im2col.im2col_valid_reference, x, 3, 2, np.empty(valid_shape, dtype))
    got = getattr(im2col, "im2col_valid" + v)(x, 3, 2, np.empty(valid_shape, dtype))
    assert_same(got, want, dtype, "im2col_valid")
    cols = sprinkle(rng, rng.standard_normal(cols_shape).astype(dtype))
    want = reference(im2col.col2im_reference, cols, *geo, np.empty(x.shape, dtype))
    got = getattr(im2col, "col2im" + v)(cols, *geo, np.empty(x.shape, dtype))
    assert_same(got, want, dtype, "col2im")


# -- max-pooling -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", VARIANTS)
@pytest.mark.parametrize("cell", range(4))
def test_a_window_holding_a_nan_gives_nan_wherever_it_sits(cell, v, dtype):
    """The rule: NaN, and the argmax is the window's first NaN (row-major scan)."""
    x = np.array([1.0, 5.0, 3.0, 2.0], dtype).reshape(1, 2, 2, 1)
    x.flat[cell] = np.nan
    for argmax in (np.empty((1, 1, 1, 1), np.int64), None):  # training and inference
        y, arg = getattr(maxpool, "maxpool_forward" + v)(
            x, 2, 2, 2, 2, 0, 0, np.empty((1, 1, 1, 1), dtype), argmax)
        assert np.isnan(y[0, 0, 0, 0])
        if arg is not None:
            assert arg[0, 0, 0, 0] == cell
    x.flat[3] = np.nan  # a second NaN: the first one still wins
    y, arg = getattr(maxpool, "maxpool_forward" + v)(
        x, 2, 2, 2, 2, 0, 0, np.empty((1, 1, 1, 1), dtype), np.empty((1, 1, 1, 1), np.int64))
    assert np.isnan(y[0, 0, 0, 0]) and arg[0, 0, 0, 0] == cell


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", VARIANTS)
@seeds
def test_maxpool_forward_and_backward(v, dtype, seed):
    rng = np.random.default_rng(seed)
    x = sprinkle(rng, rng.standard_normal((2, 7, 6, 3)).astype(dtype), fraction=0.15)
    geo = (3, 2, 2, 2, 1, 0)  # ph, pw, sh, sw, pad_top, pad_left ('same', overlapping rows)
    shape = (2, 4, 3, 3)
    y_ref, arg_ref = reference(maxpool.maxpool_forward_reference, x, *geo,
                               np.empty(shape, dtype), np.empty(shape, np.int64))
    forward = getattr(maxpool, "maxpool_forward" + v)
    y, arg = forward(x, *geo, np.empty(shape, dtype), np.empty(shape, np.int64))
    assert_same(y, y_ref, dtype, "maxpool forward")
    np.testing.assert_array_equal(arg, arg_ref)
    y_only, _ = forward(x, *geo, np.empty(shape, dtype), None)  # inference: the max alone
    assert_same(y_only, y_ref, dtype, "maxpool forward, inference")
    dy = sprinkle(rng, rng.standard_normal(shape).astype(dtype))
    want = reference(maxpool.maxpool_backward_reference, dy, arg_ref, np.empty(x.shape, dtype))
    got = getattr(maxpool, "maxpool_backward" + v)(dy, arg, np.empty(x.shape, dtype))
    assert_same(got, want, dtype, "maxpool backward")


# -- bias + ReLU, and the first layer's fused backward -----------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", VARIANTS)
@seeds
def test_bias_act(v, dtype, seed):
    rng = np.random.default_rng(seed)
    z = sprinkle(rng, rng.standard_normal((40, 9)).astype(dtype))
    b = sprinkle(rng, rng.standard_normal(9).astype(dtype), fraction=0.2)
    for name in ("bias_relu", "bias_add"):
        want = reference(getattr(bias_act, name + "_reference"), z.copy(), b)
        got = getattr(bias_act, name + v)(z.copy(), b)
        assert_same(got, want, dtype, name)
    # Backward: y a ReLU output holding NaN, dy with NaN and inf where the mask is 0 too.
    y = reference(bias_act.bias_relu_reference, z.copy(), b)
    dy = sprinkle(rng, rng.standard_normal(z.shape).astype(dtype))
    dz_ref, db_ref = np.empty_like(dy), np.empty_like(b)
    reference(bias_act.relu_bias_backward_reference, dy, y, dz_ref, db_ref)
    dz, db = np.empty_like(dy), np.empty_like(b)
    getattr(bias_act, "relu_bias_backward" + v)(dy, y, dz, db)
    assert_same(dz, dz_ref, dtype, "relu_bias_backward dz")
    assert_same(db, db_ref, dtype, "relu_bias_backward db")
    want = reference(bias_act.column_sums_reference, dy, np.empty_like(b))
    assert_same(getattr(bias_act, "column_sums" + v)(dy, np.empty_like(b)), want, dtype,
                "column_sums")


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_keeps_nan_and_inf(dtype):
    """The plain ReLU's max(z + b, 0): NaN stays NaN (it used to become 0), inf stays inf."""
    z = np.array([[np.nan, np.inf, -np.inf, -1.0, 2.0]], dtype)
    for v in VARIANTS:
        y = getattr(bias_act, "bias_relu" + v)(z.copy(), np.zeros(5, dtype))
        np.testing.assert_array_equal(y, [[np.nan, np.inf, 0, 0, 2]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", VARIANTS)
@seeds
def test_relu_weight_grads(v, dtype, seed):
    rng = np.random.default_rng(seed)
    rows, k, f = 50, 9, 6
    y = reference(np.maximum, sprinkle(rng, rng.standard_normal((rows, f)).astype(dtype)), 0)
    dy = sprinkle(rng, rng.standard_normal((rows, f)).astype(dtype), fraction=0.02)
    cols = sprinkle(rng, rng.standard_normal((rows, k)).astype(dtype), fraction=0.02)
    dW_ref, db_ref = np.empty((k, f), dtype), np.empty(f, dtype)
    reference(small_k.relu_weight_grads_reference, dy, y, cols, dW_ref, db_ref)
    dW, db = np.empty((k, f), dtype), np.empty(f, dtype)
    getattr(small_k, "relu_weight_grads" + v)(dy, y, cols, dW, db)
    assert_same(dW, dW_ref, dtype, "dW")
    assert_same(db, db_ref, dtype, "db")


# -- LSTM ----------------------------------------------------------------------------------------
# The tolerances of test_kernels_lstm: the kernels' own exp and tanh differ from NumPy's.
LSTM_TOL = {np.float32: dict(rtol=2e-6, atol=2e-7), np.float64: dict(rtol=1e-13, atol=1e-15)}


def assert_lstm_same(got, want, dtype, what):
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaN")
    np.testing.assert_allclose(got, want, equal_nan=True, err_msg=what, **LSTM_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", VARIANTS)
@seeds
def test_lstm_steps(v, dtype, seed):
    rng = np.random.default_rng(seed)
    n, h = 5, 4

    def randn(*shape, scale=1.0):
        return sprinkle(rng, (scale * rng.standard_normal(shape)).astype(dtype), fraction=0.05)

    zx, zh, c_prev = randn(n, 4 * h, scale=3), randn(n, 4 * h, scale=3), randn(n, h)

    def forward(fn):
        out = [np.empty((n, 4 * h), dtype)] + [np.empty((n, h), dtype) for _ in range(3)]
        reference(fn, zx, zh, c_prev, *out)
        return out

    for name, a, b in zip(("gates", "c", "tanh_c", "h"),
                          forward(getattr(lstm, "lstm_forward_step" + v)),
                          forward(lstm.lstm_forward_step_reference), strict=True):
        assert_lstm_same(a, b, dtype, name)
    z = reference(np.add, zx, zh)
    outs = []
    for fn in (getattr(lstm, "lstm_infer_step" + v), lstm.lstm_infer_step_reference):
        c, hh = c_prev.copy(), np.empty((n, h), dtype)
        reference(fn, z, c, hh)
        outs.append((c, hh))
    assert_lstm_same(outs[0][0], outs[1][0], dtype, "infer c")
    assert_lstm_same(outs[0][1], outs[1][1], dtype, "infer h")
    # Backward from finite-or-not cached values of a (finite) forward.
    gates, _, tanh_c, _ = forward(lstm.lstm_forward_step_reference)
    dh, dc_next = randn(n, h), randn(n, h)
    results = []
    for fn in (getattr(lstm, "lstm_backward_step" + v), lstm.lstm_backward_step_reference):
        dz, dc = np.empty((n, 4 * h), dtype), np.empty((n, h), dtype)
        reference(fn, dh, dc_next, gates, c_prev, tanh_c, dz, dc)
        results.append((dz, dc))
    assert_lstm_same(results[0][0], results[1][0], dtype, "dz")
    assert_lstm_same(results[0][1], results[1][1], dtype, "dc_prev")


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_gates_saturate_at_inf_and_nan_propagates(dtype):
    z = np.array([[np.inf, -np.inf, np.inf, np.nan]], dtype)
    zero, c_prev = np.zeros_like(z), np.zeros((1, 1), dtype)
    for v in VARIANTS:
        gates, c, tanh_c, h = (np.empty((1, 4), dtype), *(np.empty((1, 1), dtype) for _ in "ch_"))
        getattr(lstm, "lstm_forward_step" + v)(z, zero, c_prev, gates, c, tanh_c, h)
        np.testing.assert_array_equal(gates[0, :3], [1, 0, 1])
        assert np.isnan(gates[0, 3]) and np.isnan(h[0, 0])  # never silent garbage
        np.testing.assert_array_equal(c, [[1]])


# -- softmax cross-entropy and Adam --------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@seeds
def test_softmax_cross_entropy(dtype, seed):
    rng = np.random.default_rng(seed)
    n, c = 12, 5
    logits = sprinkle(rng, (3 * rng.standard_normal((n, c))).astype(dtype), fraction=0.08)
    labels = rng.integers(0, c, n)
    g_ref, g = np.empty_like(logits), np.empty_like(logits)
    losses_ref = reference(softmax_ce.softmax_cross_entropy_reference, logits, labels, g_ref, n)
    losses = softmax_ce.softmax_cross_entropy(logits, labels, g, n)
    assert_same(losses, losses_ref, dtype, "losses")
    assert_same(g, g_ref, dtype, "grad")


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_rows_with_inf_and_nan(dtype):
    """A +inf logit or a NaN makes its row NaN (the shift by the row's max gives inf - inf),
    as the textbook formula does; a label at -inf costs an infinite loss."""
    inf, nan = np.inf, np.nan
    logits = np.array([[1, inf, 0], [nan, 2, 0], [1, nan, 0], [-inf, -inf, -inf],
                       [-inf, 2, 0]], dtype)
    labels = np.array([0, 1, 1, 0, 0])
    grad = np.empty_like(logits)
    losses = softmax_ce.softmax_cross_entropy(logits, labels, grad, 5)
    assert np.isnan(losses[:4]).all() and np.isnan(grad[:4]).all()
    assert losses[4] == np.inf and np.isfinite(grad[4]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", VARIANTS)
@seeds
def test_adam_update(v, dtype, seed):
    rng = np.random.default_rng(seed)
    size = 300
    p, g = (sprinkle(rng, rng.standard_normal(size).astype(dtype)) for _ in range(2))
    m = sprinkle(rng, (0.1 * rng.standard_normal(size)).astype(dtype), fraction=0.03)
    v_ = np.abs(sprinkle(rng, (0.1 * rng.standard_normal(size)).astype(dtype), fraction=0.03))
    alpha = 1e-3 * math.sqrt(1 - 0.999**3) / (1 - 0.9**3)
    ref = [a.copy() for a in (p, m, v_)]
    reference(adam.adam_update_reference, ref[0], g, ref[1], ref[2], alpha, 0.9, 0.999, 1e-7)
    reference(getattr(adam, "adam_update" + v), p, g, m, v_, alpha, 0.9, 0.999, 1e-7)
    for name, got, want in zip("pmv", (p, m, v_), ref, strict=True):
        assert_same(got, want, dtype, name)
