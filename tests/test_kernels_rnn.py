"""The fused SimpleRNN and GRU step kernels: each parallel kernel, its serial twin and the
dispatcher agree bit for bit, equal the NumPy references to a stated tolerance (float32
and float64, saturated gates included), and give NaN and inf where the references do."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet.kernels import gru, simple_rnn
from scratchnet.kernels.simple_rnn import ACTIVATION_CODES

DTYPES = [np.float32, np.float64]
VARIANTS = ("_parallel", "_serial", "")  # the numba kernel, its twin, the dispatcher
# libm's exp/tanh (the kernels') and NumPy's differ in the last bit or two; the GRU adds
# a few roundings of them up.
TOL = {np.float32: dict(rtol=4e-6, atol=4e-7), np.float64: dict(rtol=1e-13, atol=1e-15)}
SPECIALS = np.array([np.nan, np.inf, -np.inf])

cases = given(n=st.integers(1, 7), hidden=st.integers(1, 9), dtype=st.sampled_from(DTYPES),
              scale=st.sampled_from([0.1, 1.0, 5.0, 100.0, 1e4]),  # large: saturated
              seed=st.integers(0, 2**32 - 1))


def randn(rng, shape, dtype, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def run(module, name, args, out_shapes, dtype):
    """Every variant and the reference on the same inputs: list of output tuples."""
    results = []
    for suffix in (*VARIANTS, "_reference"):
        outs = [np.full(s, np.nan, dtype) for s in out_shapes]
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            getattr(module, name + suffix)(*args, *outs)
        results.append(outs)
    return results


def assert_family(results, dtype, names, finite=True):
    *kernels, want = results
    for i, what in enumerate(names):
        a = kernels[0][i]
        assert a.dtype == dtype, what
        if finite:
            assert np.all(np.isfinite(a)), what
        np.testing.assert_array_equal(np.isnan(a), np.isnan(want[i]), err_msg=what)
        np.testing.assert_allclose(a, want[i], err_msg=what, equal_nan=True, **TOL[dtype])
        for other in kernels[1:]:
            np.testing.assert_array_equal(a, other[i], err_msg=what)  # same bits


# -- SimpleRNN --------------------------------------------------------------------------------
@pytest.mark.parametrize("act", ACTIVATION_CODES)
@cases
@settings(max_examples=15, deadline=None)
def test_simple_rnn_kernels_match_reference(act, n, hidden, dtype, scale, seed):
    rng = np.random.default_rng(seed)
    code = ACTIVATION_CODES[act]
    zx, zh = randn(rng, (n, hidden), dtype, scale), randn(rng, (n, hidden), dtype, scale)
    fwd = run(simple_rnn, "simple_rnn_forward_step", (zx, zh, code), [(n, hidden)], dtype)
    assert_family(fwd, dtype, ["h"], finite=True)
    inf = run(simple_rnn, "simple_rnn_infer_step", (zx + zh, code), [(n, hidden)], dtype)
    assert_family(inf, dtype, ["h (inference)"])
    np.testing.assert_allclose(inf[0][0], fwd[0][0], **TOL[dtype])
    h = fwd[-1][0]
    dh, dy = randn(rng, (n, hidden), dtype), randn(rng, (n, hidden), dtype)
    assert_family(run(simple_rnn, "simple_rnn_backward_step", (dh, dy, h, code),
                      [(n, hidden)], dtype), dtype, ["dz"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTIVATION_CODES)
def test_simple_rnn_kernels_keep_nan_and_inf_as_the_reference(act, dtype):
    rng = np.random.default_rng(0)
    code = ACTIVATION_CODES[act]
    zx = randn(rng, (6, 5), dtype)
    zx[0, :3], zx[1, :3] = SPECIALS, SPECIALS[::-1]
    zh = randn(rng, (6, 5), dtype)
    zh[2, :3] = SPECIALS
    assert_family(run(simple_rnn, "simple_rnn_forward_step", (zx, zh, code), [(6, 5)], dtype),
                  dtype, ["h"], finite=False)
    assert_family(run(simple_rnn, "simple_rnn_infer_step", (zx + zh, code), [(6, 5)], dtype),
                  dtype, ["h (inference)"], finite=False)
    h = np.tanh(randn(rng, (6, 5), dtype))
    h[3, :3] = SPECIALS
    dh = randn(rng, (6, 5), dtype)
    dh[4, :3] = SPECIALS
    assert_family(run(simple_rnn, "simple_rnn_backward_step", (dh, np.zeros_like(dh), h, code),
                      [(6, 5)], dtype), dtype, ["dz"], finite=False)


# -- GRU ----------------------------------------------------------------------------------------
def gru_inputs(rng, n, hidden, dtype, scale):
    zx, zh = randn(rng, (n, 3 * hidden), dtype, scale), randn(rng, (n, 3 * hidden), dtype, scale)
    b1, h_prev = randn(rng, 3 * hidden, dtype), np.tanh(randn(rng, (n, hidden), dtype, 2.0))
    return zx, zh, b1, h_prev


@cases
@settings(max_examples=25, deadline=None)
def test_gru_forward_and_inference_match_reference(n, hidden, dtype, scale, seed):
    rng = np.random.default_rng(seed)
    zx, zh, b1, h_prev = gru_inputs(rng, n, hidden, dtype, scale)
    fwd = run(gru, "gru_forward_step", (zx, zh, b1, h_prev),
              [(n, 3 * hidden), (n, hidden), (n, hidden)], dtype)
    assert_family(fwd, dtype, ["gates", "a", "h"])
    results = []
    for suffix in (*VARIANTS, "_reference"):
        h = h_prev.copy()
        getattr(gru, "gru_infer_step" + suffix)(zx, zh, b1, h)
        results.append([h])
    assert_family(results, dtype, ["h (inference)"])
    # The same expressions as the training step's kernel: the same bits.
    np.testing.assert_array_equal(results[0][0], fwd[0][2])


@cases
@settings(max_examples=25, deadline=None)
def test_gru_backward_matches_reference(n, hidden, dtype, scale, seed):
    rng = np.random.default_rng(seed)
    zx, zh, b1, h_prev = gru_inputs(rng, n, hidden, dtype, scale)
    gates, a, h = (np.empty(s, dtype) for s in [(n, 3 * hidden), (n, hidden), (n, hidden)])
    gru.gru_forward_step_reference(zx, zh, b1, h_prev, gates, a, h)
    dh_rec, carry, dy = (randn(rng, (n, hidden), dtype) for _ in range(3))
    assert_family(run(gru, "gru_backward_step", (dh_rec, carry, dy, gates, a, h_prev),
                      [(n, 3 * hidden), (n, 3 * hidden), (n, hidden)], dtype),
                  dtype, ["dzx", "dzh", "carry_out"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_gru_kernels_keep_nan_and_inf_as_the_reference(dtype):
    rng = np.random.default_rng(1)
    zx, zh, b1, h_prev = gru_inputs(rng, 6, 4, dtype, 1.0)
    for k, arr in enumerate((zx, zh)):
        arr[k, :3], arr[k + 2, 4:7], arr[k + 4, 8:11] = SPECIALS, SPECIALS, SPECIALS
    h_prev[5, :3] = SPECIALS
    fwd = run(gru, "gru_forward_step", (zx, zh, b1, h_prev), [(6, 12), (6, 4), (6, 4)], dtype)
    assert_family(fwd, dtype, ["gates", "a", "h"], finite=False)
    results = []
    for suffix in (*VARIANTS, "_reference"):
        h = h_prev.copy()
        with np.errstate(invalid="ignore", over="ignore"):
            getattr(gru, "gru_infer_step" + suffix)(zx, zh, b1, h)
        results.append([h])
    assert_family(results, dtype, ["h (inference)"], finite=False)
    gates, a = fwd[-1][0], fwd[-1][1]
    dh_rec = randn(rng, (6, 4), dtype)
    dh_rec[1, :3] = SPECIALS
    zeros = np.zeros_like(dh_rec)
    assert_family(run(gru, "gru_backward_step", (dh_rec, zeros, zeros, gates, a, h_prev),
                      [(6, 12), (6, 12), (6, 4)], dtype),
                  dtype, ["dzx", "dzh", "carry_out"], finite=False)


def test_saturated_gates_are_exact_and_warning_free():
    # Pre-activations of +-1000 would overflow a naive exp (RuntimeWarnings are errors here).
    for dtype in DTYPES:
        zx = np.array([[1000.0, -1000.0, 1000.0]], dtype)  # z = 1, r = 0, hh = 1
        zero, h_prev = np.zeros_like(zx), np.full((1, 1), 0.5, dtype)
        for fn in (gru.gru_forward_step, gru.gru_forward_step_reference):
            gates, a, h = np.empty((1, 3), dtype), np.empty((1, 1), dtype), np.empty((1, 1), dtype)
            fn(zx, zero, np.zeros(3, dtype), h_prev, gates, a, h)
            np.testing.assert_array_equal(gates, [[1, 0, 1]])
            np.testing.assert_array_equal(h, [[0.5]])  # z = 1 keeps h_prev
        for fn in (simple_rnn.simple_rnn_forward_step,
                   simple_rnn.simple_rnn_forward_step_reference):
            h = np.empty((1, 3), dtype)
            fn(zx, zero, ACTIVATION_CODES["sigmoid"], h)
            np.testing.assert_array_equal(h, [[1, 0, 1]])


@pytest.mark.parametrize("module, row, args", [
    (gru, "_forward_row", lambda a4, a1, v: (a4, a4, v, a1, a4.copy(), a1.copy(), a1.copy())),
    (gru, "_backward_row", lambda a4, a1, v: (a1, a1, a1, a4, a1, a1, a4.copy(), a4.copy(),
                                              a1.copy())),
    (gru, "_infer_row", lambda a4, a1, v: (a4, a4, v, a1.copy())),
    (simple_rnn, "_forward_row", lambda a4, a1, v: (a1, a1, 2, a1.copy())),
    (simple_rnn, "_backward_row", lambda a4, a1, v: (a1, a1, a1, 0, a1.copy())),
])
def test_float32_kernels_have_no_float64_arithmetic(module, row, args):
    # An uncached copy of the per-row code (cached code cannot be inspected).
    fn = numba.njit(error_model="numpy")(getattr(module, row).py_func)
    a4, a1 = np.ones((2, 6), np.float32), np.ones((2, 2), np.float32)
    fn(0, *args(a4, a1, np.ones(6, np.float32)))
    (ir,) = fn.inspect_llvm().values()
    assert "float" in ir and "double" not in ir


# -- the dispatchers ----------------------------------------------------------------------------
DISPATCHERS = [  # module, dispatcher, number of arguments, the argument whose size is the work
    (simple_rnn, "simple_rnn_forward_step", 4, 3),
    (simple_rnn, "simple_rnn_infer_step", 3, 2),
    (simple_rnn, "simple_rnn_backward_step", 5, 2),
    (gru, "gru_forward_step", 7, 6),
    (gru, "gru_infer_step", 4, 3),
    (gru, "gru_backward_step", 9, 5),
]


@pytest.mark.parametrize("module, name, nargs, work_arg", DISPATCHERS,
                         ids=[d[1] for d in DISPATCHERS])
def test_dispatcher_picks_by_cells_and_thread(monkeypatch, module, name, nargs, work_arg):
    """``foo`` calls ``foo_parallel`` from PARALLEL_MIN_CELLS (N * H) cells up, else
    ``foo_serial``, and always the twin on a thread inside ``serial_kernels()``."""
    from scratchnet.kernels.threads import serial_kernels

    calls = []
    for variant in ("_parallel", "_serial"):
        monkeypatch.setattr(module, name + variant,
                            lambda *args, v=variant: calls.append((v, args)))

    def call(cells):
        args = [object()] * nargs
        args[work_arg] = np.empty((1, cells), np.float32)
        getattr(module, name)(*args)
        variant, seen = calls.pop()
        assert seen == tuple(args)
        return variant

    threshold = module.PARALLEL_MIN_CELLS
    assert call(threshold) == "_parallel" and call(threshold - 1) == "_serial"
    with serial_kernels():
        assert call(threshold) == "_serial"
    assert call(threshold) == "_parallel"
