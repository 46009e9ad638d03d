"""scratchnet: a neural-network framework from scratch in NumPy and numba, no autograd.

Every layer carries its own hand-written backward pass (see ``scratchnet.layers``),
proven against finite differences by ``scratchnet.gradcheck``.
"""

import os

# numba's OpenMP threads otherwise spin-wait after every parallel loop, holding the
# cores that OpenBLAS needs for the next GEMM; with any other load on the machine a
# training step measured 25x slower. Set before numba first starts its thread pool;
# a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
