"""scratchnet: a neural-network framework from scratch in NumPy and numba, no autograd."""

__version__ = "0.1.0"
