"""Dense on the fast engine: one GEMM, then the fused bias and activation."""

from __future__ import annotations

import numpy as np

from scratchnet.fast.bias_activation import BiasActivation
from scratchnet.fast.runner import Runner


class FastDense(Runner):
    """:class:`~scratchnet.layers.Dense`: y = act(x W + b) over the last axis.

    Shapes: x (N, ..., D) -> y (N, ..., units); all leading axes form one (M, D) batch.
    """

    def __init__(self, layer, grads):
        super().__init__(layer, grads)
        self.tail = BiasActivation(layer.activation, layer.dtype)
        self.x2 = None  # the last forward's input as (M, D)
        self.out_shape = None  # and its output's shape
        # use_bias=False: the fused tail adds zeros and sums a db nobody reads.
        self.no_bias = np.zeros(layer.units, layer.dtype)
        self.no_db = np.zeros(layer.units, layer.dtype)

    def forward(self, x, training, activate=True):
        W, b = self.layer.params["W"], self.layer.params.get("b", self.no_bias)
        self.inference_pass = False
        self.x2 = x.reshape(-1, x.shape[-1])  # (M, D)
        self.out_shape = (*x.shape[:-1], W.shape[1])
        y = self.tail.forward(self.x2 @ W, b, training, activate)  # act(x W + b), (M, units)
        return y.reshape(self.out_shape)

    def backward(self, dy, activate=True):
        W = self.layer.params["W"]
        dy2 = self.check_upstream(dy, self.out_shape).reshape(-1, W.shape[1])  # (M, units)
        db = self.grads.get("b", self.no_db)
        dz = self.tail.backward(dy2, db)  # through act; db = sum over rows
        np.matmul(self.x2.T, dz, out=self.grads["W"])   # dW = x^T dz
        if not self.need_input_grad:
            return None
        return (dz @ W.T).reshape(*dy.shape[:-1], self.x2.shape[1])
