"""BatchNormalization: gradients on both engines, Keras's moving statistics, the kernels,
and the statistics of the whole batch when a batch runs in shards."""

import re

import numpy as np
import pytest
from helpers import ENGINES, assert_gradients, fast_runner
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet import Input, Sequential, blas, parallel
from scratchnet.gradcheck import check_model, rel_error
from scratchnet.kernels import batchnorm as k
from scratchnet.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
)
from scratchnet.seed_models import cnn_batchnorm, mlp_baseline

needs_blas_control = pytest.mark.skipif(
    not blas.controllable(), reason="no OpenBLAS whose thread count can be set: "
    "batches never run in shards here")

shapes = st.sampled_from([(5, 3), (3, 4, 4, 2), (2, 3, 5), (4, 1)])


@pytest.fixture
def workers():
    yield parallel.set_workers
    parallel.set_workers(None)


def built(shape, seed, **kwargs):
    rng = np.random.default_rng(seed)
    layer = BatchNormalization(**kwargs)
    layer.build(shape[1:], np.float64, rng)
    for key in layer.params:
        layer.params[key][...] = rng.standard_normal(layer.params[key].shape)
    return layer, rng.standard_normal(shape) * 1.5 + 0.5


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=15, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), center=st.booleans(), scale=st.booleans(),
       first_axis=st.booleans())
def test_gradients_both_engines(engine, shape, seed, center, scale, first_axis):
    axis = 1 if first_axis and len(shape) > 2 else -1
    layer, x = built(shape, seed, center=center, scale=scale, axis=axis)
    assert_gradients(layer, x, engine=engine, seed=seed)


@pytest.mark.parametrize("engine", ENGINES)
def test_inference_gradients(engine):
    layer, x = built((4, 3, 3, 2), 0)
    layer.state["moving_variance"][...] = [0.5, 2.0]
    assert_gradients(layer, x, training=False, engine=engine)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), training=st.booleans())
def test_engines_agree(shape, seed, training):
    layer, x = built(shape, seed)
    layer.state["moving_mean"][...] = 0.3
    y0 = layer(x, training=training)
    runner = fast_runner(layer)
    y1 = runner.forward(x, training)
    assert rel_error(y1, y0) <= 1e-12
    g = np.random.default_rng(seed).standard_normal(y0.shape)
    dx0 = layer.backprop(g)
    grads0 = {key: v.copy() for key, v in layer.grads.items()}
    dx1 = runner.backward(g)
    assert rel_error(dx1, dx0) <= 1e-12
    for key in grads0:
        assert rel_error(layer.grads[key], grads0[key]) <= 1e-12


@pytest.mark.parametrize("engine", ENGINES)
def test_moving_statistics_follow_keras_and_serve_inference(engine):
    layer, x = built((6, 2, 2, 3), 1, momentum=0.9)
    forward = layer if engine == "reference" else fast_runner(layer).forward
    rows = x.reshape(-1, 3)
    forward(x, True)
    np.testing.assert_allclose(layer.state["moving_mean"], 0.1 * rows.mean(0), rtol=1e-12)
    np.testing.assert_allclose(layer.state["moving_variance"], 0.9 + 0.1 * rows.var(0),
                               rtol=1e-12)  # the biased variance, as Keras
    y = forward(x, False)
    mm, mv = layer.state["moving_mean"], layer.state["moving_variance"]
    expected = (x - mm) / np.sqrt(mv + 1e-3) * layer.params["gamma"] + layer.params["beta"]
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    assert [a.shape for a in layer.get_weights()] == [(3,)] * 4  # gamma, beta, mean, var


@pytest.mark.parametrize("engine", ENGINES)
def test_a_training_batch_of_one_is_refused(engine):
    layer, x = built((1, 4), 0)
    forward = layer if engine == "reference" else fast_runner(layer).forward
    with pytest.raises(ValueError, match="more than one value per channel.*batch_size"):
        forward(x, True)
    forward(x, False)  # inference on one sample is fine


def test_bad_arguments():
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        BatchNormalization(epsilon=0)
    with pytest.raises(ValueError, match="not a feature axis"):
        BatchNormalization(axis=0).build((3,), np.float64)


# -- the kernels -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("M,C", [(1, 1), (37, 5), (300, 19), (2000, 40)])
def test_kernels_equal_their_references_and_twins_are_bit_identical(dtype, tol, M, C):
    rng = np.random.default_rng(M + C)
    x = (rng.standard_normal((M, C)) * 3 + 1).astype(dtype)
    dy = rng.standard_normal((M, C)).astype(dtype)
    mean, inv_std = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    gamma, beta = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    s = [np.empty(C) for _ in range(6)]
    k.batchnorm_moments_reference(x, mean, s[0], s[1])
    for kernel in (k.batchnorm_moments_serial, k.batchnorm_moments_parallel):
        out = [np.empty(C), np.empty(C)]
        kernel(x, mean, *out)
        for a, b in zip(out, s[:2], strict=True):
            assert rel_error(a, b) <= 1e-12  # float64 accumulation in both
        s[2:4] = out if kernel is k.batchnorm_moments_serial else s[2:4]
    out = [np.empty(C), np.empty(C)]
    k.batchnorm_moments_parallel(x, mean, *out)
    assert all(np.array_equal(a, b) for a, b in zip(out, s[2:4], strict=True))

    k.batchnorm_grad_sums_reference(dy, x, mean, inv_std, s[4], s[5])
    twins = []
    for kernel in (k.batchnorm_grad_sums_serial, k.batchnorm_grad_sums_parallel):
        out = [np.empty(C), np.empty(C)]
        kernel(dy, x, mean, inv_std, *out)
        assert rel_error(out[0], s[4]) <= 1e-12 and rel_error(out[1], s[5]) <= 1e-12
        twins.append(out)
    assert all(np.array_equal(a, b) for a, b in zip(*twins, strict=True))

    md, sd = mean.astype(dtype), inv_std.astype(dtype)
    ref = np.empty_like(x)
    k.batchnorm_normalize_reference(x, md, sd, gamma, beta, ref)
    twins = []
    for kernel in (k.batchnorm_normalize_serial, k.batchnorm_normalize_parallel):
        y = np.empty_like(x)
        kernel(x, md, sd, gamma, beta, y)
        assert rel_error(y, ref) <= tol
        twins.append(y)
    assert np.array_equal(*twins)

    s1, s2, m = s[4].astype(dtype), s[5].astype(dtype), dtype(M)
    ref = np.empty_like(x)
    k.batchnorm_input_grad_reference(dy, x, md, sd, gamma, s1, s2, m, ref)
    twins = []
    for kernel in (k.batchnorm_input_grad_serial, k.batchnorm_input_grad_parallel):
        dx = np.empty_like(x)
        kernel(dy, x, md, sd, gamma, s1, s2, m, dx)
        assert rel_error(dx, ref) <= tol * 10
        twins.append(dx)
    assert np.array_equal(*twins)


def test_kernels_propagate_nan_like_their_references():
    x = np.ones((4, 2))
    x[1, 0] = np.nan
    s1, s2 = np.empty(2), np.empty(2)
    k.batchnorm_moments(x, np.zeros(2), s1, s2)
    assert np.isnan(s1[0]) and np.isnan(s2[0]) and s1[1] == 4
    y = np.empty_like(x)
    k.batchnorm_normalize(x, np.zeros(2), np.ones(2), np.ones(2), np.zeros(2), y)
    assert np.isnan(y[1, 0]) and np.isfinite(np.delete(y.ravel(), 2)).all()


# -- in a model, and in shards ------------------------------------------------------------------
def bn_cnn(engine="fast", dtype="float64"):
    return Sequential([
        Input((10, 10, 1)),
        Conv2D(3, 3, use_bias=False), BatchNormalization(), Activation("relu"), MaxPool2D(),
        Dropout(0.25), Flatten(),
        Dense(6, use_bias=False), BatchNormalization(), Activation("relu"),
        Dense(4, activation="softmax"),
    ], seed=2, dtype=dtype, engine=engine)


def train(model, workers_, n_workers, steps=3, n=40):
    workers_(n_workers)
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((n, 10, 10, 1)).astype(model.dtype), rng.integers(0, 4, n)
    model.build()
    model.reseed(7)
    losses = [model.train_step(x, y)[0] for _ in range(steps)]
    weights = [w.copy() for layer in model.layers for w in layer.get_weights()]
    return losses, weights


@needs_blas_control
def test_one_two_and_three_workers_compute_whole_batch_statistics(workers):
    """One, two and three shards train alike: each shard normalises with the statistics
    of the whole batch (a shard's own would differ at the first digit)."""
    results = {n: train(bn_cnn(), workers, n) for n in (1, 2, 3)}
    assert parallel.shard_bounds(40) == [0, 13, 26, 40]
    ref = train(bn_cnn("reference"), workers, 1)
    for n in (1, 2, 3):
        losses, weights = results[n]
        np.testing.assert_allclose(losses, ref[0], rtol=1e-12)
        for a, b in zip(weights, ref[1], strict=True):
            assert rel_error(a, b) <= 1e-11
    # The same seed and workers give bit-identical weights, moving statistics included.
    again = train(bn_cnn(), workers, 2)
    assert all(np.array_equal(a, b) for a, b in zip(again[1], results[2][1], strict=True))


@needs_blas_control
def test_sharded_bn_model_passes_the_finite_difference_check(workers):
    workers(2)
    model = bn_cnn()
    model.compile("adam")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2 * parallel.MIN_SHARD + 3, 10, 10, 1)), rng.integers(0, 4, 19)
    errors = check_model(model, x, y, training=True)
    assert max(errors.values()) <= 1e-6, errors


class FailsOnShardOne(Layer):
    """Raises on the rows holding the marker value: those of the last shard only."""

    def forward(self, x, training):
        if training and np.any(x == 99.0):
            raise ArithmeticError("marker row reached")
        return x

    def backward(self, dy):
        return dy


@needs_blas_control
def test_a_failing_shard_releases_the_others_and_its_error_is_raised(workers):
    workers(2)
    model = Sequential([Input((3,)), FailsOnShardOne(), BatchNormalization(),
                        Dense(2, activation="softmax")], dtype="float64")
    model.compile("sgd")
    x = np.random.default_rng(0).standard_normal((20, 3))
    x[-1, 0] = 99.0
    with pytest.raises(ArithmeticError, match="marker"):
        model.train_step(x, np.zeros(20, dtype=int))
    x[-1, 0] = 0.0
    model.train_step(x, np.zeros(20, dtype=int))  # the next step runs normally


def test_the_issue_baselines_count_keras_parameters():
    assert mlp_baseline(10).count_params() == 535_818
    model = cnn_batchnorm(10)
    text = model.summary(print_fn=lambda s: None)
    assert "Total params: 225,930" in text
    assert "Non-trainable params: 448" in text
    assert "Trainable params: 225,482" in text
    # Keras's row: the moving statistics count in the layer's Param #.
    row = r"batch_normalization(_\d+)? \(BatchNormalization\)\s+\(None, 26, 26, 32\)\s+128\n"
    assert re.search(row, text)


@needs_blas_control
def test_sharded_inference_uses_the_moving_statistics(workers):
    model = bn_cnn(dtype="float32")
    train(model, workers, 2, steps=2)
    x = np.random.default_rng(9).standard_normal((40, 10, 10, 1)).astype(np.float32)
    workers(2)
    sharded = model.predict(x, batch_size=40)
    workers(1)
    whole = model.predict(x, batch_size=40)
    single = np.concatenate([model.predict(x[i:i + 1]) for i in range(3)])
    np.testing.assert_allclose(sharded, whole, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(single, whole[:3], rtol=2e-5, atol=1e-6)  # no batch statistics
