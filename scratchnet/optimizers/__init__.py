"""Optimizers: update parameters in place from their gradients (Keras 3's rules)."""

from scratchnet.optimizers import schedules
from scratchnet.optimizers.adagrad import Adagrad
from scratchnet.optimizers.adam import Adam, AdamW
from scratchnet.optimizers.base import Optimizer
from scratchnet.optimizers.nadam import Nadam
from scratchnet.optimizers.rmsprop import RMSprop
from scratchnet.optimizers.sgd import SGD

_BY_NAME = {"adagrad": Adagrad, "adam": Adam, "adamw": AdamW, "nadam": Nadam,
            "rmsprop": RMSprop, "sgd": SGD}


def get_optimizer(spec) -> Optimizer:
    """An optimizer name (``'adam'``, ``'rmsprop'``, ..., with Keras's defaults) or instance."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    raise ValueError(f"unknown optimizer {spec!r}; choose one of {sorted(_BY_NAME)} "
                     "or pass an Optimizer instance")


__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Nadam", "Optimizer", "RMSprop",
           "get_optimizer", "schedules"]
