"""The training loop: fit, evaluate and predict, with progress and callbacks.

These functions are bound as methods of ``Sequential``; they only use its public
steps (``train_step``, ``logits``, ``__call__``, ``reseed``), so the loop reads
top to bottom without the model's internals.
"""

from __future__ import annotations

import math
import time

import numpy as np
from tqdm.auto import tqdm

from scratchnet.callbacks import Callback, History
from scratchnet.losses import check_labels


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield start, min(start + batch_size, n)


def _check_data(model, x, y, what="x"):
    model._ensure_built(x)
    model.layers[0].check_input(x)
    if y is None:
        return None
    if len(y) != len(x):
        raise ValueError(f"{what} has {len(x)} samples but its labels have {len(y)}")
    return check_labels(y, model.output_shape[-1], len(x))


def fit(model, x, y, batch_size=32, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, seed=None):
    """Train for ``epochs`` passes over ``(x, y)``.

    Parameters
    ----------
    x : ndarray, float32 or float64, shape (N, *input_shape)
    y : ndarray of int, shape (N,)
        Class indices.
    batch_size, epochs : int
    verbose : 0 (silent), 1 (progress bar and a line per epoch) or 2 (a line per epoch)
    callbacks : list of Callback
    validation_split : float in [0, 1)
        Hold out the *last* fraction of ``x`` before shuffling, as Keras does.
    validation_data : (x_val, y_val), optional
        Takes precedence over ``validation_split``.
    shuffle : bool
        Reshuffle the training samples every epoch.
    seed : int, optional
        Seeds shuffling and dropout; defaults to one derived from the model's seed.

    Returns
    -------
    History
        ``.history`` maps 'loss', 'accuracy', 'val_loss', 'val_accuracy' to per-epoch lists.
    """
    if model.optimizer is None:
        raise RuntimeError(f"model {model.name!r} must be compiled before fit")
    batch_size, epochs = int(batch_size), int(epochs)
    if batch_size < 1 or epochs < 0:
        raise ValueError(f"batch_size must be >= 1 and epochs >= 0, got {batch_size}, {epochs}")
    if not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    y = _check_data(model, x, y)
    if validation_data is not None:
        x_val, y_val = validation_data
        y_val = _check_data(model, x_val, y_val, "validation x")
    elif validation_split > 0:
        split = int(math.floor(len(x) * (1 - validation_split)))
        x, x_val, y, y_val = x[:split], x[split:], y[:split], y[split:]
    else:
        x_val = y_val = None
    if len(x) == 0:
        raise ValueError("no training samples left after the validation split")

    model._fit_calls += 1
    rng = model.reseed(seed if seed is not None else (model.seed, model._fit_calls))
    history = History()
    cbs: list[Callback] = [history, *(callbacks or [])]
    for cb in cbs:
        cb.set_model(model)
    model.stop_training = False
    for cb in cbs:
        cb.on_train_begin()

    n = len(x)
    steps = math.ceil(n / batch_size)
    for epoch in range(epochs):
        for cb in cbs:
            cb.on_epoch_begin(epoch)
        order = rng.permutation(n) if shuffle else np.arange(n)
        start_time = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="batch", leave=False,
                   disable=verbose != 1, dynamic_ncols=True)
        for b, (lo, hi) in enumerate(_batches(n, batch_size)):
            idx = order[lo:hi]
            loss, n_correct = model.train_step(x[idx], y[idx])
            if not math.isfinite(loss):
                bar.close()
                raise FloatingPointError(
                    f"loss became {loss} at epoch {epoch + 1}, batch {b + 1} of {steps}: "
                    "lower the learning rate or check the inputs for NaN/inf"
                )
            loss_sum += loss * (hi - lo)
            correct += n_correct
            seen += hi - lo
            logs = {"loss": loss_sum / seen, "accuracy": correct / seen}
            for cb in cbs:
                cb.on_batch_end(b, logs)
            bar.update(1)
            if b % 20 == 0 or hi == n:
                bar.set_postfix(loss=f"{logs['loss']:.4f}", acc=f"{logs['accuracy']:.4f}",
                                refresh=False)
            if model.stop_training:
                break
        bar.close()
        logs = {"loss": loss_sum / seen, "accuracy": correct / seen}
        if x_val is not None and len(x_val):
            val_loss, val_acc = evaluate(model, x_val, y_val, batch_size=max(batch_size, 256),
                                         verbose=0)
            logs.update(val_loss=val_loss, val_accuracy=val_acc)
        logs["time"] = time.perf_counter() - start_time
        if verbose:
            figures = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items() if k != "time")
            tqdm.write(f"Epoch {epoch + 1}/{epochs} - {logs['time']:.1f}s - {figures}")
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    for cb in cbs:
        cb.on_train_end()
    return history


def evaluate(model, x, y, batch_size=32, verbose=0, return_dict=False):
    """Mean loss and accuracy over ``(x, y)``, in batches, in inference mode.

    Returns ``[loss, accuracy]``, or ``{'loss': ..., 'accuracy': ...}`` with ``return_dict``.
    """
    if model.loss is None:
        raise RuntimeError(f"model {model.name!r} must be compiled before evaluate")
    y = _check_data(model, x, y)
    loss_sum, correct = 0.0, 0
    for lo, hi in tqdm(list(_batches(len(x), int(batch_size))), disable=verbose != 1,
                       leave=False, desc="evaluate"):
        logits = model.logits(x[lo:hi], training=False)
        loss, _ = model.loss(logits, y[lo:hi])
        loss_sum += loss * (hi - lo)
        correct += int(np.count_nonzero(logits.argmax(axis=1) == y[lo:hi]))
    result = {"loss": loss_sum / max(len(x), 1), "accuracy": correct / max(len(x), 1)}
    return result if return_dict else [result["loss"], result["accuracy"]]


def predict(model, x, batch_size=32, verbose=0):
    """The model's output for every sample (probabilities when it ends in softmax)."""
    _check_data(model, x, None)
    out = np.empty((len(x), *model.output_shape), dtype=model.dtype)
    for lo, hi in tqdm(list(_batches(len(x), int(batch_size))), disable=verbose != 1,
                       leave=False, desc="predict"):
        out[lo:hi] = model(x[lo:hi], training=False)
    return out
