"""The two engines compute the same for the recurrent family, float64, to 1e-12
(``rel_error``): outputs, dx and every parameter gradient of SimpleRNN, GRU (both
formulations), LSTM (every option the engines run), Bidirectional in each merge mode,
and stacked models end to end; and the fast runners' parallel and serial kernels give
the same bits."""

import numpy as np
import pytest
from helpers import fast_runner
from hypothesis import given, settings
from hypothesis import strategies as st
from test_engine_agreement import AGREE, agree, assert_engines_agree

import scratchnet.kernels.gru as gru_kernels
import scratchnet.kernels.simple_rnn as simple_rnn_kernels
from scratchnet import Input, Sequential
from scratchnet.fast import has_fast_path
from scratchnet.gradcheck import randomize_biases
from scratchnet.layers import GRU, LSTM, Bidirectional, Dense, Dropout, SimpleRNN

CELLS = {"simple_rnn": SimpleRNN, "gru": GRU, "lstm": LSTM}
seeds = st.integers(0, 2**16)


def build(layer, shape, seed):
    rng = np.random.default_rng(seed)
    layer.build(shape, np.float64, rng)
    for key, p in layer.params.items():
        if key.endswith("b"):
            p[...] = rng.standard_normal(p.shape)
    return layer


@settings(deadline=None)
@given(n=st.integers(1, 5), t=st.integers(1, 6), d=st.integers(1, 5), units=st.integers(1, 6),
       return_sequences=st.booleans(), go_backwards=st.booleans(), seed=seeds,
       cell=st.sampled_from(list(CELLS)),
       activation=st.sampled_from(["tanh", "relu", "sigmoid", "linear"]))
def test_recurrent_layers(n, t, d, units, return_sequences, go_backwards, seed, cell,
                          activation):
    kw = {"activation": activation} if cell == "simple_rnn" else {}
    layer = build(CELLS[cell](units, return_sequences=return_sequences,
                              go_backwards=go_backwards, **kw), (t, d), seed)
    assert has_fast_path(layer)
    assert_engines_agree(layer, np.random.default_rng(seed).standard_normal((n, t, d)), seed)


@settings(deadline=None)
@given(n=st.integers(1, 4), t=st.integers(1, 5), d=st.integers(1, 4), units=st.integers(1, 5),
       return_sequences=st.booleans(), seed=seeds, cell=st.sampled_from(list(CELLS)),
       mode=st.sampled_from(["concat", "sum", "mul", "ave"]))
def test_bidirectional(n, t, d, units, return_sequences, seed, cell, mode):
    layer = build(Bidirectional(CELLS[cell](units, return_sequences=return_sequences),
                                merge_mode=mode), (t, d), seed)
    assert has_fast_path(layer)
    assert_engines_agree(layer, np.random.default_rng(seed).standard_normal((n, t, d)), seed)


@settings(deadline=None, max_examples=25)
@given(n=st.integers(1, 5), t=st.integers(1, 6), d=st.integers(1, 5), units=st.integers(1, 6),
       return_sequences=st.booleans(), go_backwards=st.booleans(), seed=seeds)
def test_gru_reset_before(n, t, d, units, return_sequences, go_backwards, seed):
    """GRU(reset_after=False) runs its reference pair on the fast engine (no fast path)."""
    layer = build(GRU(units, return_sequences=return_sequences, go_backwards=go_backwards,
                      reset_after=False), (t, d), seed)
    assert not has_fast_path(layer)
    assert_engines_agree(layer, np.random.default_rng(seed).standard_normal((n, t, d)), seed)


def stacked(engine):
    return Sequential([
        Input((7, 5)), GRU(6, return_sequences=True),
        Bidirectional(LSTM(4, return_sequences=True), merge_mode="ave"),
        SimpleRNN(5, return_sequences=True, go_backwards=True), Dropout(0.3),
        GRU(4, return_sequences=True, reset_after=False),  # sharded through its reference
        Bidirectional(GRU(3)), Dense(4, activation="softmax"),
    ], seed=3, dtype="float64", engine=engine)


def test_stacked_models_agree_on_loss_logits_gradients_and_training():
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 7, 5)), rng.integers(0, 4, 40)  # 40: two shards on 2 cores
    models = [stacked(engine) for engine in ("reference", "fast")]
    results = []
    for model in models:
        model.compile("adam")
        randomize_biases(model, np.random.default_rng(1))
        model.reseed(5)  # the same dropout masks
        loss, logits = model.compute_gradients(x, y)
        results.append((loss, logits.copy(), [g.copy() for g in model.gradients]))
    (l0, z0, g0), (l1, z1, g1) = results
    assert l1 == pytest.approx(l0, rel=AGREE)
    agree(z1, z0, "logits")
    for (name, _), a, b in zip(models[1].named_parameters(), g1, g0, strict=True):
        agree(a, b, f"d{name}")
    agree(models[1].predict(x, batch_size=40), models[0].predict(x, batch_size=40), "predict")
    for model in models:
        model.fit(x, y, batch_size=20, epochs=2, verbose=0, seed=1)
    for a, b in zip(models[0].parameters, models[1].parameters, strict=True):
        agree(a, b, "weights after two epochs")


@pytest.mark.parametrize("cell, module", [("simple_rnn", simple_rnn_kernels),
                                          ("gru", gru_kernels)])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_parallel_and_serial_kernels_give_the_same_bits(monkeypatch, cell, module,
                                                        return_sequences):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((64, 4, 3)).astype(np.float32)
    results = []
    for threshold in (0, 10**9):  # always parallel, then never
        monkeypatch.setattr(module, "PARALLEL_MIN_CELLS", threshold)
        layer = CELLS[cell](32, return_sequences=return_sequences)
        layer.build((4, 3), np.float32, np.random.default_rng(3))
        runner = fast_runner(layer)
        y = runner.forward(x, True)
        dx = runner.backward(np.ones_like(y))
        y_infer = runner.forward(x, False)
        results.append((y, dx, y_infer, *(g.copy() for g in layer.grads.values())))
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
