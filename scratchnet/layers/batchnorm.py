"""Batch normalization (Ioffe & Szegedy), with Keras 3's arguments and semantics."""

from __future__ import annotations

import numpy as np

from scratchnet.layers.base import Layer
from scratchnet.reference import (
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_inference_backward,
    batchnorm_inference_forward,
)


def _fraction(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 <= value <= 1:
        raise ValueError(f"{what} must be a number in [0, 1], got {value!r}")
    return float(value)


class BatchNormalization(Layer):
    """Normalise each channel: y = gamma (x - mean) / sqrt(var + epsilon) + beta.

    In training (``training=True``, i.e. in ``fit``) mean and var are the batch's own, over
    every axis but ``axis`` (biased variance, as Keras), and the layer's non-trainable
    ``state`` follows them::

        moving_mean     <- momentum moving_mean     + (1 - momentum) mean
        moving_variance <- momentum moving_variance + (1 - momentum) var

    In inference (``evaluate``, ``predict``) mean and var are the moving ones.

    Parameters
    ----------
    axis : int, default -1
        The channel axis (channels-last: after Dense and Conv2D, the default).
    momentum : float in [0, 1], default 0.99
    epsilon : float > 0, default 1e-3
    center, scale : bool, default True
        Whether to learn ``beta`` (an offset) and ``gamma`` (a scale).

    Shapes: x (N, ..., C) -> y, same shape; params ``gamma``, ``beta`` (C,); state
    ``moving_mean``, ``moving_variance`` (C,). The maths: ``scratchnet.reference.batchnorm``.

    Training needs more than one value per channel: a batch of one sample after a Dense
    layer is refused (its variance is 0 and every output would be ``beta``).
    """

    default_name = "batch_normalization"  # Keras's

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 input_shape=None, name=None):
        super().__init__(input_shape=input_shape, name=name)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"{self.name}: axis must be an int, got {axis!r}")
        self.axis = int(axis)
        self.momentum = _fraction(momentum, f"{self.name}: momentum")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.floating)) \
                or not epsilon > 0:
            raise ValueError(f"{self.name}: epsilon must be a positive number, got {epsilon!r}")
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale}

    def weight_shapes(self, input_shape):
        ndim = len(input_shape) + 1
        axis = self.axis + ndim if self.axis < 0 else self.axis
        if not 1 <= axis < ndim:
            return None  # build raises the clear error
        c = (input_shape[axis - 1],)
        return {**({"gamma": c} if self.scale else {}), **({"beta": c} if self.center else {}),
                "moving_mean": c, "moving_variance": c}

    def _build(self, input_shape, rng):
        ndim = len(input_shape) + 1  # with the batch axis
        axis = self.axis + ndim if self.axis < 0 else self.axis
        if not 1 <= axis < ndim:
            raise ValueError(f"{self.name}: axis {self.axis} is not a feature axis of inputs "
                             f"of shape (None, *{input_shape}); use -1 for channels-last")
        self.channel_axis = axis
        C = input_shape[axis - 1]
        if self.scale:
            self.params["gamma"] = np.ones(C, self.dtype)
        if self.center:
            self.params["beta"] = np.zeros(C, self.dtype)
        self.state = {"moving_mean": np.zeros(C, self.dtype),
                      "moving_variance": np.ones(C, self.dtype)}
        return input_shape

    # The reference pair normalises the last axis; another channel axis is moved there.
    def _to_last(self, a):
        return np.moveaxis(a, self.channel_axis, -1)

    def _from_last(self, a):
        return np.moveaxis(a, -1, self.channel_axis)

    def check_batch(self, values_per_channel: int) -> None:
        """Refuse a training batch with a single value per channel, naming the fix."""
        if values_per_channel < 2:
            raise ValueError(
                f"{self.name}: BatchNormalization in training needs more than one value per "
                f"channel, got a batch of {values_per_channel}: use a batch_size of 2 or more "
                "(and a dataset whose last batch is not a single sample), or call the model "
                "with training=False")

    def update_moving_statistics(self, mean, var) -> None:
        """moving <- momentum moving + (1 - momentum) batch, in place (once per step)."""
        mm, mv = self.state["moving_mean"], self.state["moving_variance"]
        mm[...] = mm * self.momentum + mean * (1 - self.momentum)
        mv[...] = mv * self.momentum + var * (1 - self.momentum)

    def forward(self, x, training):
        xl = self._to_last(x)
        gamma, beta = self.params.get("gamma"), self.params.get("beta")
        if training:
            self.check_batch(xl.size // xl.shape[-1])
            y, cache = batchnorm_forward(xl, gamma, beta, self.epsilon)
            self.update_moving_statistics(cache["mean"], cache["var"])
        else:
            y, cache = batchnorm_inference_forward(xl, gamma, beta, self.state["moving_mean"],
                                                   self.state["moving_variance"], self.epsilon)
        self.cache = {"training": training, "pair": cache}
        return self._from_last(y)

    def backward(self, dy):
        cache = self.backward_cache()
        pair = batchnorm_backward if cache["training"] else batchnorm_inference_backward
        dx, dgamma, dbeta = pair(self._to_last(dy), cache["pair"])
        grads = {"gamma": dgamma, "beta": dbeta}
        self.store_grads(**{k: grads[k] for k in self.params})
        return self._from_last(dx)
