"""train_on_batch, test_on_batch and predict_on_batch: one fit step, evaluate and predict
on one batch, with Keras 3's return shapes."""

import numpy as np
import pytest

from scratchnet import SGD, Adam, Input, Sequential
from scratchnet.layers import BatchNormalization, Dense


def model(metrics=("accuracy",), **compile_kw):
    m = Sequential([Input((4,)), Dense(6, activation="relu"), BatchNormalization(),
                    Dense(3, activation="softmax")], seed=2, dtype="float64")
    m.compile(Adam(0.01), metrics=metrics, **compile_kw)
    return m


rng = np.random.default_rng(0)
X = rng.standard_normal((12, 4))
Y = rng.integers(0, 3, 12)
W = rng.uniform(0, 2, 12)


@pytest.mark.parametrize("weights", [{}, {"sample_weight": W}, {"class_weight": {1: 3.0}}])
def test_train_on_batch_is_one_fit_step(weights):
    a, b = model(), model()
    got = a.train_on_batch(X, Y, return_dict=True, **weights)
    history = b.fit(X, Y, batch_size=len(X), epochs=1, shuffle=False, verbose=0,
                    **weights).history
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)  # BatchNorm's moving statistics included
    assert got == {"loss": history["loss"][0], "accuracy": history["accuracy"][0]}
    assert a.optimizer.iterations == 1


def test_return_shapes_are_keras():
    assert isinstance(model(metrics=()).train_on_batch(X, Y), float)  # a scalar loss
    loss, accuracy = model().train_on_batch(X, Y)
    assert 0 <= accuracy <= 1 and loss > 0
    both = model(weighted_metrics=["accuracy"]).test_on_batch(X, Y, sample_weight=W,
                                                              return_dict=True)
    assert list(both) == ["loss", "accuracy", "weighted_accuracy"]
    assert isinstance(model(metrics=()).test_on_batch(X, Y), float)


def test_test_and_predict_on_batch_equal_evaluate_and_predict():
    m = model(weighted_metrics=["accuracy"])
    m.train_on_batch(X, Y)
    assert m.test_on_batch(X, Y, sample_weight=W) == \
        m.evaluate(X, Y, batch_size=len(X), sample_weight=W)
    np.testing.assert_array_equal(m.predict_on_batch(X), m.predict(X, batch_size=len(X)))
    # test_on_batch is inference: it changes nothing
    before = m.get_weights()
    m.test_on_batch(X, Y)
    for wa, wb in zip(before, m.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_inputs_are_converted_as_fit_converts_them():
    a, b = model(), model()
    a.train_on_batch(X.tolist(), Y.tolist())  # nested lists, as Keras takes them
    b.train_on_batch(X, Y)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    small = Sequential([Input((4,)), Dense(3, activation="softmax")], seed=2)
    small.compile(SGD(0.1))
    out = small.predict_on_batch(np.ones((2, 4), dtype=np.uint8))
    assert out.dtype == np.float32 and out.shape == (2, 3)


def test_bad_input_is_refused_clearly():
    m = Sequential([Input((4,)), Dense(3, activation="softmax")])
    with pytest.raises(RuntimeError, match="must be compiled before train_on_batch"):
        m.train_on_batch(X, Y)
    with pytest.raises(RuntimeError, match="must be compiled before test_on_batch"):
        m.test_on_batch(X, Y)
    m = model()
    with pytest.raises(ValueError, match="12 samples but its labels have 11"):
        m.train_on_batch(X, Y[:11])
    with pytest.raises(ValueError, match="train_on_batch: x has no samples"):
        m.train_on_batch(X[:0], Y[:0])
    with pytest.raises(ValueError, match="sample 3 is the first"):
        bad = X.copy()
        bad[3, 0] = np.nan
        m.train_on_batch(bad, Y)
    with pytest.raises(ValueError, match="not both"):
        m.train_on_batch(X, Y, sample_weight=W, class_weight={0: 1.0})
    with pytest.raises(ValueError, match=r"names classes \[3\] that the data lacks"):
        m.train_on_batch(X, Y, class_weight={3: 1.0})
    assert m.optimizer.iterations == 0
