"""Layers: each module holds one layer's forward and backward pass side by side."""

from scratchnet.layers.activations import ReLU, Sigmoid, Softmax, Tanh, get_activation
from scratchnet.layers.base import Layer
from scratchnet.layers.dense import Dense
from scratchnet.layers.dropout import Dropout
from scratchnet.layers.reshape import Flatten, Reshape

__all__ = [
    "Dense", "Dropout", "Flatten", "Layer", "ReLU", "Reshape", "Sigmoid", "Softmax", "Tanh",
    "get_activation",
]
