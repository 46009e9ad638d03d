"""The seed architectures of the CNN-vs-LSTM comparison, exactly as the Keras original, and
the baselines of the MLP-vs-CNN study (issue 13)."""

from __future__ import annotations

from scratchnet.layers import (
    LSTM,
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
)
from scratchnet.sequential import Input, Sequential


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


def mlp_baseline(num_classes: int, input_shape=(28, 28, 1), seed: int = 0, dtype="float32",
                 engine="fast"):
    """Flatten Dense(512,relu) Dropout(.2) Dense(256,relu) Dropout(.2) Dense(C, softmax).
    535,818 parameters on MNIST."""
    return Sequential([
        Input(input_shape),
        Flatten(),
        Dense(512, activation="relu"), Dropout(0.2),
        Dense(256, activation="relu"), Dropout(0.2),
        Dense(num_classes, activation="softmax"),
    ], name="mlp", seed=seed, dtype=dtype, engine=engine)


def cnn_batchnorm(num_classes: int, input_shape=(28, 28, 1), seed: int = 0, dtype="float32",
                  engine="fast"):
    """Conv(32,3) BN ReLU Pool, Conv(64,3) BN ReLU Pool, Dropout(.25) Flatten, Dense(128) BN
    ReLU Dropout(.5), Dense(C, softmax). 225,930 parameters on MNIST, 448 non-trainable."""
    return Sequential([
        Input(input_shape),
        Conv2D(32, 3), BatchNormalization(), Activation("relu"), MaxPool2D(),
        Conv2D(64, 3), BatchNormalization(), Activation("relu"), MaxPool2D(),
        Dropout(0.25), Flatten(),
        Dense(128), BatchNormalization(), Activation("relu"), Dropout(0.5),
        Dense(num_classes, activation="softmax"),
    ], name="cnn_bn", seed=seed, dtype=dtype, engine=engine)
