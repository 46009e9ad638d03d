"""Float64 central-difference checks of every reference pair, input and every parameter.

Shapes are drawn by hypothesis; values come from a drawn seed. Inputs of ReLU and
max-pool stay away from kinks and ties (see ``checks``), where no finite difference
agrees with any derivative. Tolerance: ``checks.TOL``.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet import reference as R

from .checks import assert_close, away_from_zero, check_pair, distinct, image_geometry, seeds


@given(seed=seeds, N=st.integers(1, 3), lead=st.lists(st.integers(1, 3), max_size=1),
       D=st.integers(1, 4), U=st.integers(1, 4), bias=st.booleans())
def test_dense(seed, N, lead, D, U, bias):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, *lead, D))
    W = rng.standard_normal((D, U))
    b = rng.standard_normal(U) if bias else None
    errors = check_pair(lambda x, W, *b_: R.dense_forward(x, W, b_[0] if b_ else None),
                        lambda dy, c: R.dense_backward(dy, c)[:2 + bias],
                        [x, W, b][:2 + bias], ["x", "W", "b"][:2 + bias], seed)
    assert_close(errors)
    assert R.dense_backward(np.ones((N, *lead, U)), R.dense_forward(x, W, None)[1])[2] is None


@pytest.mark.parametrize("forward, backward", [
    (R.conv2d_forward, R.conv2d_backward),
    (R.conv2d_forward_naive, R.conv2d_backward_naive),
], ids=["im2col", "naive"])
@given(seed=seeds, geometry=image_geometry(), F=st.integers(1, 2), bias=st.booleans())
def test_conv2d(forward, backward, seed, geometry, F, bias):
    x_shape, (kh, kw), strides, padding = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    W = rng.standard_normal((kh, kw, x_shape[3], F))
    b = rng.standard_normal(F) if bias else None
    errors = check_pair(lambda x, W, *b_: forward(x, W, b_[0] if b_ else None, strides, padding),
                        lambda dy, c: backward(dy, c)[:2 + bias],
                        [x, W, b][:2 + bias], ["x", "W", "b"][:2 + bias], seed)
    assert_close(errors)


@given(seed=seeds, geometry=image_geometry())
def test_maxpool(seed, geometry):
    x_shape, pool, strides, padding = geometry
    x = distinct(np.random.default_rng(seed), x_shape)
    assert_close(check_pair(lambda x: R.maxpool_forward(x, pool, strides, padding),
                            R.maxpool_backward, [x], ["x"], seed))


@given(seed=seeds, shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       rate=st.sampled_from([0.0, 0.25, 0.5, 0.9]))
def test_dropout(seed, shape, rate):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    keep = rng.random(shape) >= rate
    assert_close(check_pair(lambda x: R.dropout_forward(x, keep, rate), R.dropout_backward,
                            [x], ["x"], seed))


@given(seed=seeds, N=st.integers(1, 3), a=st.integers(1, 4), b=st.integers(1, 4),
       c=st.integers(1, 3))
def test_reshape_and_flatten(seed, N, a, b, c):
    x = np.random.default_rng(seed).standard_normal((N, a, b, c))
    for shape in [(b, a * c), (c, -1), (a * b * c,)]:
        assert_close(check_pair(lambda x, s=shape: R.reshape_forward(x, s), R.reshape_backward,
                                [x], ["x"], seed))
    assert_close(check_pair(R.flatten_forward, R.flatten_backward, [x], ["x"], seed))


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "softmax"])
@given(seed=seeds, shape=st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_activation(name, seed, shape):
    rng = np.random.default_rng(seed)
    x = away_from_zero(rng, shape) * 3
    forward, backward = getattr(R, f"{name}_forward"), getattr(R, f"{name}_backward")
    assert_close(check_pair(forward, backward, [x], ["x"], seed))


@given(seed=seeds, N=st.integers(1, 3), D=st.integers(1, 3), H=st.integers(1, 3))
def test_lstm_step(seed, N, D, H):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in
              [(N, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,)]]
    assert_close(check_pair(R.lstm_step_forward, R.lstm_step_backward, arrays,
                            ["x_t", "h_prev", "c_prev", "W", "U", "b"], seed))


@given(seed=seeds, N=st.integers(1, 2), T=st.integers(1, 4), D=st.integers(1, 3),
       H=st.integers(1, 3), return_sequences=st.booleans(), initial_state=st.booleans())
def test_lstm_bptt(seed, N, T, D, H, return_sequences, initial_state):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, D))
    W, U, b = (rng.standard_normal(s) for s in [(D, 4 * H), (H, 4 * H), (4 * H,)])
    h0, c0 = (rng.standard_normal((N, H)) if initial_state else None for _ in range(2))
    assert_close(check_pair(
        lambda x, W, U, b: R.lstm_forward(x, W, U, b, return_sequences, h0, c0),
        R.lstm_backward, [x, W, U, b], ["x", "W", "U", "b"], seed))


@given(seed=seeds, N=st.integers(1, 4), C=st.integers(1, 5))
def test_softmax_cross_entropy(seed, N, C):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((N, C)) * 3
    labels = rng.integers(0, C, N)
    assert_close(check_pair(lambda z: R.softmax_cross_entropy_forward(z, labels),
                            R.softmax_cross_entropy_backward, [logits], ["logits"], seed))
