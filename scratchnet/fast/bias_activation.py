"""The shared tail of the fast Dense and Conv2D: add the bias, apply the activation, and back.

Both compute ``z = (rows of x) @ W`` as one GEMM into a fresh (P, F) matrix, then hand
it here. With ReLU (the common case) the bias and the activation are one numba pass
forward and one backward (``scratchnet.kernels.bias_act``): the mask the backward needs
is recovered from the output (y > 0 exactly where z + b > 0), so nothing else is kept.
Any other activation runs its reference pair after the bias.

SMALL: below the size at which ``bias_act`` would wake the thread pool, the bias add and
the bias gradient without ReLU (a classifier head before its softmax: (128, 47) in the
seed models) run in NumPy, which is as fast at that size; their numba kernels would
cost a first run about 0.7 s of compiling (benchmarks/README.md, "Cost of starting").
"""

from __future__ import annotations

import copy

import numpy as np

from scratchnet.kernels import bias_act as k
from scratchnet.layers.activations import ReLU


class BiasActivation:
    """act(z + b) forward and its backward, for one runner.

    Parameters
    ----------
    activation : Layer or None
        The layer's activation (copied: its cache is this runner's own).
    dtype : numpy dtype
    """

    def __init__(self, activation, dtype):
        self.relu = isinstance(activation, ReLU)
        self.activation = None if activation is None else copy.deepcopy(activation)
        self.dtype = dtype
        self.relu_out = None  # y of the last fused bias+ReLU forward: its mask
        self.activated = False  # whether the last forward applied the activation
        self._dz = None  # (P, F) scratch for dz: it never leaves the backward pass

    def forward(self, z: np.ndarray, b: np.ndarray, training: bool, activate: bool):
        """z (P, F), a fresh GEMM output the caller owns -> act(z + b), (P, F), in place."""
        self.activated = activate and self.activation is not None
        if self.activated and self.relu:
            self.relu_out = k.bias_relu(z, b)
            return z
        self.relu_out = None
        if z.size < k.PARALLEL_MIN_ELEMENTS:
            np.add(z, b, out=z)  # small (a classifier head): see SMALL below
        else:
            k.bias_add(z, b)
        return self.activation.forward(z, training) if self.activated else z

    def backward(self, dy: np.ndarray, db: np.ndarray) -> np.ndarray:
        """dy = dL/dy (P, F) -> dz = dL/dz (P, F); writes db (F,), the column sums of dz."""
        if self.relu_out is not None:
            if self._dz is None or self._dz.shape != dy.shape:
                self._dz = np.empty(dy.shape, dtype=self.dtype)
            k.relu_bias_backward(dy, self.relu_out, self._dz, db)
            return self._dz
        if self.activated:
            dy = np.ascontiguousarray(self.activation.backward(dy))
        if dy.size < k.PARALLEL_MIN_ELEMENTS:
            np.sum(dy, axis=0, out=db)  # small (a classifier head): see SMALL below
        else:
            k.column_sums(dy, db)
        return dy
