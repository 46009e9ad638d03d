"""Callbacks: hooks into the training loop, and the History that ``fit`` returns.

A callback sees ``self.model`` and may stop training by setting
``self.model.stop_training = True`` (checked after every batch and every epoch),
which is all EarlyStopping and TerminateOnNaN need. BackupAndRestore also reads and
restores the loop's position (``scratchnet.backup``).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from scratchnet import backup


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


class TerminateOnNaN(Callback):
    """Stop training at the first NaN or inf loss, as ``keras.callbacks.TerminateOnNaN``.

    Without it, a non-finite loss makes ``fit`` raise FloatingPointError. Either way the
    weights and the optimizer are left as they were after the last finite step.
    """

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training", file=sys.stderr)
            self.model.stop_training = True


class BackupAndRestore(Callback):
    """Back up a training run so that, killed and restarted, ``fit`` continues where it
    stopped and ends with the same weights, bit for bit, as if never stopped.

    As ``keras.callbacks.BackupAndRestore``: give the same ``backup_dir`` to the restarted
    ``fit`` (same model, data, batch size and seed). The backup (one file, replaced
    atomically) holds the weights, the optimizer's state, the epoch and batch, and the
    shuffle and dropout random streams; see ``scratchnet.backup``.

    Parameters
    ----------
    backup_dir : path
        A folder for this run's backup only.
    save_freq : 'epoch' or int
        Back up at the end of every epoch, or every ``save_freq`` batches.
    delete_checkpoint : bool
        Delete the backup when training ends normally (not when it fails or is killed).
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(
                save_freq, int) or save_freq < 1):
            raise ValueError(f"save_freq must be 'epoch' or a positive integer, got {save_freq!r}")
        self.backup_dir = Path(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = bool(delete_checkpoint)
        self._batches = 0
        self.restored = False

    def _position(self):
        position = self.model.fit_position
        if position is None:
            raise RuntimeError("BackupAndRestore works inside model.fit only")
        return position

    def on_train_begin(self, logs=None):
        self._batches = 0
        self.restored = backup.restore_backup(self.backup_dir, self.model, self._position())

    def on_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch":
            self._batches += 1
            if self._batches % self.save_freq == 0:
                backup.write_backup(self.backup_dir, self.model, self._position())

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            backup.write_backup(self.backup_dir, self.model, self._position())

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            backup.delete_backup(self.backup_dir)


def __getattr__(name):
    # ModelCheckpoint lives in scratchnet.checkpoint (which imports Callback from here):
    # found here too, loaded on first use so that neither import needs the other first.
    if name == "ModelCheckpoint":
        from scratchnet.checkpoint import ModelCheckpoint

        return ModelCheckpoint
    raise AttributeError(f"module 'scratchnet.callbacks' has no attribute {name!r}")
