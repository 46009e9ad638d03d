"""Learning-rate schedules, as Keras 3 defines them: functions of the optimizer's step.

An optimizer given a schedule as its ``learning_rate`` evaluates it once per update, at
its ``iterations`` count before that update (0 for the first step), exactly as Keras
does. Each schedule is a plain function of the step, so it can be printed and plotted:
``[schedule(s) for s in range(1000)]``.
"""

from __future__ import annotations

import math

import numpy as np


def _positive(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not value > 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def _non_negative(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not value >= 0:
        raise ValueError(f"{what} must be a number >= 0, got {value!r}")
    return float(value)


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step) -> learning rate``.

    Subclass it for a schedule of your own (``keras.optimizers.schedules`` style), or
    wrap a plain function of the step in :class:`LambdaSchedule`.
    """

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor's arguments (what a saved model keeps); the built-in schedules
        store exactly those as attributes."""
        return dict(vars(self))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class LambdaSchedule(LearningRateSchedule):
    """A user function of the step: ``LambdaSchedule(lambda step: 1e-3 * 0.5 ** (step // 100))``."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"LambdaSchedule needs a function of the step, got {fn!r}")
        self.fn = fn

    def __call__(self, step):
        return self.fn(step)

    def get_config(self):
        raise TypeError(f"{self!r} wraps a function, which cannot be saved; subclass "
                        "LearningRateSchedule with a get_config() returning its arguments "
                        "(and pass it to load_model's custom_objects)")


class ExponentialDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate * decay_rate ** (step / decay_steps).

    With ``staircase=True`` the exponent is floored: the rate drops every
    ``decay_steps`` steps.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = _positive(initial_learning_rate,
                                               "ExponentialDecay initial_learning_rate")
        self.decay_steps = _positive(decay_steps, "ExponentialDecay decay_steps")
        self.decay_rate = _positive(decay_rate, "ExponentialDecay decay_rate")
        self.staircase = bool(staircase)

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p


class InverseTimeDecay(LearningRateSchedule):
    """lr(step) = initial_learning_rate / (1 + decay_rate * step / decay_steps).

    With ``staircase=True`` ``step / decay_steps`` is floored.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = _positive(initial_learning_rate,
                                               "InverseTimeDecay initial_learning_rate")
        self.decay_steps = _positive(decay_steps, "InverseTimeDecay decay_steps")
        self.decay_rate = _non_negative(decay_rate, "InverseTimeDecay decay_rate")
        self.staircase = bool(staircase)

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1 + self.decay_rate * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <=
    boundaries[i], and values[-1] after the last boundary (Keras's intervals)."""

    def __init__(self, boundaries, values):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstantDecay needs one more value than boundaries, "
                             f"got {len(boundaries)} boundaries and {len(values)} values")
        if any(b >= a for a, b in zip(boundaries[1:], boundaries, strict=False)):
            raise ValueError(f"PiecewiseConstantDecay boundaries must increase, got {boundaries}")
        self.boundaries = boundaries
        self.values = [_positive(v, "PiecewiseConstantDecay values") for v in values]

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values, strict=False):
            if step <= boundary:
                return value
        return self.values[-1]


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha`` times it over
    ``decay_steps``, after an optional linear warmup (Keras 3 semantics).

    Without ``warmup_target``: lr(s) = initial * ((1 - alpha) c(s) + alpha) with
    c(s) = (1 + cos(pi min(s, decay_steps) / decay_steps)) / 2.

    With ``warmup_target``: for s < warmup_steps the rate climbs linearly from
    ``initial_learning_rate`` to ``warmup_target``; then it decays as above from
    ``warmup_target``, over the next ``decay_steps`` steps.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = _non_negative(initial_learning_rate,
                                                   "CosineDecay initial_learning_rate")
        self.decay_steps = _positive(decay_steps, "CosineDecay decay_steps")
        self.alpha = _non_negative(alpha, "CosineDecay alpha")
        self.warmup_target = (None if warmup_target is None
                              else _positive(warmup_target, "CosineDecay warmup_target"))
        self.warmup_steps = _non_negative(warmup_steps, "CosineDecay warmup_steps")

    def _decay(self, step, from_lr):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return from_lr * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            rise = self.warmup_target - self.initial_learning_rate
            return self.initial_learning_rate + rise * step / self.warmup_steps
        return self._decay(step - self.warmup_steps, self.warmup_target)


_SCHEDULES = {
    "CosineDecay": CosineDecay, "ExponentialDecay": ExponentialDecay,
    "InverseTimeDecay": InverseTimeDecay, "PiecewiseConstantDecay": PiecewiseConstantDecay,
}


def get_schedule(name: str, **kwargs) -> LearningRateSchedule:
    """``get_schedule('ExponentialDecay', initial_learning_rate=..., ...)``, by class name."""
    if name not in _SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {name!r}; choose one of "
                         f"{sorted(_SCHEDULES)}, or pass a LearningRateSchedule instance")
    return _SCHEDULES[name](**kwargs)


__all__ = ["CosineDecay", "ExponentialDecay", "InverseTimeDecay", "LambdaSchedule",
           "LearningRateSchedule", "PiecewiseConstantDecay", "get_schedule"]
