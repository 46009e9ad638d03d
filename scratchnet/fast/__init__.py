"""The fast engine: a second implementation of every built-in layer, with numba kernels.

``scratchnet.layers`` say what each layer computes, through the plain-NumPy pairs of
``scratchnet.reference``. This package computes the same, faster: each runner here is
one layer's fast forward and backward (``tests/`` prove them equal to the reference
pairs), and :class:`~scratchnet.fast.engine.FastEngine` runs a model through them, with
the work a model can skip and its batches in shards, one per core.

A layer type with no runner here (a user-written layer, Flatten, the activation layers)
runs its own reference pair on the fast engine too. To give a layer type of your own a
fast implementation, subclass :class:`Runner` and :func:`register` it.
"""

from __future__ import annotations

from scratchnet.fast.augment import FastGaussianNoise, FastResampling
from scratchnet.fast.batchnorm import FastBatchNorm
from scratchnet.fast.bidirectional import FastBidirectional
from scratchnet.fast.conv2d import FastConv2D
from scratchnet.fast.dense import FastDense
from scratchnet.fast.dropout import FastDropout
from scratchnet.fast.gru import FastGRU
from scratchnet.fast.lstm import FastLSTM
from scratchnet.fast.pooling import FastMaxPool2D
from scratchnet.fast.runner import ReferenceRunner, Runner
from scratchnet.fast.simple_rnn import FastSimpleRNN
from scratchnet.layers import (
    GRU,
    LSTM,
    BatchNormalization,
    Bidirectional,
    Conv2D,
    Dense,
    Dropout,
    MaxPool2D,
    SimpleRNN,
)
from scratchnet.layers.augment import (
    GaussianNoise,
    RandomDistortion,
    RandomElastic,
    RandomRotation,
    RandomShear,
    RandomTranslation,
    RandomZoom,
)

_RUNNERS: dict[type, type[Runner]] = {
    BatchNormalization: FastBatchNorm, Bidirectional: FastBidirectional, Conv2D: FastConv2D,
    Dense: FastDense, Dropout: FastDropout, GRU: FastGRU, LSTM: FastLSTM,
    MaxPool2D: FastMaxPool2D, SimpleRNN: FastSimpleRNN,
    # Data augmentation: every geometric layer runs the one fused affine-sampling kernel.
    GaussianNoise: FastGaussianNoise, RandomDistortion: FastResampling,
    RandomElastic: FastResampling,
    RandomRotation: FastResampling, RandomShear: FastResampling,
    RandomTranslation: FastResampling, RandomZoom: FastResampling,
}


def register(layer_type: type, runner_type: type[Runner]) -> None:
    """Run layers of exactly ``layer_type`` through ``runner_type`` on the fast engine."""
    if not (isinstance(runner_type, type) and issubclass(runner_type, Runner)):
        raise TypeError(f"a fast implementation must subclass scratchnet.fast.Runner, "
                        f"got {runner_type!r}")
    _RUNNERS[layer_type] = runner_type


def _runner_type(layer) -> type[Runner]:
    runner = _RUNNERS.get(type(layer))
    return runner if runner is not None and runner.handles(layer) else ReferenceRunner


def has_fast_path(layer) -> bool:
    """Whether ``layer`` has a fast implementation (else it runs its reference): its exact
    type has a runner, and the runner handles the layer's options (``Runner.handles``)."""
    return _runner_type(layer) is not ReferenceRunner


def runner_for(layer, grads) -> Runner:
    """The fast runner of a built ``layer`` that writes ``grads``, or its reference pair.

    A subclass of a built-in layer may change its maths, so only the exact type counts.
    """
    return _runner_type(layer)(layer, grads)


__all__ = ["ReferenceRunner", "Runner", "has_fast_path", "register", "runner_for"]
