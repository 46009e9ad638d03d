"""The BatchNormalization reference pair: finite differences, Keras's formulas, and the
full backward equal to the collapsed textbook one."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from scratchnet import reference as R

from .checks import assert_close, check_pair, seeds


@given(seed=seeds, shape=st.sampled_from([(4, 3), (2, 3, 3, 2), (3, 2, 5), (5, 1)]),
       scale=st.booleans(), center=st.booleans())
def test_training_pair_gradients(seed, shape, scale, center):
    # Not the stream check_pair draws dL/dy from: an upstream gradient that is an affine
    # function of x is one a normalisation is nearly blind to (dx cancels to ~0).
    rng = np.random.default_rng([seed, 1])
    x = rng.standard_normal(shape) * 2 + 1
    C = shape[-1]
    gamma = rng.standard_normal(C) if scale else None
    beta = rng.standard_normal(C) if center else None
    arrays = [a for a in (x, gamma, beta) if a is not None]
    names = ["x", "gamma", "beta"][:1] + (["gamma"] if scale else []) + (["beta"] if center else [])

    def forward(x, *p):
        p = list(p)
        g = p.pop(0) if scale else None
        b = p.pop(0) if center else None
        return R.batchnorm_forward(x, g, b, 1e-3)

    def backward(dy, cache):
        dx, dg, db = R.batchnorm_backward(dy, cache)
        return tuple(a for a in (dx, dg, db) if a is not None)

    # 1e-6, not checks.TOL: with one channel, dgamma = sum(dy x_hat) is a single sum of a
    # few terms that can nearly cancel, and the finite difference's rounding (~1e-10)
    # then weighs more relative to it.
    assert_close(check_pair(forward, backward, arrays, names, seed), tol=1e-6)


@given(seed=seeds, shape=st.sampled_from([(4, 3), (2, 3, 3, 2)]))
def test_inference_pair_gradients(seed, shape):
    rng = np.random.default_rng([seed, 1])
    x, gamma, beta = (rng.standard_normal(shape), rng.standard_normal(shape[-1]),
                      rng.standard_normal(shape[-1]))
    mm, mv = rng.standard_normal(shape[-1]), rng.uniform(0.5, 2, shape[-1])
    errors = check_pair(lambda x, g, b: R.batchnorm_inference_forward(x, g, b, mm, mv, 1e-3),
                        R.batchnorm_inference_backward, [x, gamma, beta], ["x", "gamma", "beta"],
                        seed)
    assert_close(errors)


def test_keras_formula_and_collapsed_backward():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 2, 2, 3))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    y, cache = R.batchnorm_forward(x, gamma, beta, 1e-3)
    rows = x.reshape(-1, 3)
    expected = gamma * (rows - rows.mean(0)) / np.sqrt(rows.var(0) + 1e-3) + beta  # biased var
    np.testing.assert_allclose(y.reshape(-1, 3), expected, rtol=1e-12)
    np.testing.assert_allclose(cache["var"], rows.var(0), rtol=1e-12)
    # The collapsed form: dx = gamma inv_std / m (m dy - sum dy - x_hat sum(dy x_hat)).
    dy = rng.standard_normal(x.shape)
    dx, dgamma, dbeta = R.batchnorm_backward(dy, cache)
    d = dy.reshape(-1, 3)
    inv_std = 1 / np.sqrt(rows.var(0) + 1e-3)
    x_hat = (rows - rows.mean(0)) * inv_std
    m = len(rows)
    collapsed = gamma * inv_std / m * (m * d - d.sum(0) - x_hat * (d * x_hat).sum(0))
    np.testing.assert_allclose(dx.reshape(-1, 3), collapsed, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dgamma, (d * x_hat).sum(0), rtol=1e-12)
    np.testing.assert_allclose(dbeta, d.sum(0), rtol=1e-12)
