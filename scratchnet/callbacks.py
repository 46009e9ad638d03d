"""Callbacks: hooks into the training loop, and the History that ``fit`` returns.

The contract (which hooks ``fit`` calls, and when) is ``scratchnet.callback_base``. This
module holds the small callbacks and names every one, as ``keras.callbacks`` does:

- ``History``, ``LambdaCallback``, ``TerminateOnNaN`` and ``BackupAndRestore`` (here);
- ``EarlyStopping`` (``scratchnet.early_stopping``), ``ReduceLROnPlateau`` and
  ``LearningRateScheduler`` (``scratchnet.lr_callbacks``), ``CSVLogger``
  (``scratchnet.csv_logger``), ``ModelCheckpoint`` (``scratchnet.checkpoint``).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from scratchnet import backup
from scratchnet.callback_base import Callback as Callback
from scratchnet.checkpoint import ModelCheckpoint as ModelCheckpoint
from scratchnet.csv_logger import CSVLogger as CSVLogger
from scratchnet.early_stopping import EarlyStopping as EarlyStopping
from scratchnet.lr_callbacks import LearningRateScheduler as LearningRateScheduler
from scratchnet.lr_callbacks import ReduceLROnPlateau as ReduceLROnPlateau


class History(Callback):
    """Records the per-epoch figures: ``history.history['val_accuracy'][epoch]``."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class LambdaCallback(Callback):
    """A callback made of plain functions, as ``keras.callbacks.LambdaCallback``.

    ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``,
    ``on_train_begin(logs)``, ``on_train_end(logs)``, ``on_train_batch_begin(batch,
    logs)``, ``on_train_batch_end(batch, logs)``, and (as Keras's keyword arguments)
    ``on_batch_begin``/``on_batch_end``. Any other keyword is refused, so a misspelt hook
    fails at once instead of never running.
    """

    _EXTRA = ("on_batch_begin", "on_batch_end")

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        unknown = sorted(set(kwargs) - set(self._EXTRA))
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hooks {unknown}; the hooks are "
                            "on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, "
                            "on_train_batch_begin, on_train_batch_end, on_batch_begin and "
                            "on_batch_end")
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback {name} must be a function, got {fn!r}")
            setattr(self, name, fn)  # an instance attribute: called without self


class TerminateOnNaN(Callback):
    """Stop training at the first NaN or inf loss, as ``keras.callbacks.TerminateOnNaN``.

    Without it, a non-finite loss makes ``fit`` raise FloatingPointError. Either way the
    weights and the optimizer are left as they were after the last finite step.

    Parameters
    ----------
    raise_error : bool
        Raise RuntimeError instead of stopping quietly (Keras 3's option).
    """

    def __init__(self, raise_error: bool = False):
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss "
                                   f"value: {loss}. Terminating training immediately.")
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

