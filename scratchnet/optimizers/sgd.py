"""Stochastic gradient descent with (Nesterov) momentum, as Keras defines it."""

from __future__ import annotations

from scratchnet.optimizers.base import Optimizer, unit_interval


class SGD(Optimizer):
    """v <- momentum v - lr g;   p <- p + v   (Nesterov: p <- p + momentum v - lr g).

    Parameters
    ----------
    learning_rate : float, default 0.01 (Keras's)
    momentum : float in [0, 1)
    nesterov : bool
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        self.momentum = unit_interval(momentum, "SGD momentum")
        self.nesterov = bool(nesterov)

    def _update(self, i, p, g):
        lr = p.dtype.type(self.learning_rate)
        if self.momentum == 0:
            p -= lr * g
            return
        mu = p.dtype.type(self.momentum)
        v = self.slot("velocity", i, p)
        v *= mu
        v -= lr * g
        if self.nesterov:
            p += mu * v - lr * g
        else:
            p += v
