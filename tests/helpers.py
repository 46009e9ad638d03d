"""Small helpers shared by tests."""

import numpy as np

from scratchnet import Input, Sequential
from scratchnet.fast import runner_for
from scratchnet.gradcheck import check_layer
from scratchnet.layers import LSTM, Conv2D, Dense, Dropout, Flatten, MaxPool2D

GRAD_TOL = 1e-6
ENGINES = ("reference", "fast")


def fast_runner(layer, first=False):
    """The fast engine's runner of a built ``layer``, writing ``layer.grads``.

    ``first``: as a model's first layer, which skips the input gradient.
    """
    runner = runner_for(layer, layer.grads)
    runner.need_input_grad = not first
    return runner


def assert_gradients(layer, x, training=True, seed=0, tol=GRAD_TOL, engine="reference",
                     first=False):
    """Run the float64 gradient check and assert every relative error is within ``tol``."""
    errors = check_layer(layer, x, training=training, seed=seed, engine=engine,
                         need_input_grad=not first)
    assert errors, "the check compared nothing"
    bad = {k: v for k, v in errors.items() if not v <= tol}
    assert not bad, f"{layer!r}: relative errors above {tol}: {bad} (all: {errors})"
    return errors


def randn(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def mini_cnn(dtype="float64", engine="fast"):
    """The seed CNN's exact structure at widths small enough for finite differences.

    As in the seed CNN at 28 x 28, the second conv's map (3 x 3) is odd, so its 'valid'
    pool skips the last row and column and the conv computes only the 2 x 2 it reads.
    """
    return Sequential([
        Input((12, 12, 1)),
        Conv2D(2, 3, activation="relu"), MaxPool2D(),
        Conv2D(3, 3, activation="relu"), MaxPool2D(),
        Dropout(0.25), Flatten(),
        Dense(6, activation="relu"), Dropout(0.5),
        Dense(5, activation="softmax"),
    ], seed=3, dtype=dtype, engine=engine)


def mini_lstm(dtype="float64", engine="fast"):
    return Sequential([Input((5, 3)), LSTM(4), Dropout(0.3), Dense(5, activation="softmax")],
                      seed=3, dtype=dtype, engine=engine)
