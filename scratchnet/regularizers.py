"""Weight penalties added to the loss, as Keras 3's ``keras.regularizers``.

A layer given ``kernel_regularizer=L2(1e-4)`` adds ``penalty(W)`` to the loss the model
reports, and ``gradient(W)`` to W's gradient, once per training step (after the shards'
gradients are summed, so the number of workers does not change it):

    L1(l1):      penalty = l1 sum|w|           gradient = l1 sign(w)   (0 at w = 0)
    L2(l2):      penalty = l2 sum w^2          gradient = 2 l2 w
    L1L2(l1,l2): the sum of the two

Note Keras's L2 has no 1/2: its gradient is 2 l2 w, twice the "weight decay" of
``SGD(weight_decay=...)`` papers.
"""

from __future__ import annotations

import numpy as np


def _strength(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}; a negative "
                         "strength would reward large weights")
    return float(value)


class Regularizer:
    """Base class: ``penalty(w) -> float`` and ``gradient(w) -> array like w``."""

    def penalty(self, w: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, w: np.ndarray) -> float:
        return self.penalty(w)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class L1L2(Regularizer):
    """l1 sum|w| + l2 sum w^2 (Keras's defaults: both 0)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _strength(l1, f"{type(self).__name__} l1")
        self.l2 = _strength(l2, f"{type(self).__name__} l2")

    def penalty(self, w):
        w = w.astype(np.float64, copy=False)
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(w).sum())
        if self.l2:
            total += self.l2 * float((w * w).sum())
        return total

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}

    def gradient(self, w):
        dt = w.dtype.type
        g = np.zeros_like(w)
        if self.l1:
            g += dt(self.l1) * np.sign(w)
        if self.l2:
            g += dt(2 * self.l2) * w
        return g


class L1(L1L2):
    """l1 sum|w| (Keras's default l1: 0.01)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}

    def __repr__(self):
        return f"L1(l1={self.l1!r})"


class L2(L1L2):
    """l2 sum w^2 (Keras's default l2: 0.01)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}

    def __repr__(self):
        return f"L2(l2={self.l2!r})"


_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get_regularizer(spec) -> Regularizer | None:
    """None, a Regularizer, or a name (``'l1'``, ``'l2'``, ``'l1_l2'``, with Keras's defaults)."""
    if spec is None or isinstance(spec, Regularizer):
        return spec
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    raise ValueError(f"unknown regularizer {spec!r}; choose one of {sorted(_BY_NAME)} "
                     "or pass a Regularizer instance, e.g. L2(1e-4)")


__all__ = ["L1", "L1L2", "L2", "Regularizer", "get_regularizer"]
