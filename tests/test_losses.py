"""The Keras losses: reference pairs against finite differences, Keras's formulas on
probabilities, fusion with a final softmax/sigmoid, one-hot labels, and bad input."""

import numpy as np
import pytest
from helpers import ENGINES
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet import Input, Sequential
from scratchnet import reference as R
from scratchnet.gradcheck import check_model, numerical_gradient, rel_error
from scratchnet.layers import Activation, Dense
from scratchnet.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    get_loss,
    to_categorical,
)

seeds = st.integers(0, 2**16)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fd_check(loss, outputs, targets, tol=1e-7):
    """The loss's gradient (fast and reference) against central differences."""
    _, fast = loss(outputs, targets)
    _, reference = loss.reference(outputs, targets)
    numeric = numerical_gradient(lambda: loss(outputs, targets)[0], outputs)
    assert rel_error(fast, numeric) < tol and rel_error(reference, numeric) < tol


@settings(deadline=None)
@given(seed=seeds, N=st.integers(1, 5), C=st.integers(2, 5), smoothing=st.sampled_from([0, 0.1]))
def test_crossentropies_on_probabilities_and_logits(seed, N, C, smoothing):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((N, C))
    p = softmax(z)
    labels = rng.integers(0, C, N)
    onehot = to_categorical(labels, C, dtype="float64")
    for loss, t in [(CategoricalCrossentropy(label_smoothing=smoothing), onehot),
                    (SparseCategoricalCrossentropy(), labels)]:
        fd_check(loss, p.copy(), t)
        fd_check(loss.fused(), z.copy(), t)
        # the same value whether it gets the probabilities or their logits
        assert loss(p, t)[0] == pytest.approx(loss.fused()(z, t)[0], rel=1e-9)
    smoothed = onehot * (1 - smoothing) + smoothing / C  # Keras's formula
    expected = -(smoothed * np.log(p)).sum(axis=1).mean()
    assert CategoricalCrossentropy(label_smoothing=smoothing)(p, onehot)[0] == \
        pytest.approx(expected, rel=1e-9)


@settings(deadline=None)
@given(seed=seeds, N=st.integers(1, 5), C=st.integers(1, 4))
def test_binary_mse_mae(seed, N, C):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((N, C))
    p = 1 / (1 + np.exp(-z))
    t = rng.integers(0, 2, (N, C)).astype(float)
    fd_check(BinaryCrossentropy(), p.copy(), t)
    fd_check(BinaryCrossentropy(from_logits=True), z.copy(), t)
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()
    assert BinaryCrossentropy()(p, t)[0] == pytest.approx(bce, rel=1e-9)
    assert BinaryCrossentropy(from_logits=True)(z, t)[0] == pytest.approx(bce, rel=1e-9)
    y = rng.standard_normal((N, C)) + 0.05  # away from the kink of |y - t|
    fd_check(MeanSquaredError(), y.copy(), t)
    fd_check(MeanAbsoluteError(), y.copy(), t)
    assert MeanSquaredError()(y, t)[0] == pytest.approx(((y - t) ** 2).mean())
    assert MeanAbsoluteError()(y, t)[0] == pytest.approx(np.abs(y - t).mean())


def test_probabilities_are_clipped_as_keras():
    p = np.array([[0.0, 1.0], [0.5, 0.5]])
    loss, grad = CategoricalCrossentropy()(p, np.array([[1.0, 0.0], [1.0, 0.0]]))
    assert loss == pytest.approx((-np.log(1e-7) - np.log(0.5)) / 2)
    assert np.all(np.isfinite(grad))
    assert BinaryCrossentropy()(np.array([[0.0]]), np.array([[1.0]]))[0] == \
        pytest.approx(-np.log(1e-7), rel=1e-6)


def test_shard_means_add_up_to_the_batch_mean():
    rng = np.random.default_rng(0)
    y, t = rng.random((6, 3)), rng.random((6, 3))
    whole = MeanSquaredError()(y, t)
    parts = [MeanSquaredError()(y[a:b], t[a:b], batch_size=6) for a, b in ((0, 2), (2, 6))]
    assert sum(p[0] for p in parts) == pytest.approx(whole[0])
    np.testing.assert_allclose(np.concatenate([p[1] for p in parts]), whole[1])


def classifier(engine, last="softmax"):
    layers = [Input((4,)), Dense(5, activation="tanh")]
    layers += [Dense(3), Activation(last)] if last != "dense" else [Dense(3, activation="softmax")]
    return Sequential(layers, seed=0, dtype="float64", engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_one_hot_labels_train_like_sparse_labels(engine):
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)
    sparse, onehot = classifier(engine), classifier(engine)
    sparse.compile("sgd", "sparse_categorical_crossentropy")
    onehot.compile("sgd", "categorical_crossentropy", metrics=["accuracy",
                                                              "top_k_categorical_accuracy"])
    assert onehot.fused_activation == "activation" and onehot.loss.from_logits
    for _ in range(3):
        a = sparse.train_step(x, labels)
        b = onehot.train_step(x, to_categorical(labels, 3))
        assert a[0] == pytest.approx(b[0], rel=1e-12) and a[1] == b[1]
    errors = check_model(onehot, x, to_categorical(labels, 3, dtype="float64"))
    assert max(errors.values()) < 1e-6
    counts = onehot.batch_metrics(to_categorical(labels, 3), onehot.logits(x, False))
    assert counts["top_k_categorical_accuracy"] == 20  # k = 5 > 3 classes
    loss, counts = onehot.fit_step(x, to_categorical(labels, 3))
    assert set(counts) == {"accuracy", "top_k_categorical_accuracy"}
    assert counts["accuracy"] == sparse.train_step(x, labels)[1]
    with pytest.raises(ValueError, match="look like class indices.*sparse_categorical"):
        onehot.train_step(x, labels)
    with pytest.raises(ValueError, match="look like one-hot rows.*categorical_crossentropy"):
        sparse.train_step(x, to_categorical(labels, 3))


@pytest.mark.parametrize("engine", ENGINES)
def test_binary_crossentropy_fuses_a_final_sigmoid(engine):
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((16, 4)), rng.integers(0, 2, 16)
    model = Sequential([Input((4,)), Dense(1, activation="sigmoid")], dtype="float64",
                       engine=engine)
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    assert model.fused_activation == "activation"
    loss, correct = model.train_step(x, t)
    assert 0 <= correct <= 16
    assert max(check_model(model, x, t).values()) < 1e-6
    probs = model(x)
    expected = BinaryCrossentropy()(probs, t.reshape(-1, 1).astype(float))[0]
    assert model.compute_gradients(x, t, training=False)[0] == pytest.approx(expected, rel=1e-9)


def test_mse_on_a_regression_model():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 4))
    t = x @ rng.standard_normal((4, 2))
    model = Sequential([Input((4,)), Dense(2)], dtype="float64")
    model.compile("sgd", "mse", metrics=[])
    assert max(check_model(model, x, t).values()) < 1e-6


def test_engines_agree_on_every_loss():
    rng = np.random.default_rng(3)
    z, labels = rng.standard_normal((7, 4)), rng.integers(0, 4, 7)
    onehot = to_categorical(labels, 4, dtype="float64")
    for loss, t in [(SparseCategoricalCrossentropy(from_logits=True), labels),
                    (CategoricalCrossentropy(from_logits=True, label_smoothing=0.2), onehot),
                    (BinaryCrossentropy(from_logits=True), onehot),
                    (MeanSquaredError(), onehot), (MeanAbsoluteError(), onehot)]:
        (a, ga), (b, gb) = loss(z, t), loss.reference(z, t)
        assert a == pytest.approx(b, rel=1e-12) and rel_error(ga, gb) <= 1e-12


def test_unknown_names_and_bad_arguments():
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'.*'binary_crossentropy'"):
        get_loss("hinge")
    assert isinstance(get_loss("mae"), MeanAbsoluteError)
    with pytest.raises(ValueError, match="label_smoothing"):
        CategoricalCrossentropy(label_smoothing=2)
    model = classifier("fast")
    with pytest.raises(ValueError, match=r"unknown metric 'f1'.*top_k_categorical_accuracy"):
        model.compile("adam", metrics=["f1"])


def test_reference_pairs_directly():
    rng = np.random.default_rng(4)
    p = softmax(rng.standard_normal((3, 4)))
    t = to_categorical([0, 3, 1], 4, dtype="float64")
    loss, cache = R.categorical_crossentropy_forward(p, t)
    assert loss == pytest.approx(-np.log(p[[0, 1, 2], [0, 3, 1]]).mean())
    numeric = numerical_gradient(lambda: R.categorical_crossentropy_forward(p, t)[0], p)
    assert rel_error(R.categorical_crossentropy_backward(1.0, cache), numeric) < 1e-7


def test_logits_given_as_probabilities_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\].*from_logits=True"):
        CategoricalCrossentropy()(np.array([[2.0, -1.0]]), np.array([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="end the model in sigmoid"):
        BinaryCrossentropy()(np.array([[3.0]]), np.array([[1.0]]))
    with pytest.raises(ValueError, match="sums to 0"):
        SparseCategoricalCrossentropy()(np.zeros((1, 3)), np.array([0]))
