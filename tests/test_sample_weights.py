"""sample_weight and class_weight, as Keras 3: each sample's loss times its weight, summed
and divided by the batch size; gradients by finite differences (float64) on both engines
and any number of shards; metrics and weighted_metrics; bad input. (Against PyTorch and
Keras themselves: tests/reference/test_against_keras.py.)"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet import SGD, Input, Sequential, parallel
from scratchnet.gradcheck import numerical_gradient, randomize_biases, rel_error
from scratchnet.layers import BatchNormalization, Dense, Flatten
from scratchnet.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    to_categorical,
)

ENGINES = ("reference", "fast")


@pytest.fixture
def workers():
    yield parallel.set_workers
    parallel.set_workers(None)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cases(rng, N, C):
    """(loss, outputs, targets) for every loss, on logits and on probabilities."""
    z = rng.standard_normal((N, C))
    labels = rng.integers(0, C, N)
    onehot = to_categorical(labels, C, dtype="float64")
    bits = (rng.random((N, C)) > 0.5).astype(np.float64)
    sig = 1 / (1 + np.exp(-z))
    return [
        (SparseCategoricalCrossentropy(from_logits=True), z, labels),  # the numba kernel
        (SparseCategoricalCrossentropy(), softmax(z), labels),
        (CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), z, onehot),
        (CategoricalCrossentropy(), softmax(z), onehot),
        (BinaryCrossentropy(from_logits=True), z, bits),
        (BinaryCrossentropy(), sig, bits),
        (MeanSquaredError(), z, rng.standard_normal((N, C))),
        # away from the kink at y = t, where no finite difference agrees with any slope
        (MeanAbsoluteError(), z, z + rng.choice([-1, 1], z.shape) * rng.uniform(.1, 1, z.shape)),
    ]


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**16), N=st.integers(1, 6), C=st.integers(2, 4))
def test_weighted_losses_are_keras_sums_and_pass_finite_differences(seed, N, C):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0, 3, N) * (rng.random(N) > 0.2)  # some samples weigh 0
    for loss, outputs, targets in cases(rng, N, C):
        # by hand: each sample's own loss (a batch of one), times its weight, over N
        per_sample = np.array([loss(outputs[i:i + 1], targets[i:i + 1])[0] for i in range(N)])
        value, grad = loss(outputs, targets, sample_weight=w)
        assert value == pytest.approx((w * per_sample).sum() / N, rel=1e-12, abs=1e-15)
        _, reference = loss.reference(outputs, targets, sample_weight=w)
        numeric = numerical_gradient(
            lambda f=loss, o=outputs, t=targets: f(o, t, sample_weight=w)[0], outputs)
        assert rel_error(grad, numeric) < 1e-7, repr(loss)
        assert rel_error(reference, numeric) < 1e-7, repr(loss)
        # unit weights are no weights
        assert loss(outputs, targets, sample_weight=np.ones(N))[0] == \
            pytest.approx(loss(outputs, targets)[0], rel=1e-14)


def test_a_zero_weight_removes_a_sample_but_the_mean_still_counts_it():
    rng = np.random.default_rng(2)
    z, labels = rng.standard_normal((3, 4)), np.array([0, 3, 1])
    loss = SparseCategoricalCrossentropy(from_logits=True)
    value, grad = loss(z, labels, sample_weight=[1.0, 1.0, 0.0])
    two, grad_two = loss(z[:2], labels[:2])
    assert value == pytest.approx(two * 2 / 3, rel=1e-14)  # divided by 3, not by sum(w) = 2
    np.testing.assert_allclose(grad[:2], grad_two * 2 / 3, rtol=1e-14)
    assert not grad[2].any()


def small_model(engine, seed=0, batchnorm=False):
    layers = [Input((3, 2)), Flatten(), Dense(5, activation="tanh")]
    if batchnorm:
        layers.append(BatchNormalization())
    layers.append(Dense(4, activation="softmax"))
    return Sequential(layers, seed=seed, dtype="float64", engine=engine)


def model_gradients(model, x, y, w):
    model.compute_gradients(x, y, sample_weight=w)
    return [g.copy() for g in model.gradients]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("shards", [1, 2, 3])
def test_model_gradients_with_weights_pass_finite_differences(engine, shards, workers):
    workers(shards)
    rng = np.random.default_rng(3)
    model = small_model(engine, batchnorm=True)
    model.compile(SGD(0.1))
    randomize_biases(model, rng)
    x, y, w = rng.standard_normal((30, 3, 2)), rng.integers(0, 4, 30), rng.uniform(0, 2, 30)
    analytic = model_gradients(model, x, y, w)
    for (name, p), g in zip(model.named_parameters(), analytic, strict=True):
        numeric = numerical_gradient(lambda: model.compute_gradients(x, y, sample_weight=w)[0],
                                     p)
        assert rel_error(g, numeric) < 1e-6, name


def test_engines_and_shard_counts_agree_on_weighted_gradients(workers):
    rng = np.random.default_rng(4)
    x, y, w = rng.standard_normal((48, 3, 2)), rng.integers(0, 4, 48), rng.uniform(0, 2, 48)
    results = []
    for engine in ENGINES:
        for shards in (1, 2, 3):
            workers(shards)
            model = small_model(engine, batchnorm=True)
            model.compile(SGD(0.1))
            loss, _ = model.compute_gradients(x, y, sample_weight=w)
            results.append((f"{engine} x{shards}", loss, model_gradients(model, x, y, w)))
    (_, loss0, grads0), *others = results
    for what, loss, grads in others:
        assert loss == pytest.approx(loss0, rel=1e-12), what
        for a, b in zip(grads0, grads, strict=True):
            assert rel_error(a, b) < 1e-12, what


def fit_weights(engine="fast", **kwargs):
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((40, 3, 2)), rng.integers(0, 4, 40)
    model = small_model(engine)
    model.compile(SGD(0.1), loss=kwargs.pop("loss", "sparse_categorical_crossentropy"))
    target = kwargs.pop("target", y)
    model.fit(x, target, batch_size=16, epochs=2, verbose=0, **kwargs)
    return model.get_weights(), y


@pytest.mark.parametrize("loss, onehot", [("sparse_categorical_crossentropy", False),
                                          ("categorical_crossentropy", True)])
def test_class_weight_is_the_sample_weight_of_each_label(loss, onehot):
    _, y = fit_weights()
    class_weight = {0: 2.0, 2: 0.5}  # class 1 and 3 left out: weight 1, as Keras
    per_sample = np.array([class_weight.get(c, 1.0) for c in y])
    target = to_categorical(y, 4, dtype="float64") if onehot else y  # one-hot: argmax
    a, _ = fit_weights(loss=loss, target=target, class_weight=class_weight)
    b, _ = fit_weights(loss=loss, target=target, sample_weight=per_sample)
    c, _ = fit_weights(loss=loss, target=target)
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a, c, strict=True))


def test_binary_class_weight_reads_the_rounded_target():
    rng = np.random.default_rng(6)
    x, t = rng.standard_normal((20, 3)), (rng.random(20) > 0.5).astype(np.float64)

    def run(**kw):
        model = Sequential([Input((3,)), Dense(1, activation="sigmoid")], dtype="float64")
        model.compile(SGD(0.1), "binary_crossentropy")
        return model.train_on_batch(x, t, **kw)

    assert run(class_weight={1: 3.0}) == run(sample_weight=np.where(t > 0.5, 3.0, 1.0))


def compiled(**kw):
    model = small_model("fast", seed=7)
    model.compile(SGD(0.1), metrics=["accuracy"], weighted_metrics=["accuracy"], **kw)
    return model


def test_evaluate_weighs_the_loss_and_only_the_weighted_metrics():
    rng = np.random.default_rng(8)
    x, y, w = rng.standard_normal((25, 3, 2)), rng.integers(0, 4, 25), rng.uniform(0, 2, 25)
    model = compiled()
    got = model.evaluate(x, y, batch_size=7, sample_weight=w, return_dict=True)
    assert list(got) == ["loss", "accuracy", "weighted_accuracy"]  # Keras's names
    per_sample = np.array([model.evaluate(x[i:i + 1], y[i:i + 1])[0] for i in range(25)])
    right = model.predict(x).argmax(axis=1) == y
    assert got["loss"] == pytest.approx((w * per_sample).sum() / 25, rel=1e-12)
    assert got["accuracy"] == pytest.approx(right.mean(), rel=1e-15)
    assert got["weighted_accuracy"] == pytest.approx((w * right).sum() / w.sum(), rel=1e-12)
    plain = model.evaluate(x, y, return_dict=True)
    assert plain["weighted_accuracy"] == pytest.approx(plain["accuracy"], rel=1e-15)


def test_fit_logs_weighted_figures_and_validates_with_the_weights_it_is_given():
    rng = np.random.default_rng(9)
    x, y, w = rng.standard_normal((30, 3, 2)), rng.integers(0, 4, 30), rng.uniform(0, 2, 30)
    for validation in ({"validation_data": (x[20:], y[20:], w[20:])},
                       {"validation_split": 1 / 3}):  # the last 10 samples, weights too
        model = compiled()
        history = model.fit(x if "validation_split" in validation else x[:20],
                            y if "validation_split" in validation else y[:20],
                            sample_weight=w if "validation_split" in validation else w[:20],
                            batch_size=8, epochs=1, verbose=0, **validation).history
        after = model.evaluate(x[20:], y[20:], sample_weight=w[20:], return_dict=True)
        for key in ("loss", "accuracy", "weighted_accuracy"):
            assert history[f"val_{key}"][0] == pytest.approx(after[key], rel=1e-12)


def test_all_zero_weights_give_zero_weighted_accuracy_as_keras():
    x, y = np.zeros((4, 3, 2)), np.array([0, 1, 2, 3])
    got = compiled().evaluate(x, y, sample_weight=np.zeros(4), return_dict=True)
    assert got["weighted_accuracy"] == 0.0 and got["loss"] == 0.0


X = np.zeros((6, 3, 2))
Y = np.array([0, 1, 2, 3, 0, 1])


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"class_weight": {0: 1.0, 7: 2.0}}, ValueError,
     "class_weight names classes [7] that the data lacks: the model's output has 4 classes"),
    ({"class_weight": {-1: 2.0}}, ValueError, "names classes [-1]"),
    ({"class_weight": {"cat": 2.0}}, TypeError, "keys must be class indices"),
    ({"class_weight": {0: -1.0}}, ValueError, "class_weight[0] must be a finite number >= 0"),
    ({"class_weight": [1.0, 2.0]}, TypeError, "class_weight must be a dict"),
    ({"sample_weight": [1, 1, 1, 1, -2, 1]}, ValueError, "weight 4 is -2.0"),
    ({"sample_weight": [1, 1, np.nan, 1, 1, 1]}, ValueError, "must be finite and >= 0"),
    ({"sample_weight": np.ones(5)}, ValueError, "one weight per sample, shape (6,), got shape "
                                                "(5,)"),
    ({"sample_weight": np.ones((6, 2))}, ValueError, "shape (6,)"),
    ({"sample_weight": np.ones(6), "class_weight": {0: 2.0}}, ValueError,
     "sample_weight or class_weight, not both"),
    ({"validation_data": (X, Y, np.ones(3))}, ValueError,
     "validation sample_weight must hold one weight per sample"),
])
def test_bad_weights_get_clear_errors(kwargs, error, fragment):
    model = compiled()
    with pytest.raises(error) as info:
        model.fit(X, Y, verbose=0, **kwargs)
    assert fragment in str(info.value)
    assert model.optimizer.iterations == 0  # refused before any step


def test_evaluate_and_test_on_batch_check_their_weights():
    model = compiled()
    with pytest.raises(ValueError, match="shape \\(6,\\)"):
        model.evaluate(X, Y, sample_weight=np.ones(2))
    with pytest.raises(ValueError, match="must be finite"):
        model.test_on_batch(X, Y, sample_weight=np.full(6, np.inf))


def test_a_weighted_custom_metric_must_take_the_weights():
    def hits(y_true, scores, from_logits):
        return float((scores.argmax(axis=1) == y_true).sum())

    model = small_model("fast")
    with pytest.raises(TypeError, match="must take a sample_weight argument"):
        model.compile(SGD(0.1), weighted_metrics=[hits])

    def weighted_hits(y_true, scores, from_logits, sample_weight=None):
        right = scores.argmax(axis=1) == y_true
        return float(right.sum() if sample_weight is None else (right * sample_weight).sum())

    model.compile(SGD(0.1), metrics=[hits], weighted_metrics=[weighted_hits])
    got = model.evaluate(X, Y, sample_weight=np.arange(6.0), return_dict=True)
    right = model.predict(X).argmax(axis=1) == Y
    assert got["hits"] == pytest.approx(right.mean())
    assert got["weighted_hits"] == pytest.approx((right * np.arange(6)).sum() / 15)
