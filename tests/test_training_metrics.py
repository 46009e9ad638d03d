"""The per-batch metrics of compile(metrics=...): Keras's definitions, counted per batch."""

import numpy as np
import pytest

from scratchnet.training_metrics import (
    TopK,
    binary_accuracy,
    categorical_accuracy,
    resolve,
    sparse_categorical_accuracy,
)


def test_accuracies_count_matches():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])
    assert sparse_categorical_accuracy(np.array([1, 1, 2]), scores) == 2
    assert categorical_accuracy(np.eye(3)[[1, 0, 0]], scores) == 2
    p = np.array([[0.9, 0.2], [0.4, 0.6]])
    t = np.array([[1, 1], [0, 1]])
    assert binary_accuracy(t, p) == pytest.approx(0.5 + 1.0)
    z = np.log(p / (1 - p))  # the same on logits
    assert binary_accuracy(t, z, from_logits=True) == pytest.approx(1.5)


def test_top_k_counts_ties_at_the_kth_place_as_in():
    scores = np.array([[0.1, 0.5, 0.4, 0.0], [0.3, 0.3, 0.3, 0.1], [0.4, 0.3, 0.2, 0.1]])
    labels = np.array([2, 2, 3])
    assert TopK(k=2, sparse=True)(labels, scores) == 2  # row 1: a three-way tie is in
    assert TopK(k=1, sparse=True)(labels, scores) == 1
    assert TopK(k=2)(np.eye(4)[labels], scores) == 2
    assert resolve("top_k_categorical_accuracy", "categorical_crossentropy")[1].k == 5
    with pytest.raises(ValueError, match="positive integer k"):
        TopK(k=0)


def test_accuracy_resolves_by_the_loss_as_keras():
    assert resolve("accuracy", "categorical_crossentropy")[1] is categorical_accuracy
    assert resolve("acc", "binary_crossentropy")[1] is binary_accuracy
    assert resolve("accuracy", "sparse_categorical_crossentropy")[1] is \
        sparse_categorical_accuracy
    with pytest.raises(ValueError, match="unknown metric"):
        resolve("auc", "mse")
