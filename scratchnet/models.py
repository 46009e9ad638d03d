"""The seed architectures of the CNN-vs-LSTM comparison, exactly as the Keras original."""

from __future__ import annotations

from scratchnet.layers import LSTM, Conv2D, Dense, Dropout, Flatten, MaxPool2D
from scratchnet.model import Input, Sequential


def seed_cnn(num_classes: int, input_shape=(28, 28, 1), seed: int = 0, dtype="float32",
             engine="fast"):
    """Conv(32,3,relu) Pool Conv(64,3,relu) Pool Dropout(.25) Flatten Dense(128,relu)
    Dropout(.5) Dense(C, softmax). 229,807 parameters for 47 classes."""
    return Sequential([
        Input(input_shape),
        Conv2D(32, 3, activation="relu"),
        MaxPool2D(),
        Conv2D(64, 3, activation="relu"),
        MaxPool2D(),
        Dropout(0.25),
        Flatten(),
        Dense(128, activation="relu"),
        Dropout(0.5),
        Dense(num_classes, activation="softmax"),
    ], name="cnn", seed=seed, dtype=dtype, engine=engine)


def seed_lstm(num_classes: int, input_shape=(28, 28), seed: int = 0, dtype="float32",
              engine="fast"):
    """Rows as timesteps: LSTM(128) Dropout(.3) Dense(C, softmax). 86,447 parameters for 47."""
    return Sequential([
        Input(input_shape),
        LSTM(128),
        Dropout(0.3),
        Dense(num_classes, activation="softmax"),
    ], name="lstm", seed=seed, dtype=dtype, engine=engine)
