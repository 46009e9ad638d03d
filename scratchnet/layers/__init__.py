"""Layers: each module holds one layer's forward and backward pass side by side."""

from scratchnet.layers.activations import ReLU, Sigmoid, Softmax, Tanh, get_activation
from scratchnet.layers.base import Layer

__all__ = ["Layer", "ReLU", "Sigmoid", "Softmax", "Tanh", "get_activation"]
