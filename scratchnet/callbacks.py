"""Callbacks: hooks into the training loop, and the History that ``fit`` returns.

A callback sees ``self.model`` and may stop training by setting
``self.model.stop_training = True`` (checked after every batch and every epoch),
which is all EarlyStopping and ModelCheckpoint need.
"""

from __future__ import annotations


class Callback:
    """Override any of these hooks. ``logs`` is a dict of the current figures."""

    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None): ...

    def on_train_end(self, logs=None): ...

    def on_epoch_begin(self, epoch: int, logs=None): ...

    def on_epoch_end(self, epoch: int, logs=None): ...

    def on_batch_end(self, batch: int, logs=None): ...


class History(Callback):
    """Records the per-epoch figures: ``history.history['val_accuracy'][epoch]``."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto"):
        self.monitor, self.patience, self.min_delta = monitor, int(patience), abs(min_delta)
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.sign = 1.0 if mode == "min" else -1.0
        self.best, self.wait, self.stopped_epoch = float("inf"), 0, None

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.stopped_epoch = float("inf"), 0, None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor not in (logs or {}):
            raise KeyError(f"EarlyStopping monitors {self.monitor!r}, not in logs {sorted(logs)}")
        value = self.sign * logs[self.monitor]
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait > self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
