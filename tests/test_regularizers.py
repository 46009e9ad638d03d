"""Regularizers: Keras's formulas, their gradients, and their place in a model's step."""

import numpy as np
import pytest
from helpers import ENGINES

from scratchnet import Input, Sequential, parallel
from scratchnet.gradcheck import check_model, numerical_gradient, rel_error
from scratchnet.layers import GRU, LSTM, BatchNormalization, Bidirectional, Conv2D, Dense, Flatten
from scratchnet.regularizers import L1, L1L2, L2, get_regularizer


def test_keras_formulas_and_defaults():
    w = np.array([[1.0, -2.0], [0.0, 3.0]])
    assert L1().l1 == 0.01 and L2().l2 == 0.01 and (L1L2().l1, L1L2().l2) == (0.0, 0.0)
    assert L1(0.1).penalty(w) == pytest.approx(0.6)
    assert L2(0.1).penalty(w) == pytest.approx(1.4)
    assert L1L2(0.1, 0.1)(w) == pytest.approx(2.0)
    np.testing.assert_allclose(L1L2(0.1, 0.2).gradient(w), 0.1 * np.sign(w) + 0.4 * w)


@pytest.mark.parametrize("reg", [L1(0.3), L2(0.7), L1L2(0.2, 0.5)])
def test_gradients_match_finite_differences(reg):
    w = np.random.default_rng(0).uniform(0.1, 1, (3, 4)) * np.array([1, -1, 1, -1])
    assert rel_error(reg.gradient(w), numerical_gradient(lambda: reg.penalty(w), w)) < 1e-8


def test_bad_strengths_and_names():
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        L2(-1e-4)
    with pytest.raises(ValueError, match="l1"):
        L1L2(l1=-0.1)
    with pytest.raises(ValueError, match=r"unknown regularizer 'l3'.*'l1'.*'l2'"):
        get_regularizer("l3")
    assert isinstance(get_regularizer("l2"), L2)
    with pytest.raises(ValueError, match="no parameter 'b'.*bias_regularizer"):
        Dense(2, use_bias=False, bias_regularizer="l2").build((3,), np.float64)


def model(engine, **regs):
    return Sequential([
        Input((6, 6, 1)), Conv2D(2, 3, activation="relu", kernel_regularizer=regs.get("conv")),
        Flatten(), Dense(4, activation="tanh", kernel_regularizer=regs.get("dense"),
                         bias_regularizer=regs.get("bias")),
        BatchNormalization(), Dense(3, activation="softmax"),
    ], seed=1, dtype="float64", engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_penalty_joins_the_loss_and_its_gradient_the_parameters(engine):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 6, 6, 1)), rng.integers(0, 3, 12)
    plain = model(engine)
    plain.compile("sgd")
    loss0, _ = plain.compute_gradients(x, y)
    g0 = [g.copy() for g in plain.gradients]
    regs = {"conv": L2(0.1), "dense": L1(0.05), "bias": L1L2(0.01, 0.02)}
    reg = model(engine, **regs)
    reg.compile("sgd")
    loss1, _ = reg.compute_gradients(x, y)
    W_conv, W_dense, b_dense = (reg.layers[0].params["W"], reg.layers[2].params["W"],
                                reg.layers[2].params["b"])
    b_dense[...] = 0.0  # built zeros; the sign of 0 is 0
    penalty = (regs["conv"](W_conv) + regs["dense"](W_dense) + regs["bias"](b_dense))
    assert loss1 == pytest.approx(loss0 + penalty, rel=1e-12)
    assert reg.regularization_loss() == pytest.approx(penalty, rel=1e-12)
    np.testing.assert_allclose(reg.gradients[0], g0[0] + 0.2 * W_conv, rtol=1e-12)
    np.testing.assert_allclose(reg.gradients[2], g0[2] + 0.05 * np.sign(W_dense), rtol=1e-12)
    errors = check_model(reg, x, y)
    assert max(errors.values()) < 1e-6, errors


def test_once_per_step_whatever_the_workers():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 6, 6, 1)), rng.integers(0, 3, 40)
    out = []
    try:
        for n in (1, 2):
            parallel.set_workers(n)
            m = model("fast", conv=L2(0.1), dense=L1(0.01))
            m.compile("sgd")
            out.append((m.compute_gradients(x, y)[0], [g.copy() for g in m.gradients]))
    finally:
        parallel.set_workers(None)
    assert out[0][0] == pytest.approx(out[1][0], rel=1e-12)
    for a, b in zip(out[0][1], out[1][1], strict=True):
        assert rel_error(a, b) < 1e-12


def test_lstm_takes_all_three():
    layer = LSTM(3, kernel_regularizer="l2", recurrent_regularizer=L1(0.1), bias_regularizer="l1")
    layer.build((4, 2), np.float64)
    assert set(layer.regularizers) == {"kernel_regularizer", "recurrent_regularizer",
                                       "bias_regularizer"}
    expected = (0.01 * (layer.params["W"] ** 2).sum() + 0.1 * np.abs(layer.params["U"]).sum()
                + 0.01 * np.abs(layer.params["b"]).sum())
    assert layer.regularization_penalty() == pytest.approx(expected)


@pytest.mark.parametrize("engine", ENGINES)
def test_bidirectional_applies_its_wrapped_layers_penalties(engine):
    # Both copies of the wrapped layer carry its regularizers; their arrays are the
    # Bidirectional's "forward/..." and "backward/..." params.
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4, 2)), rng.integers(0, 3, 6)
    m = Sequential([Input((4, 2)), Bidirectional(GRU(3, kernel_regularizer=L2(0.1),
                                                      recurrent_regularizer=L1(0.05))),
                    Dense(3, activation="softmax")], seed=0, dtype="float64", engine=engine)
    m.compile("sgd")
    m.build()
    p = m.layers[0].params
    expected = sum(0.1 * (p[f"{d}/W"] ** 2).sum() + 0.05 * np.abs(p[f"{d}/U"]).sum()
                   for d in ("forward", "backward"))
    assert m.regularization_loss() == pytest.approx(expected, rel=1e-12) and expected > 0
    errors = check_model(m, x, y)
    assert max(errors.values()) < 1e-6, errors
