"""FastEngine: runs a Sequential model through the fast runners.

When a model is built, the engine makes one runner per layer and looks at neighbouring
runners once, so they skip work whose result nobody uses; none of it changes what the
model computes beyond the order of some float sums:

- the first layer computes no input gradient;
- a layer that reads only part of its input says so (``input_window``), and the layer
  before computes only that part (``crop_output``);
- at inference a ReLU conv followed by a max-pool runs the pool first, then the bias and
  ReLU (``pools_first``/``pooled``): both are increasing, so the result is bit-identical;
- in training, a first ReLU conv on one channel and the max-pool after it run as one
  pass forward and one backward (``trains_pooled``): the conv's map is never written;
- at inference a large batch goes through the network a chunk at a time, as large as
  the layers that asked for it (``inference_chunk``) keep in cache.

A batch large enough runs in shards, one per core (``scratchnet.parallel``), each on its
own set of runners; their gradients are summed in shard order into the layers' ``grads``.
Runners that need sums over the whole batch (BatchNormalization's statistics) get the
step's :class:`~scratchnet.fast.sync.ShardGroup` and their shard's index.
"""

from __future__ import annotations

import threading
from itertools import pairwise

import numpy as np

from scratchnet import parallel
from scratchnet.fast import runner_for
from scratchnet.fast.sync import ShardGroup
from scratchnet.weighting import check_sample_weight


class FastEngine:
    """The default engine of :class:`~scratchnet.sequential.Sequential` (``engine="fast"``)."""

    name = "fast"

    def __init__(self, model):
        self.model = model
        self.layers = model.layers
        # The runners of a whole batch write the layers' own grads.
        self.whole = self._runners([layer.grads for layer in self.layers])
        self.pools_first = {i for i, (before, after) in enumerate(pairwise(self.whole))
                            if before.pools_first(after)}
        self.trains_pooled = {i for i, (before, after) in enumerate(pairwise(self.whole))
                              if before.trains_pooled(after)}
        self.shards: list[list] = []  # one runner set per shard, made on first use

    def _runners(self, grads) -> list:
        runners = [runner_for(layer, g) for layer, g in zip(self.layers, grads, strict=True)]
        runners[0].need_input_grad = False  # nothing uses the model input's gradient
        for before, after in pairwise(runners):
            before.crop_output(after.input_window())
        return runners

    def _shard_sets(self, shards: int) -> list[list]:
        if len(self.shards) != shards:
            self.shards = [self._runners([{k: np.zeros_like(g) for k, g in layer.grads.items()}
                                          for layer in self.layers]) for _ in range(shards)]
        return self.shards

    # -- forward ------------------------------------------------------------------------------
    def forward(self, x, training: bool, logits: bool) -> np.ndarray:
        """The model's output on ``x``, or its logits (before a softmax that the loss fuses)."""
        if training:
            return self._forward_on(self.whole, x, True, logits)
        bounds = parallel.shard_bounds(len(x))
        if bounds is None:
            return self._infer_on(self.whole, x, logits)
        # Inference treats every sample on its own: each core takes a slice of the batch.
        return np.concatenate(parallel.run_shards(
            bounds, self._shard_sets(len(bounds) - 1),
            lambda runners, xs: self._infer_on(runners, xs, logits), x))

    def _infer_on(self, runners, x, logits: bool) -> np.ndarray:
        chunk = min((r.inference_chunk for r in runners if r.inference_chunk), default=None)
        if chunk and len(x) > chunk:
            # No layer's output for the whole batch is ever materialised.
            return np.concatenate([self._forward_on(runners, x[lo:lo + chunk], False, logits)
                                   for lo in range(0, len(x), chunk)])
        return self._forward_on(runners, x, False, logits)

    def _forward_on(self, runners, x, training: bool, logits: bool) -> np.ndarray:
        fused = self.model.fused_activation if logits else None
        last, i = len(runners) - 1, 0
        while i <= last:
            if i == last and fused == "layer":
                break
            if not training and i in self.pools_first:  # this layer and the pool after it
                x = runners[i].pooled(x, runners[i + 1])
                i += 2
                continue
            if training and i in self.trains_pooled:  # the same, keeping what backward needs
                x = runners[i].pooled_training(x, runners[i + 1])
                i += 2
                continue
            x = runners[i].forward(x, training, activate=not (i == last and fused))
            i += 1
        return x

    # -- gradients ----------------------------------------------------------------------------
    def gradients(self, x, y, training: bool = True, sample_weight=None):
        """Forward, loss and backward of one batch; fills every layer's ``grads``.

        Returns ``(mean loss, logits)``; ``sample_weight`` (N,) weighs each sample's loss
        (each shard takes its rows, and divides by the whole batch's size as always).
        """
        bounds = parallel.shard_bounds(len(x)) if training else None
        if bounds is None:
            return self._gradients_on(self.whole, x, y, training, len(x), sample_weight)
        # The whole batch's targets, checked by the loss that reads them.
        y = self.model.loss.check_targets(y, self.layers[-1].output_shape, len(x))
        sample_weight = check_sample_weight(sample_weight, len(x), x.dtype)
        drawn = [r.draw(len(x)) for r in self.whole]  # as unsharded, in batch order

        sets = self._shard_sets(len(bounds) - 1)
        group = ShardGroup(len(sets))  # for runners that need whole-batch sums (BatchNorm)

        def shard(indexed, xs, ys, ws, *noise):
            k, runners = indexed
            for runner, rows in zip(runners, noise, strict=True):
                runner.drawn = rows  # this shard's rows of the batch's draw, or None
                runner.group, runner.shard = group, k
            try:
                return self._gradients_on(runners, xs, ys, True, len(x), ws)
            except threading.BrokenBarrierError:
                raise  # another shard failed first: its error is group.error
            except BaseException as err:
                group.abort(err)
                raise

        try:
            results = parallel.run_shards(bounds, list(enumerate(sets)), shard, x, y,
                                          sample_weight, *drawn)
        except threading.BrokenBarrierError:
            raise group.error from None
        for i, layer in enumerate(self.layers):  # summed in shard order
            for key, total in layer.grads.items():
                np.add(sets[0][i].grads[key], sets[1][i].grads[key], out=total)
                for runners in sets[2:]:
                    total += runners[i].grads[key]
        return sum(loss for loss, _ in results), np.concatenate([z for _, z in results])

    def _gradients_on(self, runners, x, y, training: bool, batch_size: int,
                      sample_weight=None):
        model = self.model
        logits = self._forward_on(runners, x, training, logits=True)
        loss, dy = model.loss(logits, y, batch_size=batch_size, sample_weight=sample_weight)
        fused = model.fused_activation
        last = i = len(runners) - 1
        while i >= 0:
            if i == last and fused == "layer":
                i -= 1
            elif training and i - 1 in self.trains_pooled:  # a pool and its conv: one pass
                dy = runners[i - 1].pooled_backward(dy)
                i -= 2
            else:
                dy = runners[i].backward(dy, activate=not (i == last and fused))
                i -= 1
        return loss, logits
