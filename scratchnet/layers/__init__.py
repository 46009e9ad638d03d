"""Layers: each module holds one layer's forward and backward pass side by side."""

from scratchnet.layers.activations import Activation, ReLU, Sigmoid, Softmax, Tanh, get_activation
from scratchnet.layers.augment import (
    GaussianNoise,
    RandomDistortion,
    RandomElastic,
    RandomRotation,
    RandomShear,
    RandomTranslation,
    RandomZoom,
)
from scratchnet.layers.base import Layer
from scratchnet.layers.batchnorm import BatchNormalization
from scratchnet.layers.bidirectional import Bidirectional
from scratchnet.layers.conv2d import Conv2D
from scratchnet.layers.dense import Dense
from scratchnet.layers.dropout import Dropout
from scratchnet.layers.gru import GRU
from scratchnet.layers.lstm import LSTM
from scratchnet.layers.pooling import MaxPool2D
from scratchnet.layers.recurrent import Recurrent
from scratchnet.layers.reshape import Flatten, Reshape
from scratchnet.layers.simple_rnn import SimpleRNN

__all__ = [
    "GRU", "LSTM", "Activation", "BatchNormalization", "Bidirectional", "Conv2D", "Dense",
    "Dropout", "Flatten", "Layer", "MaxPool2D", "ReLU", "Recurrent", "Reshape", "Sigmoid",
    "SimpleRNN", "Softmax", "Tanh", "get_activation",
    # data augmentation
    "GaussianNoise", "RandomDistortion", "RandomElastic", "RandomRotation", "RandomShear",
    "RandomTranslation", "RandomZoom",
]
