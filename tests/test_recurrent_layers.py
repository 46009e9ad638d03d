"""SimpleRNN, GRU, LSTM's new options and Bidirectional as layers: Keras's parameter counts
and initialisation, float64 finite differences on dx and every parameter (both engines,
every option), initial and final states, stacking, and clear errors on bad input."""

from functools import partial

import numpy as np
import pytest
from helpers import ENGINES, assert_gradients, fast_runner
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet import Input, Sequential
from scratchnet.gradcheck import (
    check_model,
    fd_rounding,
    numerical_gradient,
    randomize_biases,
    rel_error,
)
from scratchnet.layers import GRU, LSTM, Bidirectional, Dense, Dropout, SimpleRNN
from scratchnet.layers.recurrent import Recurrent

# GRU(reset_after=False), Keras's other formulation, runs every test the cells run.
CELLS = {"simple_rnn": SimpleRNN, "gru": GRU, "gru_reset_before": partial(GRU, reset_after=False),
         "lstm": LSTM}
seeds = st.integers(0, 2**16)


def make(cell, units, **kw):
    return CELLS[cell](units, **kw)


def built(layer, t, d, seed=0, dtype=np.float64, random_biases=True):
    rng = np.random.default_rng(seed)
    layer.build((t, d), dtype, rng)
    if random_biases:
        for key, p in layer.params.items():
            if key.endswith("b"):
                p[...] = 0.5 * rng.standard_normal(p.shape)
    return layer


# -- Keras's layout ---------------------------------------------------------------------------
@pytest.mark.parametrize("cell, count", [("simple_rnn", 29_002), ("gru", 69_578),
                                         ("gru_reset_before", 69_194), ("lstm", 89_290)])
def test_the_studys_models_have_keras_parameter_counts(cell, count):
    model = Sequential([Input((28, 28)), make(cell, 128), Dense(64, activation="relu"),
                        Dense(10, activation="softmax")])
    assert model.count_params() == count


def test_gru_reset_before_has_keras_bias_and_count():
    layer = built(GRU(128, reset_after=False), 28, 28, dtype=np.float32, random_biases=False)
    assert layer.count_params() == 3 * (28 * 128 + 128 * 128 + 128) == 60_288
    assert layer.params["b"].shape == (384,)
    np.testing.assert_array_equal(layer.params["b"], 0)
    assert layer.get_config()["reset_after"] is False


def test_gru_weights_and_init_match_keras():
    layer = built(GRU(128), 28, 28, dtype=np.float32, random_biases=False)
    assert layer.count_params() == 60_672
    W, U, b = (layer.params[k] for k in "WUb")
    assert W.shape == (28, 384) and U.shape == (128, 384) and b.shape == (2, 384)
    np.testing.assert_array_equal(b, 0)
    np.testing.assert_allclose(U @ U.T, np.eye(128), atol=1e-5)  # orthogonal rows
    limit = np.sqrt(6 / (28 + 384))
    assert limit * 0.9 < np.abs(W).max() <= limit


def test_simple_rnn_weights_and_init_match_keras():
    layer = built(SimpleRNN(128), 28, 28, dtype=np.float32, random_biases=False)
    assert layer.count_params() == 20_096
    W, U, b = (layer.params[k] for k in "WUb")
    assert W.shape == (28, 128) and U.shape == (128, 128) and b.shape == (128,)
    np.testing.assert_array_equal(b, 0)
    np.testing.assert_allclose(U @ U.T, np.eye(128), atol=1e-5)
    limit = np.sqrt(6 / (28 + 128))
    assert limit * 0.9 < np.abs(W).max() <= limit
    assert all(p.flags.c_contiguous for p in (W, U, b))


def test_bidirectional_holds_two_independent_copies():
    layer = Bidirectional(LSTM(16))
    layer.build((5, 3), np.float64, np.random.default_rng(0))
    assert layer.count_params() == 2 * 4 * 16 * (3 + 16 + 1)
    assert layer.output_shape == (32,)
    assert not np.array_equal(layer.params["forward/W"], layer.params["backward/W"])
    # The very same arrays as the copies': the optimizer and load_weights update both.
    assert layer.params["backward/U"] is layer.backward_layer.params["U"]
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards
    seqs = Bidirectional(GRU(4, return_sequences=True), merge_mode="sum")
    assert seqs.build((5, 3), np.float64) == (5, 4)


# -- what each layer computes -------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_go_backwards_reads_the_sequence_reversed(cell, return_sequences):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 2))
    rev = built(make(cell, 4, return_sequences=return_sequences, go_backwards=True), 6, 2, 5)
    fwd = built(make(cell, 4, return_sequences=return_sequences), 6, 2, 5)
    np.testing.assert_array_equal(rev(x), fwd(np.ascontiguousarray(x[:, ::-1])))


@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_aligns_the_backward_copy_to_forward_time(mode, return_sequences):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 5, 3))
    bi = Bidirectional(GRU(4, return_sequences=return_sequences), merge_mode=mode)
    bi.build((5, 3), np.float64, rng)
    y_fwd = bi.forward_layer(x)
    y_bwd = bi.backward_layer(x)
    if return_sequences:
        # Step t of the backward copy's output has read x_{T-1} .. x_t: put it at t.
        y_bwd = y_bwd[:, ::-1]
        reread = GRU(4, return_sequences=True)
        reread.build((5, 3), np.float64)
        for k, p in reread.params.items():
            p[...] = bi.backward_layer.params[k]
        for t in range(5):
            tail = np.ascontiguousarray(x[:, t:][:, ::-1])
            reread.build((5 - t, 3), np.float64)
            for k, p in reread.params.items():
                p[...] = bi.backward_layer.params[k]
            np.testing.assert_allclose(reread(tail)[:, -1], y_bwd[:, t], rtol=1e-13)
    want = {"concat": lambda a, b: np.concatenate([a, b], -1), "sum": np.add,
            "mul": np.multiply, "ave": lambda a, b: (a + b) / 2, None: lambda a, b: [a, b]}[mode]
    got, expected = bi(x), want(y_fwd, y_bwd)
    if mode is None:
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_array_equal(got, expected)


def test_stacked_layers_feed_sequences_forward():
    rng = np.random.default_rng(3)
    model = Sequential([Input((6, 3)), GRU(5, return_sequences=True),
                        SimpleRNN(4, return_sequences=True), LSTM(3)], seed=1, dtype="float64")
    x = rng.standard_normal((2, 6, 3))
    y = model(x)
    a, b, c = model.layers
    np.testing.assert_allclose(y, c(b(a(x))), rtol=1e-13)
    assert y.shape == (2, 3)


# -- gradients: every layer and option, both engines ----------------------------------------------
# units >= 2: a (1, k) recurrent kernel can get a gradient so small (h_{-1} = 0 feeds it
# nothing at the first step) that the finite differences' own error exceeds 1e-6 of it.
@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 3), t=st.integers(1, 4), d=st.integers(1, 3), units=st.integers(2, 3),
       return_sequences=st.booleans(), go_backwards=st.booleans(), seed=seeds,
       activation=st.sampled_from(["tanh", "relu", "sigmoid", "linear"]))
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("cell", CELLS)
def test_layer_gradients(cell, engine, n, t, d, units, return_sequences, go_backwards, seed,
                         activation):
    kw = {"activation": activation} if cell == "simple_rnn" else {}
    layer = built(make(cell, units, return_sequences=return_sequences,
                       go_backwards=go_backwards, **kw), t, d, seed)
    x = np.random.default_rng(seed).standard_normal((n, t, d))
    errors = assert_gradients(layer, x, seed=seed, engine=engine)
    assert set(errors) == {"x", "W", "U", "b"}


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 2), t=st.integers(1, 4), d=st.integers(1, 3), units=st.integers(2, 3),
       return_sequences=st.booleans(), seed=seeds, cell=st.sampled_from(list(CELLS)))
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_gradients(mode, engine, n, t, d, units, return_sequences, seed, cell):
    layer = Bidirectional(make(cell, units, return_sequences=return_sequences), merge_mode=mode)
    built(layer, t, d, seed)
    x = np.random.default_rng(seed).standard_normal((n, t, d))
    errors = assert_gradients(layer, x, seed=seed, engine=engine)
    assert set(errors) == {"x"} | {f"{s}/{k}" for s in ("forward", "backward") for k in "WUb"}


@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_without_merge_gradients(return_sequences):
    rng = np.random.default_rng(4)
    layer = built(Bidirectional(LSTM(2, return_sequences=return_sequences), merge_mode=None),
                  3, 2, 4)
    x = rng.standard_normal((2, 3, 2))
    ys = layer(x, training=True)
    gs = [rng.standard_normal(y.shape) for y in ys]
    dx = layer.backprop(gs)
    analytic = {"x": dx.copy(), **{k: g.copy() for k, g in layer.grads.items()}}

    def loss():
        return float(sum(np.sum(y * g) for y, g in zip(layer(x), gs, strict=True)))

    for key, grad in analytic.items():
        arr = x if key == "x" else layer.params[key]
        assert rel_error(grad, numerical_gradient(loss, arr)) <= 1e-6, key


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("cells", [("gru", "simple_rnn"), ("lstm", "gru"), ("simple_rnn", "lstm")])
def test_stacked_and_bidirectional_models_gradients(engine, cells):
    """End to end through the loss: stacked layers, a Bidirectional, dropout between."""
    first, second = cells
    model = Sequential([
        Input((4, 3)), make(first, 3, return_sequences=True),
        Bidirectional(make(second, 2, return_sequences=True), merge_mode="concat"),
        Dropout(0.2), make(second, 3, go_backwards=True), Dense(4, activation="softmax"),
    ], seed=2, dtype="float64", engine=engine)
    model.compile("adam")
    randomize_biases(model, np.random.default_rng(5))
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((5, 4, 3)), rng.integers(0, 4, 5)
    errors = check_model(model, x, y)
    assert len(errors) == 3 + 6 + 3 + 2
    assert max(errors.values()) <= 1e-6, errors


# -- initial and final states (a direct call) ------------------------------------------------
@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 3), t=st.integers(1, 4), d=st.integers(1, 3), units=st.integers(2, 3),
       return_sequences=st.booleans(), go_backwards=st.booleans(), seed=seeds)
@pytest.mark.parametrize("cell", CELLS)
def test_initial_and_final_state_gradients(cell, n, t, d, units, return_sequences, go_backwards,
                                           seed):
    rng = np.random.default_rng(seed)
    layer = built(make(cell, units, return_sequences=return_sequences, return_state=True,
                       go_backwards=go_backwards), t, d, seed)
    x = rng.standard_normal((n, t, d))
    states = [rng.standard_normal((n, units)) for _ in layer.state_names]
    outs = layer(x, training=True, initial_state=states)
    assert len(outs) == 1 + len(states)
    gs = [rng.standard_normal(o.shape) for o in outs]
    dx, d0 = layer.backprop(gs[0], dstates=gs[1:])
    analytic = {"x": dx, **{f"{s}0": g for s, g in zip(layer.state_names, d0, strict=True)},
                **{k: g.copy() for k, g in layer.grads.items()}}

    def loss():
        outs = layer(x, training=True, initial_state=states)
        return float(sum(np.sum(o * g) for o, g in zip(outs, gs, strict=True)))

    arrays = {"x": x, **{f"{s}0": a for s, a in zip(layer.state_names, states, strict=True)},
              **layer.params}
    floor = fd_rounding(float(sum(np.sum(np.abs(o * g)) for o, g in zip(outs, gs, strict=True))))
    for key, grad in analytic.items():
        err = rel_error(grad, numerical_gradient(loss, arrays[key]), floor)
        assert err <= 1e-6, (key, err)


@pytest.mark.parametrize("cell", CELLS)
def test_final_states_are_the_last_step(cell):
    rng = np.random.default_rng(7)
    layer = built(make(cell, 3, return_sequences=True, return_state=True), 4, 2)
    x = rng.standard_normal((2, 4, 2))
    y, h, *rest = layer(x)
    np.testing.assert_array_equal(h, y[:, -1])
    zero = [np.zeros((2, 3)) for _ in layer.state_names]
    y0, *_ = layer(x, initial_state=zero)  # a zero initial state is the default
    np.testing.assert_array_equal(y0, y)
    dx = layer.backprop(np.ones_like(y0))
    assert isinstance(dx, tuple) and len(dx[1]) == len(zero)  # an initial state was given
    layer(x)
    assert isinstance(layer.backprop(np.ones_like(y)), np.ndarray)


# -- the fast engine's runners ----------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_fast_inference_equals_the_reference(cell, return_sequences, go_backwards):
    rng = np.random.default_rng(8)
    layer = built(make(cell, 6, return_sequences=return_sequences, go_backwards=go_backwards),
                  5, 3, 9)
    x = rng.standard_normal((7, 5, 3))
    runner = fast_runner(layer)
    want = layer(x)
    np.testing.assert_allclose(runner.forward(x, False), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(runner.forward(x, True), want, rtol=1e-12, atol=1e-14)


def test_gru_reset_before_runs_its_reference_pair_on_the_fast_engine():
    from scratchnet.fast import has_fast_path
    from scratchnet.fast.runner import ReferenceRunner

    layer = built(GRU(3, reset_after=False), 4, 2)
    assert not has_fast_path(layer) and isinstance(fast_runner(layer), ReferenceRunner)
    assert has_fast_path(built(GRU(3), 4, 2))


def test_the_two_gru_formulations_agree_when_the_reset_gate_is_open():
    """With r = 1 (a saturated reset bias) both apply nothing before or after U_h, so
    reset_after=False with bias b equals reset_after=True with biases [b, 0]."""
    rng = np.random.default_rng(12)
    before = built(GRU(3, reset_after=False, return_sequences=True), 5, 2, random_biases=False)
    after = built(GRU(3, return_sequences=True), 5, 2, random_biases=False)
    b = rng.standard_normal(9)
    b[3:6] = 50.0  # sigmoid(50 + anything here) is 1 in float64
    after.params["W"][...], after.params["U"][...] = before.params["W"], before.params["U"]
    before.params["b"][...], after.params["b"][0], after.params["b"][1] = b, b, 0
    x = 0.3 * rng.standard_normal((4, 5, 2))
    np.testing.assert_allclose(before(x), after(x), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("cell", [c for c in CELLS if c != "gru_reset_before"])  # fast ones
def test_a_first_layer_skips_its_input_gradient_on_the_fast_engine(cell):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 4, 2))
    full = built(Bidirectional(make(cell, 3)), 4, 2, 1)
    first = built(Bidirectional(make(cell, 3)), 4, 2, 1)
    dy = rng.standard_normal((3, 6))
    fast_runner(full).forward(x, True)
    runners = [fast_runner(full), fast_runner(first, first=True)]
    outs = []
    for runner in runners:
        runner.forward(x, True)
        outs.append(runner.backward(dy))
    assert outs[0] is not None and outs[1] is None
    for key in full.grads:
        np.testing.assert_array_equal(first.grads[key], full.grads[key])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", CELLS)
def test_dtype_is_kept_on_both_engines(cell, dtype):
    rng = np.random.default_rng(10)
    layer = built(Bidirectional(make(cell, 4, return_sequences=True)), 5, 2, 3, dtype=dtype)
    x = rng.standard_normal((3, 5, 2)).astype(dtype)
    for forward, backward in ((layer, layer.backprop),
                              (fast_runner(layer).forward, None)):
        y = forward(x, True)
        runner_backward = backward or (lambda dy, f=forward: f.__self__.backward(dy))
        dx = runner_backward(np.ones_like(y))
        assert y.dtype == dx.dtype == dtype
        assert all(g.dtype == dtype for g in layer.grads.values())


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
def test_wrong_rank_names_n_t_d(cell):
    layer = built(make(cell, 4, name="rnn"), 5, 3)
    with pytest.raises(ValueError, match=r"rnn: .* expects inputs \(N, T, D\) = \(batch, "
                                         r"timesteps, features\), here \(N, 5, 3\); got an "
                                         r"array of shape \(2, 15\)"):
        layer(np.zeros((2, 15)))
    with pytest.raises(ValueError, match=r"x.reshape\(len\(x\), H, W\)"):
        layer(np.zeros((2, 5, 3, 1)))
    with pytest.raises(ValueError, match=r"rnn: .*\(timesteps, features\).*\(N, T, D\)"):
        make(cell, 4, name="rnn")(np.zeros((2, 3)))
    model = Sequential([Input((28, 28, 1)), make(cell, 4, name="in_model")])
    with pytest.raises(ValueError, match=r"in_model.*\(timesteps, features\).*\(N, T, D\)"):
        model.build()


@pytest.mark.parametrize("cell", CELLS)
def test_initial_state_of_the_wrong_shape(cell):
    layer = built(make(cell, 4, name="rnn"), 5, 3)
    x = np.zeros((2, 5, 3))
    k = len(layer.state_names)
    want = r"rnn: initial_state must be \[h0(, c0)?\], each of shape \(N, H\) = \(2, 4\)"
    for bad in ([np.zeros((2, 3))] * k, [np.zeros((3, 4))] * k, [np.zeros((2, 4))] * (k + 1),
                "zeros", [np.zeros(4)] * k):
        with pytest.raises(ValueError, match=want):
            layer(x, initial_state=bad)
    with pytest.raises(TypeError, match="rnn: initial_state .* got float32"):
        layer(x, initial_state=[np.zeros((2, 4), np.float32)] * k)


def test_bidirectional_around_a_non_recurrent_layer():
    with pytest.raises(TypeError, match=r"Bidirectional wraps a recurrent layer \(SimpleRNN, "
                                        r"GRU or LSTM\), got Dense"):
        Bidirectional(Dense(4))
    with pytest.raises(ValueError, match="unknown merge_mode 'max'"):
        Bidirectional(GRU(4), merge_mode="max")
    with pytest.raises(ValueError, match="return_state=True is not supported"):
        Bidirectional(GRU(4, return_state=True))


@pytest.mark.parametrize("layer", [
    lambda: LSTM(4, return_state=True, name="stateful"),
    lambda: GRU(4, return_state=True, name="stateful"),
    lambda: SimpleRNN(4, return_state=True, name="stateful"),
    lambda: Bidirectional(GRU(4), merge_mode=None, name="stateful"),
])
def test_a_sequential_refuses_layers_with_several_outputs(layer):
    with pytest.raises(ValueError, match=r"stateful: .*returns \[.*\], but a Sequential model "
                                         "passes one array from layer to layer"):
        Sequential([Input((5, 3)), layer(), Dense(2)])


def test_bad_options():
    with pytest.raises(TypeError, match="reset_after must be True or False"):
        GRU(4, reset_after=0)
    with pytest.raises(ValueError, match="activation must be one of"):
        SimpleRNN(4, activation="softmax")
    for cell in CELLS.values():
        with pytest.raises(TypeError, match="go_backwards must be True or False"):
            cell(4, go_backwards=1)
        with pytest.raises(TypeError, match="return_state must be True or False"):
            cell(4, return_state="yes")
        with pytest.raises(ValueError, match="units must be a positive integer"):
            cell(0)
    with pytest.raises(ValueError, match="dstates are the gradients of returned states"):
        layer = built(GRU(2), 3, 2)
        y = layer(np.zeros((1, 3, 2)))
        layer.backprop(np.ones_like(y), dstates=[np.zeros((1, 2))])


def test_every_recurrent_layer_is_a_recurrent():
    assert all(isinstance(make(c, 2), Recurrent) for c in CELLS)


def test_save_and_load_a_stacked_bidirectional_model(tmp_path):
    def model(seed):
        return Sequential([Input((5, 3)), Bidirectional(GRU(4, return_sequences=True)),
                           SimpleRNN(3, activation="relu"), Dense(2, activation="softmax")],
                          seed=seed, dtype="float64")

    x = np.random.default_rng(0).standard_normal((6, 5, 3))
    saved, fresh = model(1), model(2)
    assert not np.allclose(fresh(x), saved(x))  # builds both
    path = saved.save_weights(tmp_path / "w.npz")
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh(x), saved(x))
    # Loading wrote into the copies' own arrays, which the Bidirectional shares.
    bi = fresh.layers[0]
    assert bi.params["forward/W"] is bi.forward_layer.params["W"]
