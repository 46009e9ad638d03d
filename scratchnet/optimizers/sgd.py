"""Stochastic gradient descent with (Nesterov) momentum, as Keras defines it."""

from __future__ import annotations

from scratchnet.optimizers.base import Optimizer, unit_interval
from scratchnet.reference.optimizers import sgd_step


class SGD(Optimizer):
    """v <- momentum v - lr g;   p <- p + v   (Nesterov: p <- p + momentum v - lr g).

    Parameters
    ----------
    learning_rate : float or schedule, default 0.01 (Keras's)
    momentum : float in [0, 1)
    nesterov : bool
    **kwargs
        ``weight_decay``, ``clipnorm``, ``global_clipnorm``, ``clipvalue``
        (:class:`~scratchnet.optimizers.base.Optimizer`).
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = unit_interval(momentum, "SGD momentum")
        self.nesterov = bool(nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, i, p, g, lr):
        dt = p.dtype.type
        v = None if self.momentum == 0 else self.slot("velocity", i, p)
        new_p, new_v = sgd_step(p, g, v, dt(lr), dt(self.momentum), self.nesterov)
        p[...] = new_p
        if v is not None:
            v[...] = new_v
