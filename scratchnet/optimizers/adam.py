"""Adam and AdamW with Keras 3's defaults and update form."""

from __future__ import annotations

import math

from scratchnet.kernels.adam import adam_update
from scratchnet.optimizers.base import Optimizer, positive_float, unit_interval


class Adam(Optimizer):
    """Adam (Kingma & Ba), in Keras 3's form: ``scratchnet.reference.optimizers.adam_step``,
    run by the fused kernel ``scratchnet.kernels.adam``.

    Parameters
    ----------
    learning_rate : float or schedule, default 1e-3
    beta_1, beta_2 : float in [0, 1), defaults 0.9 and 0.999
    epsilon : float, default 1e-7 (Keras's; PyTorch uses 1e-8)
    **kwargs
        ``weight_decay``, ``clipnorm``, ``global_clipnorm``, ``clipvalue``.
    """

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        name = type(self).__name__
        self.beta_1 = unit_interval(beta_1, f"{name} beta_1")
        self.beta_2 = unit_interval(beta_2, f"{name} beta_2")
        self.epsilon = positive_float(epsilon, f"{name} epsilon")

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}

    def _update(self, i, p, g, lr):
        t = self.iterations + 1
        alpha = lr * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        m, v = self.slot("m", i, p), self.slot("v", i, p)
        # The kernel walks flat arrays; reshape(-1) of contiguous arrays is a view.
        g = g if g.flags.c_contiguous else g.copy()
        adam_update(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                    alpha, self.beta_1, self.beta_2, self.epsilon)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): before each Adam update,
    p <- p - p * weight_decay * lr. Keras 3's default ``weight_decay`` is 0.004."""

    def __init__(self, learning_rate=1e-3, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, **kwargs):
        positive_float(weight_decay, "AdamW weight_decay")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay,
                         **kwargs)
