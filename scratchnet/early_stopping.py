"""EarlyStopping: stop training when a monitored figure stops improving, as Keras 3.

The rule, epoch by epoch, exactly as ``keras.callbacks.EarlyStopping`` (Keras 3.15):

1. before ``start_from_epoch`` nothing is counted;
2. with ``restore_best_weights``, the first counted epoch's weights are kept as the best;
3. ``wait`` counts up by one;
4. a value that improves on the best so far (by more than ``min_delta``; see
   ``scratchnet.monitor``) becomes the best (its weights kept), and resets ``wait`` to 0
   unless a ``baseline`` is given and the value does not beat it either;
5. otherwise, once ``wait >= patience`` (and after the first epoch), training stops.

At the end of training, ``restore_best_weights`` writes the best epoch's weights back
(also when training ran to its last epoch without stopping), bit for bit: every array
of ``get_weights``, BatchNormalization's moving statistics included.
"""

from __future__ import annotations

from scratchnet.monitor import MonitorCallback, check_count, check_real


class EarlyStopping(MonitorCallback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default 'val_loss'
    min_delta : float, default 0
        A change of at most this much is no improvement.
    patience : int, default 0
        Epochs without improvement before stopping.
    verbose : int, default 0
        1: print when stopping and when restoring weights.
    mode : {'auto', 'min', 'max'}
    baseline : float, optional
        Values that do not beat it do not reset the patience count.
    restore_best_weights : bool, default False
        End with the weights of the best epoch instead of the last.
    start_from_epoch : int, default 0
        Epochs of warm-up that are not monitored.

    Attributes
    ----------
    stopped_epoch : int
        The epoch training stopped at (0 if it did not stop early).
    best, best_epoch, wait
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = check_count(patience, "EarlyStopping patience")
        self.verbose = verbose
        self.baseline = None if baseline is None else check_real(baseline,
                                                                 "EarlyStopping baseline")
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = check_count(start_from_epoch, "EarlyStopping start_from_epoch")
        self._reset()

    def _reset(self):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best, self.best_weights = None, None

    def on_train_begin(self, logs=None):
        self._reset()  # an instance may be reused for another fit, as in Keras

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        current = self.monitored(logs)
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self.is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self.is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)
