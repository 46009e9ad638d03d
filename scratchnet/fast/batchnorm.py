"""BatchNormalization on the fast engine: numba sums and elementwise passes, with the
statistics of the whole batch also when the batch runs in shards.

Training forward, with x seen as (M, C) rows::

    s = sum_rows x                       -> allreduce over shards -> mean = s / m
    q = sum_rows (x - mean)^2            -> allreduce over shards -> var  = q / m
    y = (x - mean) inv_std gamma + beta,   inv_std = 1 / sqrt(var + eps)

Backward::

    s_dy = sum_rows dy,  s_dyxhat = sum_rows dy x_hat  (this shard's dbeta, dgamma)
                                          -> allreduce -> the whole batch's sums
    dx = gamma inv_std / m (m dy - s_dy - x_hat s_dyxhat)

m counts the values per channel in the whole batch. Without a shard group (a batch run
whole) the allreduce is the identity. Only shard 0 (or the whole batch's runner) updates
the layer's moving statistics, once per step. After an inference forward (moving
statistics, constants) the backward is the affine map's: dx = dy gamma inv_std.
"""

from __future__ import annotations

import numpy as np

from scratchnet.fast.runner import Runner
from scratchnet.kernels import batchnorm as k


class FastBatchNorm(Runner):
    """:class:`~scratchnet.layers.BatchNormalization` with ``scratchnet.kernels.batchnorm``."""

    def __init__(self, layer, grads):
        super().__init__(layer, grads)
        C = layer.input_shape[layer.channel_axis - 1]
        self.ones, self.zeros = np.ones(C, layer.dtype), np.zeros(C, layer.dtype)
        self.x2 = self.shape = self.mean = self.inv_std = None
        self.m = 0
        self.training_pass = False

    def _allreduce(self, *parts):
        return parts if self.group is None else self.group.allreduce(self.shard, *parts)

    def _rows(self, a):
        """a (N, ..., C at channel_axis) -> (M, C) C-contiguous rows."""
        a = np.moveaxis(a, self.layer.channel_axis, -1)
        return np.ascontiguousarray(a).reshape(-1, a.shape[-1])

    def _unrows(self, a2, shape):
        """Inverse of :meth:`_rows`, for an array of the input's ``shape``."""
        axis = self.layer.channel_axis
        moved = (*shape[:axis], *shape[axis + 1:], shape[axis])
        return np.moveaxis(a2.reshape(moved), -1, axis)

    def forward(self, x, training, activate=True):
        layer = self.layer
        dt = layer.dtype
        x2 = self._rows(x)
        C = x2.shape[1]
        gamma = layer.params.get("gamma", self.ones)
        beta = layer.params.get("beta", self.zeros)
        if training:
            s1, s2 = np.empty(C), np.empty(C)
            k.batchnorm_moments(x2, np.zeros(C), s1, s2)
            s1, rows = self._allreduce(s1, np.array([x2.shape[0]], dtype=np.float64))
            m = int(rows[0])
            layer.check_batch(m)
            mean = s1 / m
            k.batchnorm_moments(x2, mean, s1, s2)
            (s2,) = self._allreduce(s2)
            var = s2 / m
            if self.shard == 0:
                layer.update_moving_statistics(mean, var)
            self.m = m
        else:
            mean = layer.state["moving_mean"].astype(np.float64)
            var = layer.state["moving_variance"].astype(np.float64)
        inv_std = 1.0 / np.sqrt(var + layer.epsilon)
        y2 = np.empty_like(x2)
        k.batchnorm_normalize(x2, mean.astype(dt), inv_std.astype(dt), gamma, beta, y2)
        # An inference pass keeps what its (plain affine) backward needs, as the reference.
        self.inference_pass, self.training_pass = False, training
        self.x2, self.shape, self.mean, self.inv_std = x2, x.shape, mean, inv_std
        return self._unrows(y2, x.shape)

    def backward(self, dy, activate=True):
        layer = self.layer
        dt = layer.dtype
        dy2 = self._rows(self.check_upstream(dy, self.shape))
        C = dy2.shape[1]
        s1, s2 = np.empty(C), np.empty(C)
        k.batchnorm_grad_sums(dy2, self.x2, self.mean, self.inv_std, s1, s2)
        if "gamma" in self.grads:
            self.grads["gamma"][...] = s2  # this shard's part; the engine adds the shards'
        if "beta" in self.grads:
            self.grads["beta"][...] = s1
        if self.training_pass:
            s1, s2, m = *self._allreduce(s1, s2), self.m
        else:  # the statistics were constants: dx = dy gamma inv_std
            s1, s2, m = np.zeros(C), np.zeros(C), 1
        if not self.need_input_grad:
            return None
        gamma = layer.params.get("gamma", self.ones)
        dx2 = np.empty_like(dy2)
        k.batchnorm_input_grad(dy2, self.x2, self.mean.astype(dt), self.inv_std.astype(dt),
                               gamma, s1.astype(dt), s2.astype(dt), dt.type(m), dx2)
        return self._unrows(dx2, self.shape)
