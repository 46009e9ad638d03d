"""LSTM: semantics pinned against a plain per-step LSTM, gradients against finite differences."""

import numpy as np
import pytest
from helpers import ENGINES, fast_runner
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnet.kernels.lstm as lstm_kernels
from scratchnet.gradcheck import check_layer
from scratchnet.layers.lstm import LSTM
from scratchnet.reference import lstm_step_forward


def plain_lstm(x, W, U, b, return_sequences):
    """The textbook LSTM, one ``lstm_step_forward`` at a time, Keras gate order i, f, g(c), o."""
    n, t, _ = x.shape
    h = c = np.zeros((n, U.shape[0]))
    outs = []
    for s in range(t):
        h, c, _ = lstm_step_forward(x[:, s], h, c, W, U, b)
        outs.append(h)
    return np.stack(outs, axis=1) if return_sequences else h


def built(units, t, d, dtype=np.float64, seed=0, **kw):
    layer = LSTM(units, **kw)
    layer.build((t, d), dtype, np.random.default_rng(seed))
    return layer


@pytest.mark.parametrize("return_sequences", [False, True])
def test_forward_matches_plain_lstm(return_sequences):
    rng = np.random.default_rng(1)
    layer = built(5, 4, 3, return_sequences=return_sequences)
    # Non-trivial weights everywhere, including the bias, so every gate slice matters.
    for p in layer.params.values():
        p[...] = rng.standard_normal(p.shape)
    x = rng.standard_normal((2, 4, 3))
    want = plain_lstm(x, *(layer.params[k] for k in "WUb"), return_sequences)
    runner = fast_runner(layer)
    for training in (False, True):  # the inference path and the one that keeps caches
        np.testing.assert_allclose(layer(x, training=training), want, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(runner.forward(x, training), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_parallel_and_serial_paths_agree(monkeypatch, return_sequences):
    # N * H = 8192 takes the parallel kernels; lifting the threshold forces the serial ones.
    rng = np.random.default_rng(11)
    x = rng.standard_normal((128, 3, 2)).astype(np.float32)
    results = []
    for threshold in (0, 10**9):  # always parallel, then never
        monkeypatch.setattr(lstm_kernels, "PARALLEL_MIN_CELLS", threshold)
        layer = built(64, 3, 2, dtype=np.float32, seed=3, return_sequences=return_sequences)
        runner = fast_runner(layer)
        y = runner.forward(x, True)
        dx = runner.backward(np.ones_like(y))
        results.append((y, dx, *(layer.grads[k].copy() for k in "WUb")))
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
    want = plain_lstm(x.astype(np.float64), *(layer.params[k] for k in "WUb"), return_sequences)
    np.testing.assert_allclose(results[0][0], want, rtol=1e-5, atol=1e-6)


def test_return_sequences_last_step_equals_last_output():
    x = np.random.default_rng(2).standard_normal((3, 5, 2))
    seq = built(4, 5, 2, seed=7, return_sequences=True)(x)
    last = built(4, 5, 2, seed=7)(x)
    assert seq.shape == (3, 5, 4) and last.shape == (3, 4)
    np.testing.assert_array_equal(seq[:, -1], last)


@given(
    n=st.integers(1, 3),
    t=st.integers(1, 6),
    d=st.integers(1, 4),
    units=st.integers(1, 4),
    return_sequences=st.booleans(),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=20, deadline=None)
@pytest.mark.parametrize("engine", ENGINES)
def test_gradients_match_finite_differences(engine, n, t, d, units, return_sequences, seed):
    rng = np.random.default_rng(seed)
    layer = built(units, t, d, seed=seed, return_sequences=return_sequences)
    layer.params["b"][...] = 0.5 * rng.standard_normal(layer.params["b"].shape)
    errors = check_layer(layer, rng.standard_normal((n, t, d)), seed=seed, engine=engine)
    assert set(errors) == {"x", "W", "U", "b"}
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("return_sequences", [False, True])
def test_no_input_grad_returns_none_and_keeps_weight_grads(return_sequences):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 3))
    dy_shape = (2, 4, 3) if return_sequences else (2, 3)
    dy = rng.standard_normal(dy_shape)
    full = built(3, 4, 3, seed=5, return_sequences=return_sequences)
    first = built(3, 4, 3, seed=5, return_sequences=return_sequences)
    full_runner, first_runner = fast_runner(full), fast_runner(first, first=True)
    full_runner.forward(x, True)
    assert full_runner.backward(dy) is not None
    first_runner.forward(x, True)
    assert first_runner.backward(dy) is None
    for k in "WUb":
        np.testing.assert_array_equal(first.grads[k], full.grads[k])
    errors = check_layer(first, x, seed=4, engine="fast", need_input_grad=False)
    assert set(errors) == {"W", "U", "b"} and max(errors.values()) <= 1e-6, errors


def test_keras_param_count_and_init():
    layer = built(128, 28, 28, dtype=np.float32)
    assert layer.output_shape == (128,)
    assert layer.count_params() == 80_384 == 4 * 128 * (28 + 128 + 1)
    W, U, b = (layer.params[k] for k in "WUb")
    assert W.shape == (28, 512) and U.shape == (128, 512) and b.shape == (512,)
    assert all(p.flags.c_contiguous for p in (W, U, b))
    # unit_forget_bias: forget-gate slice is 1, the other three are 0.
    np.testing.assert_array_equal(b[128:256], 1)
    np.testing.assert_array_equal(np.delete(b, np.s_[128:256]), 0)
    # Orthogonal recurrent kernel: (H, 4H) with orthonormal rows.
    np.testing.assert_allclose(U @ U.T, np.eye(128), atol=1e-5)
    # Glorot-uniform kernel: within sqrt(6 / (fan_in + fan_out)), spread across it.
    limit = np.sqrt(6 / (28 + 512))
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.9 * limit
    assert abs(W.std() - limit / np.sqrt(3)) < 0.05 * limit


def test_sequences_output_shape():
    assert built(6, 7, 2, return_sequences=True).output_shape == (7, 6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_dtype_is_kept_everywhere(dtype, return_sequences):
    rng = np.random.default_rng(6)
    layer = LSTM(4, return_sequences=return_sequences)
    x = rng.standard_normal((3, 5, 2)).astype(dtype)
    y = layer(x, training=True)
    dx = layer.backprop(np.ones_like(y))
    assert y.dtype == dx.dtype == dtype
    assert all(v.dtype == dtype for v in (*layer.params.values(), *layer.grads.values()))
    if dtype == np.float32:  # float32 computes the same thing as float64, to float32 precision
        ref = LSTM(4, return_sequences=return_sequences)
        ref.build((5, 2), np.float64)
        for k in "WUb":
            ref.params[k][...] = layer.params[k]
        y64 = ref(x.astype(np.float64), training=True)
        ref.backprop(np.ones_like(y64))
        np.testing.assert_allclose(y, y64, rtol=1e-5, atol=1e-6)
        for k in "WUb":
            np.testing.assert_allclose(layer.grads[k], ref.grads[k], rtol=1e-4, atol=1e-5)


def test_buffers_reused_and_outputs_not_aliased():
    rng = np.random.default_rng(8)
    layer = fast_runner(built(3, 4, 2, return_sequences=True))
    x1, x2 = rng.standard_normal((5, 4, 2)), rng.standard_normal((5, 4, 2))
    y1 = layer.forward(x1, True)
    y1_copy, gates = y1.copy(), layer.gates
    layer.forward(x2, True)
    assert layer.gates is gates  # same batch size: no reallocation
    np.testing.assert_array_equal(y1, y1_copy)  # returned output is not a view of a buffer
    y3 = layer.forward(x1[:2], True)  # new batch size: reallocates, still correct
    np.testing.assert_allclose(y3, y1[:2], rtol=1e-14)


def test_saturating_inputs_stay_finite():
    layer = built(3, 4, 2, dtype=np.float32)
    x = np.full((2, 4, 2), 1e4, np.float32)
    x[1] *= -1
    for forward in (layer, fast_runner(layer).forward):
        assert np.all(np.isfinite(forward(x, False)))  # the inference path
    y = layer(x, training=True)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(layer.backprop(np.ones_like(y))))
    runner = fast_runner(layer)
    y = runner.forward(x, True)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(runner.backward(np.ones_like(y))))


@pytest.mark.parametrize("units", [0, -3, 2.5, True, "8", None])
def test_bad_units(units):
    with pytest.raises(ValueError, match="my_lstm: units"):
        LSTM(units, name="my_lstm")


@pytest.mark.parametrize("flag", [1, 0, "yes", None])
def test_bad_return_sequences(flag):
    with pytest.raises(TypeError, match="my_lstm: return_sequences"):
        LSTM(4, return_sequences=flag, name="my_lstm")


@pytest.mark.parametrize("shape", [(28,), (28, 28, 1), (0, 5), (5, 0), (2.0, 3)])
def test_bad_declared_input_shape(shape):
    with pytest.raises(ValueError, match=r"my_lstm: .*\(timesteps, features\)"):
        LSTM(4, input_shape=shape, name="my_lstm")


@pytest.mark.parametrize("shape", [(28,), (28, 28, 1), (0, 5), (5, 0)])
def test_bad_built_input_shape(shape):
    with pytest.raises(ValueError, match=r"my_lstm: .*\(timesteps, features\)"):
        LSTM(4, name="my_lstm").build(shape)


def test_bad_call_inputs():
    layer = built(4, 5, 3, name="my_lstm")
    with pytest.raises(ValueError, match="my_lstm"):
        layer(np.zeros((2, 5, 4)))  # wrong feature size
    with pytest.raises(ValueError, match="my_lstm"):
        layer(np.zeros((2, 15)))  # flat, not (N, T, D)
    with pytest.raises(TypeError, match="my_lstm"):
        layer(np.zeros((2, 5, 3), np.float32))  # built for float64
    with pytest.raises(ValueError, match="my_lstm"):
        LSTM(4, name="my_lstm")(np.zeros((2, 3)))  # first call builds from a rank-2 input
    layer(np.zeros((2, 5, 3)), training=True)
    with pytest.raises(ValueError, match="my_lstm: expected an upstream gradient"):
        layer.backprop(np.zeros((2, 5, 4)))  # sequence gradient for a last-step output
    with pytest.raises(TypeError, match="my_lstm: expected a float64 upstream gradient"):
        layer.backprop(np.zeros((2, 4), np.float32))  # never silently cast
    runner = fast_runner(layer)
    runner.forward(np.zeros((2, 5, 3)), False)  # fast inference keeps nothing, and says so
    with pytest.raises(RuntimeError, match="my_lstm: backward needs a forward pass with "
                                           "training=True"):
        runner.backward(np.zeros((2, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("threshold", [0, 10**9], ids=["parallel", "serial"])
def test_inference_path_equals_the_training_forward(monkeypatch, dtype, return_sequences,
                                                    threshold):
    """One GEMM per step on [x_t, 1, h_{t-1}] gives what x@W + b + h@U (two GEMMs) gives."""
    monkeypatch.setattr(lstm_kernels, "PARALLEL_MIN_CELLS", threshold)
    rng = np.random.default_rng(12)
    layer = built(16, 6, 5, dtype=dtype, seed=2, return_sequences=return_sequences)
    layer.params["b"][...] = rng.standard_normal(layer.params["b"].shape)
    runner = fast_runner(layer)
    x = rng.standard_normal((40, 6, 5)).astype(dtype)
    y_infer = runner.forward(x, False).copy()
    y_train = runner.forward(x, True)
    assert y_infer.dtype == dtype and y_infer.shape == y_train.shape
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(y_infer, y_train, rtol=tol, atol=tol)
