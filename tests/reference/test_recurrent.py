"""SimpleRNN, GRU, the LSTM's new options and Bidirectional's merge: the reference pairs.

The sequence loops are exactly T step calls, go_backwards reads the steps in reverse,
and BPTT (with the initial state's gradient) matches central differences.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet import reference as R

from .checks import assert_close, away_from_zero, check_pair, seeds

FAMILIES = {  # name -> (step forward, sequence forward, backward with state, gate blocks)
    "simple_rnn": (R.simple_rnn_step_forward, R.simple_rnn_forward,
                   R.simple_rnn_backward_with_state, 1),
    "gru": (R.gru_step_forward, R.gru_forward, R.gru_backward_with_state, 3),
}


def params(rng, family, D, H):
    """Weights away from 0 (|U| in [0.5, 1)) and small enough to keep the cells off
    saturation: dL/dh0 then never vanishes below the finite differences' resolution
    (through T steps it shrinks like |U|^T, to ~1e-10 for a near-zero U)."""
    k = FAMILIES[family][3]
    b = 0.3 * rng.standard_normal((2, 3 * H) if family == "gru" else k * H)
    return (0.6 * away_from_zero(rng, (D, k * H)), away_from_zero(rng, (H, k * H), low=0.5), b)


@pytest.mark.parametrize("family", FAMILIES)
@given(seed=seeds, N=st.integers(1, 3), T=st.integers(1, 5), D=st.integers(1, 3),
       H=st.integers(1, 3), initial_state=st.booleans(), go_backwards=st.booleans())
def test_forward_is_t_step_calls(family, seed, N, T, D, H, initial_state, go_backwards):
    step, forward, _, _ = FAMILIES[family]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, D))
    W, U, b = params(rng, family, D, H)
    h0 = rng.standard_normal((N, H)) if initial_state else None
    h = np.zeros((N, H)) if h0 is None else h0
    hs = []
    for t in (reversed(range(T)) if go_backwards else range(T)):
        h, _ = step(x[:, t], h, W, U, b)
        hs.append(h)
    y_seq, _ = forward(x, W, U, b, return_sequences=True, go_backwards=go_backwards, h0=h0)
    y_last, cache = forward(x, W, U, b, go_backwards=go_backwards, h0=h0)
    np.testing.assert_array_equal(y_seq, np.stack(hs, axis=1))
    np.testing.assert_array_equal(y_last, h)
    np.testing.assert_array_equal(cache["final_state"][0], h)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
@given(seed=seeds, N=st.integers(1, 2), D=st.integers(1, 3), H=st.integers(1, 3))
def test_simple_rnn_step_gradients(activation, seed, N, D, H):
    rng = np.random.default_rng(seed)
    # Away from the ReLU kink: z = x @ W + h @ U + b with every term well away from 0 is
    # not enough, so the step's pre-activation is checked to be.
    x, h = away_from_zero(rng, (N, D)), away_from_zero(rng, (N, H))
    W, U, b = params(rng, "simple_rnn", D, H)
    if activation == "relu":
        z = x @ W + h @ U + b
        b -= np.where(np.abs(z) < 0.05, np.sign(z + 1e-300) * 0.1, 0).mean(axis=0)
        if np.min(np.abs(x @ W + h @ U + b)) < 1e-3:
            return  # a kink this close would make any finite difference meaningless
    assert_close(check_pair(
        lambda x, h, W, U, b: R.simple_rnn_step_forward(x, h, W, U, b, activation),
        R.simple_rnn_step_backward, [x, h, W, U, b], ["x", "h", "W", "U", "b"], seed))


@given(seed=seeds, N=st.integers(1, 2), D=st.integers(1, 3), H=st.integers(1, 3))
def test_gru_step_gradients(seed, N, D, H):
    rng = np.random.default_rng(seed)
    x, h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    W, U, b = params(rng, "gru", D, H)
    assert_close(check_pair(R.gru_step_forward, R.gru_step_backward, [x, h, W, U, b],
                            ["x", "h", "W", "U", "b"], seed))


@pytest.mark.parametrize("family", ["simple_rnn", "gru", "lstm"])
@given(seed=seeds, N=st.integers(1, 2), T=st.integers(1, 4), D=st.integers(2, 3),
       H=st.integers(1, 2), return_sequences=st.booleans(), go_backwards=st.booleans(),
       final_state_grad=st.booleans())
def test_bptt_with_initial_state_go_backwards_and_final_state(
        family, seed, N, T, D, H, return_sequences, go_backwards, final_state_grad):
    """Every gradient the loop returns, including dL/dh0 (and dc0), and one arriving
    through the returned final state (return_state), against central differences."""
    rng = np.random.default_rng(seed)
    # Small inputs keep the cells off saturation, so dL/dh0 does not vanish below the
    # finite differences' resolution.
    x = 0.3 * rng.standard_normal((N, T, D))
    if family == "lstm":
        W, U = 0.6 * away_from_zero(rng, (D, 4 * H)), away_from_zero(rng, (H, 4 * H), low=0.5)
        b = 0.3 * rng.standard_normal(4 * H)
        states = [rng.standard_normal((N, H)) for _ in range(2)]
    else:
        W, U, b = params(rng, family, D, H)
        states = [rng.standard_normal((N, H))]
    g_final = [rng.standard_normal((N, H)) if final_state_grad else None for _ in states]

    def forward(x, W, U, b, *s0):
        if family == "lstm":
            y, cache = R.lstm_forward(x, W, U, b, return_sequences, *s0,
                                      go_backwards=go_backwards)
        else:
            y, cache = FAMILIES[family][1](x, W, U, b, return_sequences=return_sequences,
                                           go_backwards=go_backwards, h0=s0[0])
        return (y, *(s for s, g in zip(cache["final_state"], g_final, strict=True)
                     if g is not None)), cache

    def backward(dy, *rest):
        *d_final, cache = rest
        if family == "lstm":
            dx, dh0, dc0, dW, dU, db = R.lstm_backward_with_state(dy, cache, *(d_final or ()))
            return dx, dW, dU, db, dh0, dc0
        dx, dh0, dW, dU, db = FAMILIES[family][2](dy, cache, *(d_final or ()))
        return dx, dW, dU, db, dh0

    def pair_forward(*arrays):
        ys, cache = forward(*arrays)
        return (*ys, cache) if len(ys) > 1 else (ys[0], cache)

    names = ["x", "W", "U", "b", "h0", "c0"][:4 + len(states)]
    # 1e-6, the layers' bound: an array of one or two elements can sum to near zero by
    # cancellation, and its relative error is then the finite differences' own.
    assert_close(check_pair(pair_forward, backward, [x, W, U, b, *states], names, seed),
                 tol=1e-6)


@pytest.mark.parametrize("family", ["simple_rnn", "gru", "lstm"])
def test_go_backwards_reads_the_reversed_sequence(family):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 3))
    if family == "lstm":
        W, U, b = (rng.standard_normal(s) for s in [(3, 8), (2, 8), (8,)])
        fwd = lambda x, **kw: R.lstm_forward(x, W, U, b, **kw)  # noqa: E731
        bwd = R.lstm_backward
    else:
        W, U, b = params(rng, family, 3, 2)
        fwd = lambda x, **kw: FAMILIES[family][1](x, W, U, b, **kw)  # noqa: E731
        bwd = getattr(R, f"{family}_backward")
    y_rev, cache_rev = fwd(x, return_sequences=True, go_backwards=True)
    y_flip, cache_flip = fwd(np.ascontiguousarray(x[:, ::-1]), return_sequences=True)
    np.testing.assert_array_equal(y_rev, y_flip)  # outputs in processing order, as Keras
    g = rng.standard_normal(y_rev.shape)
    grads_rev, grads_flip = bwd(g, cache_rev), bwd(g, cache_flip)
    np.testing.assert_array_equal(grads_rev[0], grads_flip[0][:, ::-1])
    for a, b_ in zip(grads_rev[1:], grads_flip[1:], strict=True):
        np.testing.assert_array_equal(a, b_)


def test_lstm_backward_keeps_its_signature_and_results():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 3))
    W, U, b = (rng.standard_normal(s) for s in [(3, 8), (2, 8), (8,)])
    h0, c0 = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    y, cache = R.lstm_forward(x, W, U, b, True, h0, c0)
    g = rng.standard_normal(y.shape)
    old = R.lstm_backward(g, cache)
    dx, _, _, dW, dU, db = R.lstm_backward_with_state(g, cache)
    assert len(old) == 4
    for a, b_ in zip(old, (dx, dW, dU, db), strict=True):
        np.testing.assert_array_equal(a, b_)


def test_gru_step_by_hand():
    # One unit: every gate computed by hand from Keras's reset_after formulation.
    W = np.array([[1.0, -2.0, 0.5]])                    # [z | r | h]
    U = np.array([[0.3, 0.7, -1.5]])
    b = np.array([[0.1, 0.2, 0.3], [-0.2, 0.05, 0.4]])
    x, h_prev = np.array([[0.8]]), np.array([[-0.6]])
    h, _ = R.gru_step_forward(x, h_prev, W, U, b)

    def sig(v):
        return 1 / (1 + np.exp(-v))

    z = sig(0.8 * 1.0 + 0.1 + (-0.6) * 0.3 - 0.2)
    r = sig(0.8 * -2.0 + 0.2 + (-0.6) * 0.7 + 0.05)
    hh = np.tanh(0.8 * 0.5 + 0.3 + r * ((-0.6) * -1.5 + 0.4))
    assert h[0, 0] == pytest.approx(z * -0.6 + (1 - z) * hh, rel=1e-15)


@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave", None])
@given(seed=seeds, shape=st.sampled_from([(2, 3), (2, 4, 3), (1, 1, 1)]))
def test_merge_gradients(mode, seed, shape):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)

    def forward(a, b):
        y, cache = R.merge_forward(a, b, mode)
        return (*y, cache) if mode is None else (y, cache)

    def backward(*dys):
        *dy, cache = dys
        return R.merge_backward(dy if mode is None else dy[0], cache)

    assert_close(check_pair(forward, backward, [a, b], ["forward", "backward"], seed))


def test_merge_values_and_reverse_time():
    a, b = np.array([[1.0, 2.0]]), np.array([[3.0, 5.0]])
    expected = {"concat": [[1, 2, 3, 5]], "sum": [[4, 7]], "mul": [[3, 10]], "ave": [[2, 3.5]]}
    for mode, want in expected.items():
        np.testing.assert_array_equal(R.merge_forward(a, b, mode)[0], want)
    assert R.merge_forward(a, b, None)[0] == [a, b]
    with pytest.raises(ValueError, match="unknown merge mode 'max'"):
        R.merge_forward(a, b, "max")
    y = np.arange(6.0).reshape(1, 3, 2)
    np.testing.assert_array_equal(R.reverse_time(y)[0], [[4, 5], [2, 3], [0, 1]])


@pytest.mark.parametrize("forward", [R.simple_rnn_forward, R.gru_forward])
def test_no_time_steps_raises(forward):
    rng = np.random.default_rng(0)
    W, U, b = params(rng, "gru" if forward is R.gru_forward else "simple_rnn", 2, 3)
    with pytest.raises(ValueError, match="at least one time step"):
        forward(np.zeros((1, 0, 2)), W, U, b)
