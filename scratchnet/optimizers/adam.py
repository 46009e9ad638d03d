"""Adam with Keras's defaults and update form."""

from __future__ import annotations

import math

from scratchnet.kernels.adam import adam_update
from scratchnet.optimizers.base import Optimizer, positive_float, unit_interval


class Adam(Optimizer):
    """Adam (Kingma & Ba), in Keras 3's form: see ``scratchnet.kernels.adam``.

    Parameters
    ----------
    learning_rate : float, default 1e-3
    beta_1, beta_2 : float in [0, 1), defaults 0.9 and 0.999
    epsilon : float, default 1e-7 (Keras's; PyTorch uses 1e-8)
    """

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1 = unit_interval(beta_1, "Adam beta_1")
        self.beta_2 = unit_interval(beta_2, "Adam beta_2")
        self.epsilon = positive_float(epsilon, "Adam epsilon")

    def _update(self, i, p, g):
        t = self.iterations
        alpha = self.learning_rate * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        m, v = self.slot("m", i, p), self.slot("v", i, p)
        # The kernel walks flat arrays; reshape(-1) of contiguous arrays is a view.
        adam_update(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                    alpha, self.beta_1, self.beta_2, self.epsilon)
