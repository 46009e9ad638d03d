"""Dense, Dropout, Flatten and Reshape: gradients, dtypes and bad input."""

import numpy as np
import pytest
from helpers import ENGINES, assert_gradients, fast_runner
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.layers import Dense, Dropout, Flatten, Reshape

ACTIVATIONS = st.sampled_from([None, "relu", "tanh", "sigmoid", "softmax"])


@pytest.mark.parametrize("engine", ENGINES)
@given(n=st.integers(1, 5), d=st.integers(1, 6), units=st.integers(1, 6),
       extra=st.integers(0, 3), activation=ACTIVATIONS, seed=st.integers(0, 2**16))
def test_dense_gradients(engine, n, d, units, extra, activation, seed):
    rng = np.random.default_rng(seed)
    # extra > 0 adds a middle axis: Dense acts on the last axis, like Keras.
    shape = (n, extra, d) if extra else (n, d)
    assert_gradients(Dense(units, activation=activation), rng.standard_normal(shape), seed=seed,
                     engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
@given(n=st.integers(1, 4), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       rate=st.floats(0.0, 0.9), seed=st.integers(0, 2**16))
def test_dropout_gradients_with_fixed_mask(engine, n, shape, rate, seed):
    x = np.random.default_rng(seed).standard_normal((n, *shape))
    assert_gradients(Dropout(rate), x, training=True, seed=seed, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
@given(n=st.integers(1, 4), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       seed=st.integers(0, 2**16))
def test_flatten_and_reshape_gradients(engine, n, shape, seed):
    x = np.random.default_rng(seed).standard_normal((n, *shape))
    assert_gradients(Flatten(), x, seed=seed, engine=engine)
    assert_gradients(Reshape((-1, shape[0])), x, seed=seed, engine=engine)


def test_dropout_scales_and_drops():
    layer = Dropout(0.5)
    layer.build((10000,), np.float32, np.random.default_rng(0))
    x = np.ones((2, 10000), np.float32)
    y = layer(x, training=True)
    assert y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, 2.0}
    assert abs((y == 0).mean() - 0.5) < 0.02
    np.testing.assert_array_equal(layer(x, training=False), x)  # identity at inference


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "half", True])
def test_dropout_rejects_impossible_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        Dropout(rate)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_keeps_dtype(dtype):
    layer = Dense(3, activation="relu")
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(dtype)
    y = layer(x, training=True)
    dx = layer.backprop(np.ones_like(y))
    assert y.dtype == dx.dtype == dtype
    assert all(p.dtype == dtype for p in (*layer.params.values(), *layer.grads.values()))


def test_dense_first_layer_skips_input_gradient():
    layer = Dense(3)
    x = np.random.default_rng(0).standard_normal((4, 5))
    layer.build(x.shape[1:], np.float64)
    runner = fast_runner(layer, first=True)
    runner.forward(x, True)
    assert runner.backward(np.ones((4, 3))) is None
    np.testing.assert_allclose(layer.grads["W"], x.T @ np.ones((4, 3)))


def test_dense_rejects_wrong_input():
    layer = Dense(3)
    layer.build((5,), np.float32)
    with pytest.raises(ValueError, match=r"dense.*shape \(None, 5\)"):
        layer(np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="float32"):
        layer(np.zeros((2, 5), np.float64))
    with pytest.raises(ValueError, match="units"):
        Dense(0)


def test_reshape_rejects_impossible_shape():
    with pytest.raises(ValueError, match="cannot reshape"):
        Reshape((7,)).build((2, 3))
    with pytest.raises(ValueError, match="invalid target_shape"):
        Reshape((-1, -1))
