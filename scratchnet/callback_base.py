"""The callback contract: the hooks ``fit`` calls, as ``keras.callbacks.Callback``.

``fit`` calls, in this order: ``set_params`` and ``set_model`` once, ``on_train_begin``,
then for every epoch ``on_epoch_begin``, ``on_train_batch_begin``/``on_train_batch_end``
around every step, and ``on_epoch_end`` (whose ``logs`` hold the epoch's loss and
metrics, the ``val_`` ones, ``learning_rate`` and ``time``), and last ``on_train_end``.
The batch hooks pass on to ``on_batch_begin``/``on_batch_end`` unless overridden, as
in Keras. A callback may stop training by setting ``self.model.stop_training = True``
(checked after every batch and every epoch). ``logs`` is one dict per call, shared by
the callbacks in list order: a callback may add to it (Keras's ReduceLROnPlateau writes
``learning_rate``), and ``History``, called last, records what they leave.

Kept apart from ``scratchnet.callbacks`` so that the modules of the callbacks themselves
can import it without a cycle.
"""

from __future__ import annotations


class Callback:
    """Override any of these hooks. ``logs`` is a dict of the current figures."""

    model = None
    #: ``{'verbose', 'epochs', 'steps'}`` of the ``fit`` running it (as Keras).
    params: dict = {}

    def set_params(self, params) -> None:
        self.params = params

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None): ...

    def on_train_end(self, logs=None): ...

    def on_epoch_begin(self, epoch: int, logs=None): ...

    def on_epoch_end(self, epoch: int, logs=None): ...

    def on_batch_begin(self, batch: int, logs=None): ...

    def on_batch_end(self, batch: int, logs=None): ...

    def on_train_batch_begin(self, batch: int, logs=None):
        """Before each training step; calls ``on_batch_begin`` unless overridden."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs=None):
        """After each step, with the epoch's running means; calls ``on_batch_end``."""
        self.on_batch_end(batch, logs=logs)
