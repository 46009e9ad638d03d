"""Bidirectional on the fast engine: the two copies' own runners, and the merge.

Each direction runs through the fast runner of its layer type (``FastLSTM``,
``FastGRU``, ``FastSimpleRNN``), writing straight into the Bidirectional's
``'forward/...'`` and ``'backward/...'`` gradient arrays. The merge and the time
reversal are a few array operations, so they are the reference's own functions.
"""

from __future__ import annotations

from scratchnet.fast.runner import Runner
from scratchnet.reference.bidirectional import merge_backward, merge_forward, reverse_time


class FastBidirectional(Runner):
    """:class:`~scratchnet.layers.Bidirectional` through its two copies' fast runners."""

    def __init__(self, layer, grads):
        from scratchnet.fast import runner_for  # the registry imports this module

        self.directions = [
            runner_for(sub, {k: grads[f"{d}/{k}"] for k in sub.params})
            for d, sub in layer._directions()
        ]
        super().__init__(layer, grads)
        self.merge_cache = None

    @property
    def need_input_grad(self) -> bool:
        return self.directions[0].need_input_grad

    @need_input_grad.setter
    def need_input_grad(self, value: bool) -> None:
        for runner in self.directions:
            runner.need_input_grad = value

    def forward(self, x, training, activate=True):
        """(N, T, D) -> the merged outputs, as ``Bidirectional.forward``."""
        self.inference_pass = not training
        fwd, bwd = self.directions
        y_fwd = fwd.forward(x, training)
        y_bwd = bwd.forward(x, training)
        if self.layer.return_sequences:
            y_bwd = reverse_time(y_bwd)
        y, self.merge_cache = merge_forward(y_fwd, y_bwd, self.layer.merge_mode)
        return y

    def backward(self, dy, activate=True):
        """dy -> dx (N, T, D) summed over both directions, or None on a first layer."""
        if self.layer.merge_mode is not None:
            shape = None if self.merge_cache is None else self.layer.output_shape
            n = None if self.merge_cache is None else len(self.merge_cache["y_fwd"])
            dy = self.check_upstream(dy, None if shape is None else (n, *shape))
        dy_fwd, dy_bwd = merge_backward(dy, self.merge_cache)
        if self.layer.return_sequences:
            dy_bwd = reverse_time(dy_bwd)
        fwd, bwd = self.directions
        dx_fwd = fwd.backward(dy_fwd.copy())  # the runners' kernels take contiguous arrays
        dx_bwd = bwd.backward(dy_bwd.copy())
        return None if dx_fwd is None else dx_fwd + dx_bwd
