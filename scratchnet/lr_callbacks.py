"""The callbacks that set the learning rate between epochs: ReduceLROnPlateau and
LearningRateScheduler, as Keras 3's.

Both write ``optimizer.learning_rate``, a float. An optimizer given a schedule
(``scratchnet.optimizers.schedules``) or a function already chooses its rate at every
step; as Keras 3 ("its learning rate is not settable"), both callbacks refuse it, here
at the start of ``fit`` rather than at the first change. Both also write
``logs['learning_rate']`` at the end of an epoch, as Keras: the rate the epoch ran with
(ReduceLROnPlateau writes it before it reduces the rate for the next epoch).
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from scratchnet.callback_base import Callback
from scratchnet.monitor import MonitorCallback, check_count, check_real


def settable_learning_rate(model, owner: str) -> float:
    """The optimizer's learning rate, if it is a plain number a callback may replace."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise RuntimeError(f"{owner} needs a compiled model (it sets the optimizer's "
                           "learning rate)")
    lr = optimizer.learning_rate
    if callable(lr) or isinstance(lr, (bool, np.bool_)) or not isinstance(lr, numbers.Real):
        raise TypeError(f"{owner} sets the learning rate, but {type(optimizer).__name__} was "
                        f"given {lr!r}, which chooses the rate at every step and is not "
                        "settable (as in Keras); compile with a float learning_rate to use "
                        f"{owner}, or drop {owner} and let the schedule decay the rate")
    return float(lr)


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving.

    Epoch by epoch (Keras 3): during a cooldown the count of bad epochs stays 0; a value
    that improves on the best by more than ``min_delta`` becomes the best and resets the
    count; otherwise, outside a cooldown, the count grows, and at ``patience`` the rate
    becomes max(rate * factor, min_lr) (if it is still above min_lr), a cooldown of
    ``cooldown`` epochs starts and the count is reset.

    Parameters
    ----------
    monitor : str, default 'val_loss'
    factor : float in (0, 1), default 0.1
    patience : int, default 10
    verbose : int, default 0
    mode : {'auto', 'min', 'max'}
    min_delta : float, default 1e-4
    cooldown : int, default 0
    min_lr : float, default 0
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        self.factor = check_real(factor, "ReduceLROnPlateau factor")
        if not 0 < self.factor < 1:
            raise ValueError(f"ReduceLROnPlateau factor must be in (0, 1): the new rate is "
                             f"rate * factor; got factor={factor!r}")
        self.patience = check_count(patience, "ReduceLROnPlateau patience")
        self.cooldown = check_count(cooldown, "ReduceLROnPlateau cooldown")
        self.min_lr = check_real(min_lr, "ReduceLROnPlateau min_lr", minimum=0.0)
        self.verbose = verbose
        self._reset()

    def _reset(self):
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        settable_learning_rate(self.model, "ReduceLROnPlateau")
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        optimizer = self.model.optimizer
        logs["learning_rate"] = settable_learning_rate(self.model, "ReduceLROnPlateau")
        current = self.monitored(logs)
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old = logs["learning_rate"]
                # float32 as Keras compares: a rate that is min_lr in float32 is at the floor.
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


def _takes_rate(schedule) -> bool:
    """Whether ``schedule`` takes (epoch, lr) rather than Keras's old form (epoch)."""
    try:
        params = inspect.signature(schedule).parameters.values()
    except (TypeError, ValueError):  # no signature to read: try the current form
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch to ``schedule(epoch, lr)``.

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch, lr) -> new lr`` with the epoch index (from 0) and the current
        rate; a function of the epoch alone (Keras's older form) is also accepted.
    verbose : int, default 0
        1: print the rate every epoch.
    """

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler needs a function schedule(epoch, lr) -> "
                            f"lr, got {schedule!r}")
        self.schedule, self.verbose = schedule, verbose
        self._two_args = _takes_rate(schedule)

    def on_train_begin(self, logs=None):
        settable_learning_rate(self.model, "LearningRateScheduler")

    def on_epoch_begin(self, epoch, logs=None):
        lr = settable_learning_rate(self.model, "LearningRateScheduler")
        new = self.schedule(epoch, lr) if self._two_args else self.schedule(epoch)
        if isinstance(new, (bool, np.bool_)) or not isinstance(new, numbers.Real) \
                or not (math.isfinite(new) and new > 0):
            raise ValueError(f"LearningRateScheduler: schedule({epoch}, {lr}) returned "
                             f"{new!r}; it must return the new learning rate, a positive "
                             "finite float")
        self.model.optimizer.learning_rate = float(new)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(new)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = settable_learning_rate(self.model, "LearningRateScheduler")
