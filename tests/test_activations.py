"""Activation layers: gradients, numerical stability and dtypes."""

import numpy as np
import pytest
from helpers import ENGINES, assert_gradients
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.layers import ReLU, Sigmoid, Softmax, Tanh, get_activation

KINDS = [ReLU, Tanh, Sigmoid, Softmax]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", KINDS)
@given(n=st.integers(1, 4), d=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_activation_gradients(engine, kind, n, d, seed):
    # Unit scale: deep in saturation the true slope (~1e-8) is below what central
    # differences can resolve, so a check there would only measure rounding.
    x = np.random.default_rng(seed).standard_normal((n, d))
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU away from its kink
    assert_gradients(kind(), x, seed=seed, engine=engine)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_are_stable_and_keep_dtype(kind, dtype):
    x = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype)
    y = kind()(x)
    assert y.dtype == dtype and np.all(np.isfinite(y))


def test_get_activation():
    assert get_activation(None) is None and get_activation("linear") is None
    assert isinstance(get_activation("ReLU"), ReLU)
    with pytest.raises(ValueError, match="unknown activation"):
        get_activation("swish!")
