"""Adagrad with Keras 3's defaults and update form."""

from __future__ import annotations

import numpy as np

from scratchnet.optimizers.base import Optimizer, positive_float
from scratchnet.reference.optimizers import adagrad_step


class Adagrad(Optimizer):
    """Per-parameter rates from the sum of all past squared gradients:
    ``scratchnet.reference.optimizers.adagrad_step``.

    Parameters
    ----------
    learning_rate : float or schedule, default 1e-3
    initial_accumulator_value : float >= 0, default 0.1
    epsilon : float, default 1e-7
    **kwargs
        ``weight_decay``, ``clipnorm``, ``global_clipnorm``, ``clipvalue``.
    """

    def __init__(self, learning_rate=1e-3, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        value = initial_accumulator_value
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                             np.floating)) or not value >= 0:
            raise ValueError(f"Adagrad initial_accumulator_value must be a number >= 0, "
                             f"got {value!r}")
        self.initial_accumulator_value = float(value)
        self.epsilon = positive_float(epsilon, "Adagrad epsilon")

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}

    def _update(self, i, p, g, lr):
        dt = p.dtype.type
        acc = self.slot("accumulator", i, p, self.initial_accumulator_value)
        new_p, new_acc = adagrad_step(p, g, acc, dt(lr), dt(self.epsilon))
        p[...], acc[...] = new_p, new_acc
