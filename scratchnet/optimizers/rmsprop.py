"""RMSprop with Keras 3's defaults and update form."""

from __future__ import annotations

from scratchnet.optimizers.base import Optimizer, positive_float, unit_interval
from scratchnet.reference.optimizers import rmsprop_step


class RMSprop(Optimizer):
    """Divide the gradient by a running root mean square of its recent values:
    ``scratchnet.reference.optimizers.rmsprop_step`` (epsilon inside the square root).

    Parameters
    ----------
    learning_rate : float or schedule, default 1e-3
    rho : float in [0, 1), default 0.9
    momentum : float in [0, 1), default 0.0
    epsilon : float, default 1e-7
    centered : bool, default False
    **kwargs
        ``weight_decay``, ``clipnorm``, ``global_clipnorm``, ``clipvalue``.
    """

    def __init__(self, learning_rate=1e-3, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = unit_interval(rho, "RMSprop rho")
        self.momentum = unit_interval(momentum, "RMSprop momentum")
        self.epsilon = positive_float(epsilon, "RMSprop epsilon")
        self.centered = bool(centered)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}

    def _update(self, i, p, g, lr):
        dt = p.dtype.type
        velocity = self.slot("velocity", i, p)
        mom = self.slot("momentum", i, p) if self.momentum > 0 else None
        avg = self.slot("average_gradient", i, p) if self.centered else None
        new_p, new_velocity, new_mom, new_avg = rmsprop_step(
            p, g, velocity, mom, avg, dt(lr), dt(self.rho), dt(self.momentum), dt(self.epsilon))
        p[...], velocity[...] = new_p, new_velocity
        if mom is not None:
            mom[...] = new_mom
        if avg is not None:
            avg[...] = new_avg
