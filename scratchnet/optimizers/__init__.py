"""Optimizers: update parameters in place from their gradients."""

from scratchnet.optimizers.adam import Adam
from scratchnet.optimizers.base import Optimizer
from scratchnet.optimizers.sgd import SGD


def get_optimizer(spec) -> Optimizer:
    """``'adam'`` / ``'sgd'`` (with defaults) or an Optimizer instance."""
    if isinstance(spec, Optimizer):
        return spec
    table = {"adam": Adam, "sgd": SGD}
    if isinstance(spec, str) and spec.lower() in table:
        return table[spec.lower()]()
    raise ValueError(f"unknown optimizer {spec!r}; use one of {sorted(table)} or an instance")


__all__ = ["SGD", "Adam", "Optimizer", "get_optimizer"]
