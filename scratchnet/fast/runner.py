"""The fast engine's unit: one layer, run by a second implementation of its maths.

A runner holds everything a fast forward and backward need besides the layer's
parameters: caches, scratch buffers, and the gradients it writes. The parameters are
read from the layer at every call, so several runners of one layer (one per shard of a
data-parallel batch: ``scratchnet.parallel``) share them, and each writes its own
``grads``. The maths is the layer's: ``tests/`` prove each runner equal to the layer's
reference pair.

The engine (``scratchnet.fast.engine``) also asks runners about their neighbours, once,
when it builds a model, so that a runner can skip work whose result nobody uses:
``input_window``/``crop_output`` (compute only the part of an output the next layer
reads), ``pools_first``/``pooled`` (a conv's bias and ReLU after the max-pool at
inference), ``trains_pooled``/``pooled_training``/``pooled_backward`` (a first conv and
its max-pool as one pass each way in training) and ``inference_chunk`` (how many
samples at a time keep a layer in cache).
"""

from __future__ import annotations

import copy

import numpy as np


class Runner:
    """Base class of the fast implementations of layers.

    Parameters
    ----------
    layer : Layer
        Built; its ``params`` are read at every call.
    grads : dict
        Arrays shaped like ``layer.params``, written by ``backward``: ``layer.grads``
        itself for the runner of a whole batch, arrays of its own for a shard's.
    """

    #: At inference, the batch size this layer runs fastest at, if large batches hurt it.
    inference_chunk: int | None = None
    #: True for a layer that commutes with every increasing function applied channel by
    #: channel, f(g(x)) = g(f(x)): a max-pool. A conv's bias and ReLU can then run after it.
    commutes_with_increasing = False

    @classmethod
    def handles(cls, layer) -> bool:
        """Whether this runner implements ``layer``'s options (else its reference pair runs)."""
        return True

    def __init__(self, layer, grads):
        self.layer = layer
        self.grads = grads
        self.need_input_grad = True  # False on a model's first layer
        self.drawn = None  # this shard's rows of the batch's random draw (see draw)
        # The sharded training step this runner takes part in (scratchnet.fast.sync), and
        # its shard's index; None and 0 for a batch run whole.
        self.group = None
        self.shard = 0
        self.inference_pass = False  # the last forward kept nothing for backward

    # -- what the engine asks once, at build time -------------------------------------------
    def input_window(self) -> tuple[int, ...] | None:
        """The leading part of each input sample this layer reads, if it reads only part."""
        return None

    def crop_output(self, shape: tuple[int, ...] | None) -> None:
        """Compute only the leading ``shape`` of each output sample (``None``: all of it)."""

    @property
    def computed_shape(self) -> tuple[int, ...]:
        """The sample shape ``forward`` returns: the layer's ``output_shape`` unless cropped."""
        return self.layer.output_shape

    def pools_first(self, after: Runner) -> bool:
        """Whether ``self.pooled(x, after)`` computes ``after(self(x))`` at inference, faster."""
        return False

    def trains_pooled(self, after: Runner) -> bool:
        """Whether, in training, ``self.pooled_training(x, after)`` computes ``after(self(x))``
        and ``self.pooled_backward(dy)`` the gradients of both (neither has an input one)."""
        return False

    def draw(self, n: int) -> np.ndarray | None:
        """The random numbers a training forward on ``n`` samples uses, drawn now from the
        layer's stream; ``None`` for a layer that uses none. A sharded step draws them for
        the whole batch and hands each shard's runner its rows in ``drawn``, so the draws
        are the same for any number of workers."""
        return None

    # -- running -------------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool, activate: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, activate: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def check_upstream(self, dy, expected: tuple[int, ...] | None) -> np.ndarray:
        """``dy`` as a C-contiguous array, or a clear error if it does not fit the last forward.

        Runners whose numba kernels index without bounds checks call this, so a wrong
        shape never reaches them; a wrong dtype is refused rather than silently cast.
        """
        name = self.layer.name
        if self.inference_pass:
            raise RuntimeError(f"{name}: backward needs a forward pass with training=True; "
                               "the last forward was inference, which keeps nothing for it")
        if expected is None:
            raise RuntimeError(f"{name}: backward called before any forward pass")
        if getattr(dy, "shape", None) != tuple(expected):
            raise ValueError(f"{name}: expected an upstream gradient of shape {expected} "
                             f"(the last forward's output), got {getattr(dy, 'shape', type(dy))}")
        if dy.dtype != self.layer.dtype:
            raise TypeError(f"{name}: expected a {self.layer.dtype} upstream gradient, "
                            f"got {dy.dtype}")
        return np.ascontiguousarray(dy)


class ReferenceRunner(Runner):
    """A layer with no fast implementation: its own reference pair, on both engines.

    The runner of a whole batch runs the layer itself. A shard's runner runs a copy that
    shares the layer's parameter arrays and owns everything else (caches, activation,
    grads), so two shards can run at once. A copy has no random stream: a layer that
    draws random numbers needs a fast implementation with ``draw``, or it fails loudly
    instead of repeating its twin's numbers.
    """

    def __init__(self, layer, grads):
        super().__init__(layer, grads)
        if grads is layer.grads:
            self.impl = layer
        else:
            self.impl = copy.deepcopy(layer, memo={id(p): p for p in layer.params.values()})
            self.impl.grads, self.impl.rng = grads, None

    def forward(self, x, training, activate=True):
        impl = self.impl
        impl.params = self.layer.params  # the very same arrays, also after a load
        y = impl.forward(x, training)
        if activate and impl.activation is not None:
            y = impl.activation.forward(y, training)
        return y

    def backward(self, dy, activate=True):
        impl = self.impl
        if activate and impl.activation is not None:
            dy = impl.activation.backward(dy)
        return impl.backward(dy)
