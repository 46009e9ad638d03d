"""MonitorCallback: the callbacks that watch one figure of the epoch's logs, as Keras 3's.

EarlyStopping and ReduceLROnPlateau (and ModelCheckpoint's ``save_best_only`` in Keras)
ask the same two questions: which way should the figure go, and does a new value improve
on a reference? Keras 3's answers (``keras.callbacks.MonitorCallback``):

- ``mode='min'`` or ``'max'``; ``'auto'`` reads the name: a loss (``loss``,
  ``val_loss``) goes down, an accuracy compiled as a metric goes up, and any other name
  is refused with the advice to give the mode;
- ``value`` improves on ``reference`` when ``value < reference - min_delta`` (min) or
  ``value > reference + min_delta`` (max); every value improves on no reference (None).
"""

from __future__ import annotations

import math
import numbers

from scratchnet.callback_base import Callback
from scratchnet.training_metrics import goes_up


def check_count(value, what: str) -> int:
    """An integer >= 0 (patience, cooldown, start_from_epoch)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {value!r}")
    return int(value)


def check_real(value, what: str, minimum: float | None = None) -> float:
    """A finite real number (>= ``minimum`` if given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or (minimum is not None and value < minimum):
        at_least = f" >= {minimum}" if minimum is not None else ""
        raise ValueError(f"{what} must be a finite number{at_least}, got {value!r}")
    return float(value)


class MonitorCallback(Callback):
    """Base class: ``monitor``, ``mode`` and ``min_delta``, and the improvement test.

    Parameters
    ----------
    monitor : str
        A key of the epoch's logs: 'val_loss', 'accuracy', ...
    mode : {'auto', 'min', 'max'}
    min_delta : float
        The least change that counts as an improvement (its sign is ignored).
    """

    def __init__(self, monitor="val_loss", mode="auto", min_delta=0.0):
        name = type(self).__name__
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"{name} monitor must be the name of a figure in the logs, e.g. "
                            f"'val_loss', got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{name} mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.mode = monitor, mode
        self.min_delta = abs(check_real(min_delta, f"{name} min_delta"))
        self.best = None
        #: 'min' or 'max', once known (``mode``, or for 'auto' the model's metrics).
        self.direction = None if mode == "auto" else mode

    def set_model(self, model) -> None:
        super().set_model(model)
        if self.mode == "auto":
            self.direction = self._auto_direction(model)

    def _auto_direction(self, model) -> str:
        name = self.monitor.removeprefix("val_")
        if name == "loss":
            return "min"
        functions = [*getattr(model, "metric_functions", []),
                     *getattr(model, "weighted_metric_functions", [])]
        for metric, fn in functions:
            if metric == name and goes_up(fn):
                return "max"
        raise ValueError(f"{type(self).__name__} cannot tell whether {self.monitor!r} should "
                         "be minimized or maximized (as Keras, mode='auto' knows the loss and "
                         "the built-in metrics); pass mode='min' or mode='max'")

    def is_improvement(self, value, reference) -> bool:
        if reference is None:
            return True
        if self.direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def monitored(self, logs) -> float:
        """The monitored value in ``logs``, or a KeyError naming the keys there are."""
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(f"{type(self).__name__} monitors {self.monitor!r}, which is not in "
                           f"the logs {sorted(logs)}; pass monitor= one of them (val_ figures "
                           "need validation_data or validation_split)")
        return float(logs[self.monitor])
