"""use_bias=False on Dense and Conv2D, and the Activation layer: gradients on both engines
and engine agreement, on hypothesis shapes (float64)."""

import numpy as np
import pytest
from helpers import ENGINES, assert_gradients, fast_runner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scratchnet.gradcheck import rel_error
from scratchnet.layers import Activation, Conv2D, Dense

seeds = st.integers(0, 2**16)


def agree(layer, x, seed):
    y0 = layer(x, training=True)
    g = np.random.default_rng(seed).standard_normal(y0.shape)
    dx0 = layer.backprop(g)
    grads0 = {k: v.copy() for k, v in layer.grads.items()}
    runner = fast_runner(layer)
    y1 = runner.forward(x, True)
    dx1 = runner.backward(g)
    assert rel_error(y1, y0) <= 1e-12 and rel_error(dx1, dx0) <= 1e-12
    for key in grads0:
        assert rel_error(layer.grads[key], grads0[key]) <= 1e-12


def pre_activation(layer, x, padding):
    """``x`` convolved with ``layer``'s kernel (3 x 3, no bias), before any activation."""
    linear = Conv2D(layer.params["W"].shape[-1], 3, padding=padding, use_bias=False)
    linear.build(x.shape[1:], np.float64, np.random.default_rng(0))
    linear.params["W"][...] = layer.params["W"]
    return linear.forward(x, False)


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 5), units=st.integers(1, 5),
       activation=st.sampled_from([None, "relu", "tanh", "softmax"]), seed=seeds)
def test_dense_without_bias(engine, n, d, units, activation, seed):
    layer = Dense(units, activation=activation, use_bias=False)
    layer.build((d,), np.float64, np.random.default_rng(seed))
    assert set(layer.params) == {"W"} and layer.count_params() == d * units
    x = np.random.default_rng(seed + 1).standard_normal((n, d))
    assert_gradients(layer, x, engine=engine, seed=seed)
    agree(layer, x, seed)


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 3), size=st.integers(3, 6), c=st.integers(1, 3), f=st.integers(1, 3),
       padding=st.sampled_from(["valid", "same"]), activation=st.sampled_from([None, "relu"]),
       seed=seeds)
def test_conv2d_without_bias(engine, n, size, c, f, padding, activation, seed):
    layer = Conv2D(f, 3, padding=padding, activation=activation, use_bias=False)
    layer.build((size, size, c), np.float64, np.random.default_rng(seed))
    assert set(layer.params) == {"W"}
    x = np.random.default_rng(seed + 1).standard_normal((n, size, size, c))
    # Keep the ReLUs' pre-activations (this layer's and the relu first layer's below, both
    # x convolved with the same kernel) off the kink, where finite differences straddle
    # two slopes.
    for pad in {padding, "valid"}:
        assume(np.min(np.abs(pre_activation(layer, x, pad))) > 1e-3)
    assert_gradients(layer, x, engine=engine, seed=seed)
    agree(layer, x, seed)
    first = Conv2D(f, 3, activation="relu", use_bias=False)  # a first layer's fused dW path
    first.build((size, size, c), np.float64, np.random.default_rng(seed))
    assert_gradients(first, x, engine="fast", seed=seed, first=True)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "softmax", "linear"])
def test_activation_layer(engine, name):
    layer = Activation(name)
    x = np.random.default_rng(0).standard_normal((3, 4)) + 0.05
    layer.build((4,), np.float64)
    if name != "linear":
        assert_gradients(layer, x, engine=engine)
    agree(layer, x, 0)
    with pytest.raises(ValueError, match="unknown activation.*relu"):
        Activation("gelu!")
