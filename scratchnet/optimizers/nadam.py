"""Nadam (Adam with Nesterov momentum) with Keras 3's defaults and update form."""

from __future__ import annotations

import numpy as np

from scratchnet.optimizers.base import Optimizer, positive_float, unit_interval
from scratchnet.reference.optimizers import nadam_momentum_cache, nadam_step


class Nadam(Optimizer):
    """``scratchnet.reference.optimizers.nadam_step``; the product of the momentum
    schedule, u_1 ... u_t, is one scalar of state shared by all parameters.

    Parameters
    ----------
    learning_rate : float or schedule, default 1e-3
    beta_1, beta_2 : float in [0, 1), defaults 0.9 and 0.999
    epsilon : float, default 1e-7
    **kwargs
        ``weight_decay``, ``clipnorm``, ``global_clipnorm``, ``clipvalue``.
    """

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = unit_interval(beta_1, "Nadam beta_1")
        self.beta_2 = unit_interval(beta_2, "Nadam beta_2")
        self.epsilon = positive_float(epsilon, "Nadam epsilon")
        # u_1 u_2 ... u_t: state, kept as a 0-d array so that state_arrays() holds it live.
        self._u_product = np.ones((), dtype=np.float64)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}

    @property
    def u_product(self) -> float:
        return float(self._u_product)

    def _begin_step(self):
        self._u_product *= nadam_momentum_cache(self.iterations + 1, self.beta_1)

    def _update(self, i, p, g, lr):
        dt = p.dtype.type
        m, v = self.slot("m", i, p), self.slot("v", i, p)
        new_p, new_m, new_v = nadam_step(p, g, m, v, dt(self.u_product), dt(lr),
                                         self.iterations + 1, dt(self.beta_1),
                                         dt(self.beta_2), dt(self.epsilon))
        p[...], m[...], v[...] = new_p, new_m, new_v

    def _scalar_state(self):
        return {"u_product": self._u_product}
