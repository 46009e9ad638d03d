"""scratchnet: a neural-network framework from scratch in NumPy and numba, no autograd.

Every layer carries its own hand-written backward pass (see ``scratchnet.layers``),
proven against finite differences by ``scratchnet.gradcheck``.
"""

# One line on stderr while kernels compile for the first time (silent on a warm cache).
# Installed when the first kernel module imports numba, so this import stays light.
# Nothing else happens on import: no environment variable is set (see README, "Threads").
from scratchnet import compile_notice

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
    "History": "scratchnet.callbacks", "BackupAndRestore": "scratchnet.callbacks",
    "TerminateOnNaN": "scratchnet.callbacks", "Input": "scratchnet.sequential",
    "Sequential": "scratchnet.sequential", "SparseCategoricalCrossentropy": "scratchnet.losses",
    "load_model": "scratchnet.model_file", "register_layer": "scratchnet.registry",
    "ModelCheckpoint": "scratchnet.callbacks", "ModelFileError": "scratchnet.archive",
    "preprocess_image": "scratchnet.imageprep", "ImageError": "scratchnet.imageprep",
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
