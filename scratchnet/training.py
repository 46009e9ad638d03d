"""The training loop: fit, evaluate and predict, with progress and callbacks.

These functions are bound as methods of ``Sequential``; they only use its public
members (``build_for``, ``fit_step``, ``batch_metrics``, ``logits``, ``__call__``, ``reseed``,
``fit_calls``, ``fit_position``), so the loop reads top to bottom without the model's
internals. Sample and class weights are made one per-sample array at the boundary
(``scratchnet.weighting``) and travel with each batch; callbacks get Keras's hooks in
Keras's order (``scratchnet.callback_base``).

At the boundary every input is converted to the model's dtype once and checked for NaN
and inf (``scratchnet.inputs``); every step is guarded so that a non-finite loss leaves
the weights of the last finite step (``scratchnet.guard``); Ctrl-C ends the loop cleanly
between batches (``scratchnet.interrupt``); and ``fit`` keeps its position where
BackupAndRestore can save and restore it (``scratchnet.backup``).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
from tqdm.auto import tqdm

from scratchnet import inputs, interrupt
from scratchnet.backup import FitPosition
from scratchnet.callbacks import Callback, History
from scratchnet.guard import StepGuard
from scratchnet.training_metrics import averages
from scratchnet.weighting import check_sample_weight, sample_weights


def _batches(n: int, batch_size: int, first: int = 0):
    for start in range(first * batch_size, n, batch_size):
        yield start, min(start + batch_size, n)


def _interactive(stream=None) -> bool:
    """Whether progress bars may redraw: only on a terminal, never in a log file or CI.

    Elsewhere a bar's carriage-return updates pile up in the log (hundreds per epoch),
    so the loops print one line per epoch instead, as Keras's non-interactive output.
    """
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def check_data(model, x, y, what="x", caller="fit"):
    """``(x, y)`` converted and checked; returns them (``y`` None when not given)."""
    x = inputs.as_model_input(model, x, what)
    inputs.check_not_empty(x, what, caller)
    model.build_for(x)
    model.layers[0].check_input(x)
    if y is None:
        return x, None
    y = np.asarray(y)
    if y.ndim == 0 or len(y) != len(x):
        got = "a scalar" if y.ndim == 0 else f"{len(y)}"
        raise ValueError(f"{what} has {len(x)} samples but its labels have {got}")
    return x, model.loss.check_targets(y, model.output_shape, len(x))


def fit(model, x, y, batch_size=32, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
        initial_epoch=0, seed=None):
    """Train for ``epochs`` passes over ``(x, y)``.

    Parameters
    ----------
    x : array_like, shape (N, *input_shape)
        Any real numeric dtype; converted once to the model's dtype.
    y : array_like of int, shape (N,)
        Class indices.
    batch_size, epochs : int
    verbose : 0 (silent), 1 (progress bar on a terminal, and a line per epoch) or
        2 (a line per epoch)
    callbacks : list of Callback
    validation_split : float in [0, 1)
        Hold out the *last* fraction of ``x`` (and of ``sample_weight``) before
        shuffling, as Keras does.
    validation_data : (x_val, y_val) or (x_val, y_val, sample_weight_val), optional
        Takes precedence over ``validation_split``.
    shuffle : bool
        Reshuffle the training samples every epoch.
    class_weight : dict {class index: weight}, optional
        Weighs every training sample of a class (``scratchnet.weighting``); not the
        validation data, as Keras.
    sample_weight : array_like, shape (N,), optional
        Weighs each sample's loss: a batch's loss is sum(w * loss) / batch size.
    initial_epoch : int
        The epoch to start at (a resumed run's count), as Keras.
    seed : int, optional
        Seeds shuffling and dropout; defaults to one derived from the model's seed.

    Returns
    -------
    History
        ``.history`` maps 'loss', 'accuracy', 'val_loss', 'val_accuracy' to per-epoch lists.

    Raises
    ------
    FloatingPointError
        When a step's loss or weights become NaN or inf (unless a callback such as
        TerminateOnNaN stops training); the weights and optimizer are then those of the
        last finite step.
    """
    if model.optimizer is None:
        raise RuntimeError(f"model {model.name!r} must be compiled before fit")
    batch_size = inputs.integer(batch_size, "batch_size", 1)
    epochs = inputs.integer(epochs, "epochs", 0)
    initial_epoch = inputs.integer(initial_epoch, "initial_epoch", 0)
    validation_split = inputs.fraction(validation_split, "validation_split")
    x, y = check_data(model, x, inputs.labels(y))
    sw = sample_weights(sample_weight, class_weight, y, model.output_shape, model.dtype)
    sw_val = None
    if validation_data is not None:
        x_val, y_val, sw_val = inputs.validation_data(validation_data)
        x_val, y_val = check_data(model, x_val, inputs.labels(y_val, "y_val"),
                                   "validation x")
        sw_val = check_sample_weight(sw_val, len(x_val), model.dtype,
                                     "validation sample_weight")
    elif validation_split > 0:
        split = int(math.floor(len(x) * (1 - validation_split)))
        if split == 0:
            raise ValueError(f"validation_split={validation_split} of {len(x)} samples leaves "
                             "no training samples; lower it or pass more data")
        x, x_val, y, y_val = x[:split], x[split:], y[:split], y[split:]
        if sw is not None:
            # As Keras: the held-out samples keep their sample_weight; class_weight is
            # for training only.
            sw, sw_val = sw[:split], (sw[split:] if class_weight is None else None)
    else:
        x_val = y_val = None

    model.fit_calls += 1
    rng = model.reseed(seed if seed is not None else (model.seed, model.fit_calls))
    n = len(x)
    steps = math.ceil(n / batch_size)
    position = FitPosition(epoch=initial_epoch, steps=steps, samples=n, shuffle_rng=rng)
    model.fit_position = position  # where BackupAndRestore reads and restores it
    history = History()
    # History last, as Keras: it records the logs as the other callbacks left them.
    cbs: list[Callback] = [*(callbacks or []), history]
    params = {"verbose": verbose, "epochs": epochs, "steps": steps}
    for cb in cbs:
        cb.set_params(params)
        cb.set_model(model)
    model.stop_training = False
    guard = StepGuard()
    bars = verbose == 1 and _interactive()
    try:
        with interrupt.deferred_sigint():
            for cb in cbs:
                cb.on_train_begin({})
            last = {}  # the last epoch's logs, for on_train_end (as Keras)
            while position.epoch < epochs and not model.stop_training:
                last = _run_epoch(model, (x, y, sw), (x_val, y_val, sw_val), batch_size,
                                  epochs, shuffle, position, cbs, guard, verbose, bars)
            for cb in cbs:
                cb.on_train_end(last)
    finally:
        model.fit_position = None
    return history


def _run_epoch(model, train, val, batch_size, epochs, shuffle, position, cbs, guard,
               verbose, bars):
    (x, y, sw), (x_val, y_val, sw_val) = train, val
    epoch, steps, n = position.epoch, position.steps, position.samples
    for cb in cbs:
        cb.on_epoch_begin(epoch, {})
    position.start_epoch()
    order = position.shuffle_rng.permutation(n) if shuffle else np.arange(n)
    start_time = time.perf_counter()
    bar = tqdm(total=steps, initial=position.batch, desc=f"Epoch {epoch + 1}/{epochs}",
               unit="batch", leave=False, disable=not bars, dynamic_ncols=True)
    try:
        for b, (lo, hi) in enumerate(_batches(n, batch_size, position.batch), position.batch):
            idx = order[lo:hi]
            for cb in cbs:
                cb.on_train_batch_begin(b, {})
            guard.save(model)
            loss, counts = model.fit_step(x[idx], y[idx], None if sw is None else sw[idx])
            if not guard.finite(loss, model):
                guard.restore(model)
                if _stopped_on_nan(model, cbs, b, loss):
                    return {}
                what = f"loss became {loss}" if not math.isfinite(loss) else \
                    "weights became NaN or inf"
                raise FloatingPointError(
                    f"{what} at epoch {epoch + 1}, batch {b + 1} of {steps}: lower the "
                    "learning rate (the weights are those of the last finite step), or add "
                    "TerminateOnNaN to stop training instead")
            guard.watch(loss, epoch, b)
            position.loss_sum += loss * (hi - lo)
            for name, count in counts.items():
                position.counts[name] = position.counts.get(name, 0.0) + count
            position.seen += hi - lo
            position.batch = b + 1
            logs = _running_logs(model, position)
            for cb in cbs:
                cb.on_train_batch_end(b, logs)
            bar.update(1)
            if b % 20 == 0 or hi == n:
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            interrupt.check()
            if model.stop_training:
                break
    finally:
        bar.close()
    logs = _running_logs(model, position)
    if x_val is not None and len(x_val):
        val = evaluate_batches(model, x_val, y_val, sw_val, max(batch_size, 256), verbose=0)
        logs.update({f"val_{k}": v for k, v in val.items()})
    logs["learning_rate"] = model.optimizer.current_learning_rate()
    logs["time"] = time.perf_counter() - start_time
    if verbose:
        figures = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items() if k != "time")
        tqdm.write(f"Epoch {epoch + 1}/{epochs} - {logs['time']:.1f}s - {figures}")
    position.end_epoch()
    for cb in cbs:
        cb.on_epoch_end(epoch, logs)
    return logs


def _running_logs(model, position) -> dict:
    """The epoch's mean loss and metrics so far."""
    return {"loss": position.loss_sum / max(position.seen, 1),
            **averages(position.counts, position.seen, model.weighted_metric_names)}


def _stopped_on_nan(model, cbs, batch, loss) -> bool:
    """Show the callbacks the non-finite loss; True if one of them stopped training."""
    model.stop_training = False
    logs = {"loss": loss if not math.isfinite(loss) else math.nan,
            **{name: math.nan for name, _ in model.metric_functions},
            **{name: math.nan for name, _ in model.weighted_metric_functions}}
    for cb in cbs:
        cb.on_train_batch_end(batch, logs)
    return model.stop_training


def evaluate(model, x, y, batch_size=32, verbose=0, sample_weight=None, return_dict=False):
    """Mean loss and every compiled metric over ``(x, y)``, in batches, in inference mode.

    Returns ``[loss, *metrics]``, or ``{'loss': ..., 'accuracy': ..., ...}`` with
    ``return_dict``. As in Keras, the loss includes the regularizers' penalties, and with
    ``sample_weight`` (N,) it is sum(w * loss) / N; the ``weighted_metrics`` count with
    the weights.
    """
    if model.loss is None:
        raise RuntimeError(f"model {model.name!r} must be compiled before evaluate")
    batch_size = inputs.integer(batch_size, "batch_size", 1)
    x, y = check_data(model, x, inputs.labels(y), caller="evaluate")
    sw = check_sample_weight(sample_weight, len(x), model.dtype)
    with interrupt.deferred_sigint():
        result = evaluate_batches(model, x, y, sw, batch_size, verbose)
    return result if return_dict else list(result.values())


def evaluate_batches(model, x, y, sw, batch_size, verbose) -> dict:
    loss_sum, counts = 0.0, {}
    for lo, hi in tqdm(list(_batches(len(x), batch_size)), leave=False, desc="evaluate",
                       disable=not (verbose == 1 and _interactive())):
        logits = model.logits(x[lo:hi], training=False)
        w = None if sw is None else sw[lo:hi]
        loss, _ = model.loss(logits, y[lo:hi], sample_weight=w)
        loss_sum += loss * (hi - lo)
        for name, count in model.batch_metrics(y[lo:hi], logits, w).items():
            counts[name] = counts.get(name, 0.0) + count
        interrupt.check()
    return {"loss": loss_sum / len(x) + model.regularization_loss(),
            **averages(counts, len(x), model.weighted_metric_names)}


def predict(model, x, batch_size=32, verbose=0):
    """The model's output for every sample (probabilities when it ends in softmax).

    ``x`` may have any real numeric dtype; it is converted once to the model's dtype.
    """
    batch_size = inputs.integer(batch_size, "batch_size", 1)
    x, _ = check_data(model, x, None, caller="predict")
    out = np.empty((len(x), *model.output_shape), dtype=model.dtype)
    with interrupt.deferred_sigint():
        for lo, hi in tqdm(list(_batches(len(x), batch_size)), leave=False, desc="predict",
                           disable=not (verbose == 1 and _interactive())):
            out[lo:hi] = model(x[lo:hi], training=False)
            interrupt.check()
    return out
