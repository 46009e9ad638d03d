"""scratchnet: a neural-network framework from scratch in NumPy and numba, no autograd.

Every layer carries its own hand-written backward pass (see ``scratchnet.layers``),
proven against finite differences by ``scratchnet.gradcheck``.
"""

from scratchnet import callbacks, layers, losses, optimizers
from scratchnet.callbacks import Callback, EarlyStopping, History
from scratchnet.losses import SparseCategoricalCrossentropy
from scratchnet.model import Input, Sequential
from scratchnet.optimizers import SGD, Adam

__version__ = "0.1.0"

__all__ = [
    "SGD", "Adam", "Callback", "EarlyStopping", "History", "Input", "Sequential",
    "SparseCategoricalCrossentropy", "callbacks", "layers", "losses", "optimizers",
]
