"""get_weights / set_weights on layers and models, in Keras's order."""

import numpy as np
import pytest

from scratchnet import Input, Sequential
from scratchnet.layers import LSTM, BatchNormalization, Conv2D, Dense, Flatten


def model(seed):
    return Sequential([Input((6, 6, 1)), Conv2D(2, 3), BatchNormalization(), Flatten(),
                       Dense(4, use_bias=False), Dense(3, activation="softmax")],
                      seed=seed, dtype="float64")


def test_keras_order_per_layer():
    m = model(0)
    m.build()
    shapes = [[w.shape for w in layer.get_weights()] for layer in m.layers]
    assert shapes == [[(3, 3, 1, 2), (2,)], [(2,), (2,), (2,), (2,)], [], [(32, 4)],
                      [(4, 3), (3,)]]
    bn = m.layers[1]
    np.testing.assert_array_equal(bn.get_weights()[1], bn.params["beta"])
    np.testing.assert_array_equal(bn.get_weights()[3], bn.state["moving_variance"])
    lstm = LSTM(2)
    lstm.build((3, 4), np.float64)
    assert [w.shape for w in lstm.get_weights()] == [(4, 8), (2, 8), (8,)]  # kernel, rec, bias


def test_round_trip_between_models_and_copies_not_views():
    a, b = model(0), model(1)
    x = np.random.default_rng(0).standard_normal((5, 6, 6, 1))
    a.compile("sgd")
    a.train_step(x, np.array([0, 1, 2, 0, 1]))  # moving statistics move off their init
    weights = a.get_weights()
    weights[0][...] = 0.0  # a copy: the model is untouched
    assert np.any(a.layers[0].params["W"] != 0)
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(b.predict(x), a.predict(x))
    arrays_before = [id(w) for w in b.layers[1].weights]
    b.layers[1].set_weights(a.layers[1].get_weights())
    assert [id(w) for w in b.layers[1].weights] == arrays_before  # written in place


def test_set_weights_errors_name_the_problem():
    m = model(0)
    with pytest.raises(ValueError, match="expected 9 arrays"):
        m.set_weights([np.zeros(1)])
    weights = m.get_weights()
    weights[6] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"weight 0 must have shape \(32, 4\)"):
        m.set_weights(weights)
    with pytest.raises(RuntimeError, match="build"):
        Dense(2).set_weights([])
