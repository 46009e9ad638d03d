"""One batch at a time: ``train_on_batch``, ``test_on_batch`` and ``predict_on_batch``.

Keras's entry points for a loop of the user's own. They are bound as methods of
``Sequential`` and convert and check their inputs as ``fit`` does (``scratchnet.inputs``,
``scratchnet.weighting``). The whole batch is one step: ``train_on_batch(x, y)`` updates
the weights exactly as ``fit(x, y, batch_size=len(x), epochs=1, shuffle=False)`` would.

What they return, as Keras 3: the loss alone when the model has no metrics, else
``[loss, *metrics]`` (in compile's order, the weighted metrics last), or a dict with
``return_dict=True``. The figures are those of this batch only, computed before the
update (``train_on_batch``) and including the regularizers' penalties.
"""

from __future__ import annotations

import numpy as np

from scratchnet import inputs
from scratchnet.training import check_data, evaluate_batches
from scratchnet.training_metrics import averages
from scratchnet.weighting import check_sample_weight, sample_weights


def _compiled(model, caller: str) -> None:
    if model.optimizer is None or model.loss is None:
        raise RuntimeError(f"model {model.name!r} must be compiled before {caller}")


def _result(logs: dict, return_dict: bool):
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def train_on_batch(model, x, y, sample_weight=None, class_weight=None, return_dict=False):
    """One optimisation step on the batch ``(x, y)``.

    Parameters
    ----------
    x : array_like, shape (N, *input_shape)
    y : array_like, targets of the N samples (as ``fit`` takes them)
    sample_weight : array_like, shape (N,), optional
    class_weight : dict {class index: weight}, optional
        Not together with ``sample_weight`` (as Keras 3).
    return_dict : bool

    Returns
    -------
    float, list of float, or dict
        The batch's loss (and metrics), computed before the update.
    """
    _compiled(model, "train_on_batch")
    x, y = check_data(model, x, inputs.labels(y), caller="train_on_batch")
    sw = sample_weights(sample_weight, class_weight, y, model.output_shape, model.dtype)
    loss, counts = model.fit_step(x, y, sw)
    logs = {"loss": float(loss), **averages(counts, len(x), model.weighted_metric_names)}
    return _result(logs, return_dict)


def test_on_batch(model, x, y, sample_weight=None, return_dict=False):
    """The loss and metrics of the batch ``(x, y)`` in inference mode, as ``evaluate``."""
    _compiled(model, "test_on_batch")
    x, y = check_data(model, x, inputs.labels(y), caller="test_on_batch")
    sw = check_sample_weight(sample_weight, len(x), model.dtype)
    return _result(evaluate_batches(model, x, y, sw, len(x), verbose=0), return_dict)


def predict_on_batch(model, x) -> np.ndarray:
    """The model's output on the batch ``x``, in inference mode (as ``predict``)."""
    x, _ = check_data(model, x, None, caller="predict_on_batch")
    return model(x, training=False)
