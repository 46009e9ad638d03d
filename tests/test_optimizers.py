"""SGD and Adam: the Keras update rules, in-place updates, state dtype, the Adam kernel."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.kernels import adam as adam_kernels
from scratchnet.kernels.adam import adam_update_reference
from scratchnet.optimizers import SGD, Adam, get_optimizer


def run(opt, steps, dtype=np.float64):
    """Apply ``steps`` updates to p with gradient g = 2p (the loss p^2); return the history."""
    p = np.array([1.0, -2.0, 0.5], dtype=dtype)
    before = p
    seen = []
    for _ in range(steps):
        opt.apply([p], [2 * p])
        seen.append(p.copy())
    assert p is before  # updated in place
    return seen


def test_sgd_plain_momentum_and_nesterov_follow_keras():
    lr, mu = 0.1, 0.9
    p0 = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(run(SGD(lr), 1)[0], p0 - lr * 2 * p0)
    # Keras: v = mu v - lr g; p += v  (nesterov: p += mu v - lr g)
    p, v = p0.copy(), np.zeros(3)
    p_n, v_n = p0.copy(), np.zeros(3)
    for got, got_n in zip(run(SGD(lr, mu), 3), run(SGD(lr, mu, nesterov=True), 3), strict=True):
        v = mu * v - lr * 2 * p
        p = p + v
        v_n = mu * v_n - lr * 2 * p_n
        p_n = p_n + mu * v_n - lr * 2 * p_n
        np.testing.assert_allclose(got, p)
        np.testing.assert_allclose(got_n, p_n)


def test_adam_follows_the_textbook_with_keras_epsilon():
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7
    p = np.array([1.0, -2.0, 0.5])
    m = v = np.zeros(3)
    for t, got in enumerate(run(Adam(), 4), start=1):
        g = 2 * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        p = p - alpha * m / (np.sqrt(v) + eps)
        np.testing.assert_allclose(got, p, rtol=1e-12)


@pytest.mark.parametrize("opt", [Adam(), SGD(0.1, 0.9)])
def test_state_and_params_keep_float32(opt):
    run(opt, 2, np.float32)
    assert all(s.dtype == np.float32 for s in opt._slots.values())


@pytest.mark.parametrize("kernel", ["adam_update", "adam_update_serial"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(size=st.integers(1, 3000), t=st.integers(1, 50), seed=st.integers(0, 2**16))
def test_adam_kernel_matches_reference(kernel, dtype, size, t, seed):
    rng = np.random.default_rng(seed)
    p, g = (rng.standard_normal(size).astype(dtype) for _ in range(2))
    m = (rng.standard_normal(size) * 0.1).astype(dtype)
    v = (rng.random(size) * 0.1).astype(dtype)
    alpha = 1e-3 * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)
    ref = [a.copy() for a in (p, m, v)]
    getattr(adam_kernels, kernel)(p, g, m, v, alpha, 0.9, 0.999, 1e-7)
    adam_update_reference(*ref[:1], g, *ref[1:], alpha, 0.9, 0.999, 1e-7)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    for got, want in zip((p, m, v), ref, strict=True):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("bad", [
    lambda: Adam(learning_rate=0), lambda: Adam(beta_1=1.0), lambda: Adam(epsilon=-1),
    lambda: SGD(momentum=1.5), lambda: SGD(learning_rate=-0.1), lambda: get_optimizer("rmsprop!"),
])
def test_impossible_hyperparameters_are_rejected(bad):
    with pytest.raises(ValueError):
        bad()


def test_non_contiguous_parameter_is_rejected():
    p = np.zeros((4, 4))[:, ::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        Adam().apply([p], [np.zeros_like(p)])
