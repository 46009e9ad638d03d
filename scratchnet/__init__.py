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
# The mirror image: NumPy's OpenBLAS keeps its worker thread spinning for about 0.1 s
# after each GEMM, so the parallel numba kernel that follows shares a core with it. 2^4
# cycles instead (the minimum) let the worker sleep at once: im2col after a GEMM went from
# 1.8 to 1.1 ms, an LSTM inference step (GEMM + gates) from 2.1 to 1.5 ms. The price is
# waking the worker for each small GEMM (the LSTM's batch-128 steps: 0.25 to 0.32 ms).
# OpenBLAS reads this once, when NumPy loads: it takes effect only if scratchnet is
# imported before NumPy, or the variable is exported. A user's own setting wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

# One line on stderr while kernels compile for the first time (silent on a warm cache).
# Installed when the first kernel module imports numba, so this import stays light.
from scratchnet import compile_notice  # noqa: E402 - after the environment defaults

compile_notice.install_when_numba_loads()

__version__ = "0.1.0"

# The public names load on first use (PEP 562), so that ``import scratchnet.reference``
# (the textbook path, plain NumPy) does not load numba and the kernels with it.
_EXPORTS = {
    "SGD": "scratchnet.optimizers", "Adam": "scratchnet.optimizers",
    "AdamW": "scratchnet.optimizers", "Adagrad": "scratchnet.optimizers",
    "Nadam": "scratchnet.optimizers", "RMSprop": "scratchnet.optimizers",
    "CategoricalCrossentropy": "scratchnet.losses", "BinaryCrossentropy": "scratchnet.losses",
    "MeanSquaredError": "scratchnet.losses", "MeanAbsoluteError": "scratchnet.losses",
    "Callback": "scratchnet.callbacks", "EarlyStopping": "scratchnet.callbacks",
    "History": "scratchnet.callbacks", "Input": "scratchnet.model",
    "Sequential": "scratchnet.model", "SparseCategoricalCrossentropy": "scratchnet.losses",
}
_SUBMODULES = ("callbacks", "layers", "losses", "optimizers", "reference", "regularizers")

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name):
    import importlib

    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"scratchnet.{name}")
    raise AttributeError(f"module 'scratchnet' has no attribute {name!r}")
