"""Per-sample weights: Keras's ``sample_weight`` and ``class_weight``, checked, as one array.

What they mean (Keras 3): each sample's loss is multiplied by its weight, and a batch's
loss is the weighted sum divided by the batch size ("sum_over_batch_size"), so the
gradient of sample n is scaled by w_n (``scratchnet.reference.losses``). A
``class_weight`` dict {class index: weight} becomes the weight of every sample of that
class (classes it leaves out weigh 1.0); the class of a one-hot (or soft) target row is
its argmax, that of a single sigmoid output its rounded target. Keras 3 refuses both at
once, and so does scratchnet.

Beyond Keras, a weight that is negative, NaN or inf is refused (it would train towards a
larger loss, or poison the step), and so is a ``class_weight`` key that cannot be a class
of the model's output. Plain NumPy; every error names the problem and the fix.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np


def check_sample_weight(sample_weight, n: int, dtype, what: str = "sample_weight"):
    """``sample_weight`` as a contiguous (n,) array of ``dtype``, or None if None.

    Parameters
    ----------
    sample_weight : array_like, shape (n,) or (n, 1), or None
        Finite, non-negative real numbers.
    n : int
        The number of samples they weigh.
    """
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight)
    except ValueError as err:
        raise ValueError(f"{what} must be an array of one weight per sample ({err})") from None
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold real numbers, one weight per sample, got dtype "
                        f"{w.dtype}")
    if w.shape == (n, 1):
        w = w.reshape(n)
    if w.shape != (n,):
        got = "a scalar" if w.ndim == 0 else f"shape {w.shape}"
        raise ValueError(f"{what} must hold one weight per sample, shape ({n},), got {got}; "
                         f"give each of the {n} samples a weight (per-value weights are "
                         "not supported)")
    w = w.astype(np.float64, copy=False)
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{what} must be finite and >= 0: weight {i} is {float(w[i])} "
                         f"({bad.size} bad weights in all); set them to 0 to leave those "
                         "samples out")
    return np.ascontiguousarray(w, dtype=dtype)


def class_indices(targets) -> np.ndarray:
    """The class of each target, as Keras reads it for ``class_weight``: the argmax of a
    row (N, C), the rounded value of a single output (N, 1) or of a label (N,)."""
    targets = np.asarray(targets)
    if targets.ndim == 2 and targets.shape[1] != 1:
        return targets.argmax(axis=-1)
    if targets.ndim not in (1, 2):
        raise ValueError(f"class_weight needs one class per sample: targets of shape (N,), "
                         f"(N, 1) or (N, C), got {targets.shape}; use sample_weight instead")
    return np.round(targets.reshape(len(targets))).astype(np.int64)


def class_weight_to_sample_weight(class_weight, targets, num_classes: int, dtype) -> np.ndarray:
    """Per-sample weights (N,) from ``class_weight`` {class index: weight}.

    Parameters
    ----------
    class_weight : dict
        Integer keys in [0, num_classes); samples of classes it does not name weigh 1.0.
    targets : ndarray, shape (N,), (N, 1) or (N, C)
        Checked targets (see :func:`class_indices`).
    num_classes : int
        The classes the model's output can name: C, or 2 for a single sigmoid output.
    """
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"class_weight must be a dict {{class index: weight}}, got "
                        f"{type(class_weight).__name__}")
    table = np.ones(num_classes, dtype=np.float64)
    unknown = []
    for key, value in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, numbers.Real) \
                or not np.isfinite(key) or key != int(key):
            raise TypeError(f"class_weight keys must be class indices (integers), got {key!r}"
                            "; map class names to their indices first")
        if not 0 <= int(key) < num_classes:
            unknown.append(int(key))
            continue
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) \
                or not np.isfinite(value) or value < 0:
            raise ValueError(f"class_weight[{key!r}] must be a finite number >= 0, got "
                             f"{value!r}")
        table[int(key)] = value
    if unknown:
        raise ValueError(f"class_weight names classes {sorted(unknown)} that the data lacks: "
                         f"the model's output has {num_classes} classes, 0 to "
                         f"{num_classes - 1}; key class_weight by class index from 0")
    classes = class_indices(targets)
    inside = (classes >= 0) & (classes < num_classes)
    weights = np.where(inside, table[np.clip(classes, 0, num_classes - 1)], 1.0)
    return np.ascontiguousarray(weights, dtype=dtype)


def sample_weights(sample_weight, class_weight, targets, output_shape, dtype):
    """The per-sample weights of ``fit``/``train_on_batch``: from ``sample_weight`` or
    ``class_weight`` (not both, as Keras 3), or None when neither is given."""
    n = len(targets)
    if class_weight is None:
        return check_sample_weight(sample_weight, n, dtype)
    if sample_weight is not None:
        raise ValueError("pass sample_weight or class_weight, not both (as Keras 3); to "
                         "combine them, multiply: sample_weight * the class weight of each "
                         "sample's label")
    num_classes = output_shape[-1] if output_shape[-1] > 1 else 2
    return class_weight_to_sample_weight(class_weight, targets, num_classes, dtype)
