"""The seed models in TensorFlow/Keras, for the fair comparison (``bench_fair``), when
TensorFlow is installed. It is optional and never required: ``bench_fair`` skips it,
saying so, when ``import tensorflow`` would fail.

The Keras originals of the seed models (``scratchnet.seed_models`` copies them): channels-last
CNN, ``LSTM(128)`` over the 28 rows, Adam (Keras's defaults), sparse categorical
cross-entropy on a softmax output. A training run is ``steps`` calls of
``train_on_batch``, an inference run ``predict_on_batch`` over ``steps`` batches.
"""

from __future__ import annotations

import time

import common


def build(kind: str, num_classes: int = common.NUM_CLASSES):
    """The seed CNN or LSTM, or the study's GRU or SimpleRNN model, as a compiled
    ``keras.Sequential`` (float32)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    if kind == "cnn":
        model = keras.Sequential([
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
            layers.Dropout(0.25), layers.Flatten(),
            layers.Dense(128, activation="relu"), layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ])
    elif kind == "lstm":
        model = keras.Sequential([
            keras.Input((28, 28)), layers.LSTM(128), layers.Dropout(0.3),
            layers.Dense(num_classes, activation="softmax"),
        ])
    elif kind in ("gru", "simplernn"):
        cell = layers.GRU if kind == "gru" else layers.SimpleRNN
        model = keras.Sequential([
            keras.Input((28, 28)), cell(128), layers.Dense(64, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ])
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


class KerasWorkload:
    """One timed run = ``steps`` training steps, or inference over ``steps`` batches."""

    framework = "tensorflow"

    def __init__(self, kind: str, mode: str, batch: int, steps: int, x, y):
        self.kind, self.mode, self.batch, self.steps = kind, mode, batch, steps
        self.samples = batch * steps
        self.x, self.y = x[:self.samples], y[:self.samples]
        self.model = build(kind)
        self.params = int(self.model.count_params())

    def run(self) -> float:
        """One run; returns its wall time in seconds."""
        b = self.batch
        start = time.perf_counter()
        for s in range(self.steps):
            xb = self.x[s * b:(s + 1) * b]
            if self.mode == "train":
                self.model.train_on_batch(xb, self.y[s * b:(s + 1) * b])
            else:
                self.model.predict_on_batch(xb)
        return time.perf_counter() - start
