"""LSTM: the sequence loop is exactly T step calls; BPTT against finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet import reference as R

from .checks import assert_close, check_pair, seeds


def lstm_params(rng, D, H):
    return (rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H)),
            rng.standard_normal(4 * H))


@given(seed=seeds, N=st.integers(1, 3), T=st.integers(1, 5), D=st.integers(1, 3),
       H=st.integers(1, 3), initial_state=st.booleans())
def test_forward_is_t_step_calls(seed, N, T, D, H, initial_state):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, D))
    W, U, b = lstm_params(rng, D, H)
    h0, c0 = (rng.standard_normal((N, H)) if initial_state else None for _ in range(2))
    h = np.zeros((N, H)) if h0 is None else h0
    c = np.zeros((N, H)) if c0 is None else c0
    hs = []
    for t in range(T):
        h, c, _ = R.lstm_step_forward(x[:, t], h, c, W, U, b)
        hs.append(h)
    y_seq, _ = R.lstm_forward(x, W, U, b, return_sequences=True, h0=h0, c0=c0)
    y_last, _ = R.lstm_forward(x, W, U, b, h0=h0, c0=c0)
    np.testing.assert_array_equal(y_seq, np.stack(hs, axis=1))
    np.testing.assert_array_equal(y_last, h)


def test_step_by_hand():
    # One unit, one input, every weight chosen so each gate is easy to compute by hand.
    W = np.array([[1.0, 2.0, 3.0, 4.0]])       # [i | f | g | o]
    U = np.array([[0.5, -0.5, 0.25, -0.25]])
    b = np.array([0.1, 0.2, 0.3, 0.4])
    x, h_prev, c_prev = np.array([[0.5]]), np.array([[-1.0]]), np.array([[2.0]])
    h, c, _ = R.lstm_step_forward(x, h_prev, c_prev, W, U, b)

    def sig(v):
        return 1 / (1 + np.exp(-v))

    z = 0.5 * W[0] - 1.0 * U[0] + b
    c_expected = sig(z[1]) * 2.0 + sig(z[0]) * np.tanh(z[2])
    assert c[0, 0] == pytest.approx(c_expected, rel=1e-15)
    assert h[0, 0] == pytest.approx(sig(z[3]) * np.tanh(c_expected), rel=1e-15)


@given(seed=seeds, N=st.integers(1, 2), T=st.integers(2, 4), D=st.integers(1, 2),
       H=st.integers(1, 2))
def test_bptt_with_every_output_and_an_initial_state(seed, N, T, D, H):
    # The case where dh reaches a step both from its own output and from step t+1.
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, D))
    W, U, b = lstm_params(rng, D, H)
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    assert_close(check_pair(
        lambda x, W, U, b: R.lstm_forward(x, W, U, b, return_sequences=True, h0=h0, c0=c0),
        R.lstm_backward, [x, W, U, b], ["x", "W", "U", "b"], seed))


def test_bptt_gradient_reaches_the_first_step():
    # Only the last h is the output; the first step's input must still get a gradient.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 3))
    W, U, b = lstm_params(rng, 3, 4)
    y, cache = R.lstm_forward(x, W, U, b)
    dx, dW, dU, db = R.lstm_backward(np.ones_like(y), cache)
    assert dx.shape == x.shape and dW.shape == W.shape and dU.shape == U.shape
    assert db.shape == b.shape
    assert np.all(np.abs(dx[:, 0]).sum(axis=-1) > 0)


def test_no_time_steps_raises():
    W, U, b = lstm_params(np.random.default_rng(0), 2, 3)
    with pytest.raises(ValueError, match="at least one time step"):
        R.lstm_forward(np.zeros((1, 0, 2)), W, U, b)
