"""ModelCheckpoint: save the model (or its weights) during ``fit``, as Keras's callback.

Each save goes through ``model.save`` (a ``.scratchnet`` file: architecture, weights,
optimizer state) or ``model.save_weights`` (an ``.npz``), so it is atomic: a run killed
mid-save leaves the previous checkpoint whole.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from scratchnet.callback_base import Callback


class ModelCheckpoint(Callback):
    """Save the model after every epoch (or every ``save_freq`` batches), or only its best.

    Parameters
    ----------
    filepath : str or path
        May hold ``str.format`` fields filled from ``epoch`` (counted from 1, as Keras)
        and the epoch's logs: ``'ckpt/{epoch:02d}-{val_loss:.2f}.scratchnet'``. It must
        end in ``.scratchnet`` (whole model), or ``.npz`` with ``save_weights_only=True``.
    monitor : str, default 'val_loss'
        The log entry ``save_best_only`` compares.
    verbose : 0 or 1
        1: a line on stderr for each save, or each skipped one.
    save_best_only : bool
        Save only when ``monitor`` improves on the best so far (with a fixed filepath,
        the file always holds the best model).
    save_weights_only : bool
        ``model.save_weights`` instead of ``model.save``.
    mode : {'auto', 'min', 'max'}
        Whether smaller or larger ``monitor`` is better; 'auto': larger for accuracies
        (a name containing 'acc') and F-scores, smaller otherwise.
    save_freq : 'epoch' or int
        Save at each epoch's end, or every ``save_freq`` batches (then with the running
        logs of the epoch so far, which hold no validation figures).
    initial_value_threshold : float, optional
        ``save_best_only`` saves only values better than this.

    The arguments are Keras's, in Keras's order.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        self.filepath = str(filepath)
        suffix = Path(self.filepath).suffix
        want = ".npz" if save_weights_only else ".scratchnet"
        if suffix != want:
            what = "save_weights_only=True saves .npz weights files" if save_weights_only \
                else "a whole model is saved as a .scratchnet file (or pass " \
                     "save_weights_only=True with an .npz filepath)"
            raise ValueError(f"ModelCheckpoint: filepath must end in {want}, got "
                             f"{self.filepath!r}: {what}")
        if mode == "auto":
            mode = "max" if "acc" in monitor or monitor.endswith("f1") else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"ModelCheckpoint mode must be 'min', 'max' or 'auto', got {mode!r}")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(
                save_freq, int) or save_freq < 1):
            raise ValueError(f"save_freq must be 'epoch' or a positive integer, got "
                             f"{save_freq!r}")
        self.monitor, self.mode = monitor, mode
        self.save_best_only, self.save_weights_only = bool(save_best_only), bool(save_weights_only)
        self.save_freq, self.verbose = save_freq, int(verbose)
        self.initial_value_threshold = initial_value_threshold
        self.best = self._start()
        self._batches, self._epoch = 0, 0

    def _start(self) -> float:
        if self.initial_value_threshold is not None:
            return float(self.initial_value_threshold)
        return math.inf if self.mode == "min" else -math.inf

    def _better(self, value: float) -> bool:
        return value < self.best if self.mode == "min" else value > self.best

    def on_train_begin(self, logs=None):
        self._batches = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch":
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._save(self._epoch, logs or {}, batch=batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs or {})

    def _save(self, epoch: int, logs: dict, batch=None) -> None:
        path = self._path(epoch, logs, batch)
        if self.save_best_only:
            if self.monitor not in logs:
                raise KeyError(f"ModelCheckpoint monitors {self.monitor!r}, which is not in "
                               f"the logs {sorted(logs)}; pass validation data for 'val_*' "
                               "or monitor one of those")
            value = float(logs[self.monitor])
            if not self._better(value):
                self._say(f"Epoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            self._say(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{value:.5f}, saving model to {path}")
            self.best = value
        else:
            self._say(f"Epoch {epoch + 1}: saving model to {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def _path(self, epoch: int, logs: dict, batch) -> Path:
        fields = {"epoch": epoch + 1, **logs}
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return Path(self.filepath.format(**fields))
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(f"ModelCheckpoint: cannot fill filepath {self.filepath!r} from "
                             f"epoch and the logs {sorted(logs)}: {type(err).__name__}: "
                             f"{err}") from None

    def _say(self, text: str) -> None:
        if self.verbose:
            print(text, file=sys.stderr)
