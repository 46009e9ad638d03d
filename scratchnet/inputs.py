"""What a model accepts at its boundary, and the checks of ``fit``'s arguments.

``fit``, ``evaluate``, ``predict`` and ``Sequential.__call__`` take data the way Keras
does: any real numeric array (float16/32/64, signed or unsigned integers, bool) or a
nested list, converted to the model's dtype once, here, and never again per batch.
Layers called directly stay strict (see ``Layer.check_input``): a dtype mismatch
there is a bug in the caller's own loop, not a data format.

Every error says what is wrong and how to fix it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from scratchnet.layers.base import FLOAT_DTYPES

#: Kinds np.asarray may produce that are real numbers: bool, signed, unsigned, float.
_REAL_KINDS = "biuf"


def as_model_input(model, x, what: str = "x", check_finite: bool = True) -> np.ndarray:
    """``x`` as an array of the model's dtype, with a clear error for what cannot be one.

    Parameters
    ----------
    model : Sequential
    x : array_like, shape (N, *input_shape)
        Any real numeric dtype, or a nested list of numbers.
    what : str
        The argument's name, for the messages ('x', 'validation x').
    check_finite : bool
        Scan the data for NaN and inf (one pass of per-sample sums) and name the first
        bad sample. ``fit``/``evaluate``/``predict`` do; the per-batch ``__call__`` not.

    Returns
    -------
    ndarray of ``model.dtype`` (or, on a model that has not fixed its dtype yet, of the
    data's own float dtype; float32 for any other real dtype), same shape.
    """
    if x is None:
        raise TypeError(f"model {model.name!r}: {what} is None; pass the input samples as "
                        "a NumPy array of shape (N, *input_shape)")
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except ValueError as err:  # ragged nested lists
            raise ValueError(f"model {model.name!r}: {what} is not a rectangular array "
                             f"({err}); give every sample the same shape") from None
    if x.dtype.kind not in _REAL_KINDS:
        hint = {"c": "take x.real or np.abs(x) first",
                "U": "parse the strings into numbers first",
                "S": "parse the bytes into numbers first",
                "O": "build a numeric array first, e.g. np.stack(list_of_arrays)"}
        raise TypeError(
            f"model {model.name!r}: {what} has dtype {x.dtype}, which is not a real number "
            f"type; scratchnet takes float, integer or bool arrays: "
            f"{hint.get(x.dtype.kind, 'convert it to a numeric array')}")
    _check_batch_axis(model, x, what)
    target = model.dtype or (x.dtype if x.dtype in FLOAT_DTYPES else np.dtype(np.float32))
    converted = np.asarray(x, dtype=target)
    if check_finite and x.dtype.kind == "f":
        _check_finite(model, converted, what)
    return converted


def _check_batch_axis(model, x: np.ndarray, what: str) -> None:
    """A single sample given without its batch axis gets an error that shows ``x[None]``."""
    shape = model.input_shape
    if shape and x.shape == tuple(shape):
        raise ValueError(
            f"model {model.name!r}: {what} has shape {x.shape}, the shape of ONE sample; "
            f"the model takes a batch of shape (N, *{tuple(shape)}). For a single sample "
            f"pass {what.split()[-1]}[None] (shape {(1, *shape)})")


def _check_finite(model, x: np.ndarray, what: str) -> None:
    """Raise naming the first sample holding NaN or inf. One pass, N floats of memory.

    Per-sample sums are NaN or inf when a sample holds one; a sum can also overflow for
    huge finite values, so each suspect sample is checked itself before blaming it.
    """
    if x.size == 0:
        return
    sums = np.add.reduce(x.reshape(len(x), -1), axis=1)
    if np.isfinite(sums).all():
        return
    for i in np.flatnonzero(~np.isfinite(sums)):
        bad = ~np.isfinite(x[i])
        if bad.any():
            n = int(np.count_nonzero((~np.isfinite(x.reshape(len(x), -1))).any(axis=1)))
            raise ValueError(
                f"model {model.name!r}: {what} holds NaN or inf: sample {int(i)} is the first "
                f"of {n} such samples ({int(np.count_nonzero(bad))} bad values in it). Clean "
                f"them or drop them, e.g. keep = np.isfinite({what.split()[-1]}).reshape(len("
                f"{what.split()[-1]}), -1).all(axis=1)")


def check_not_empty(x: np.ndarray, what: str, caller: str) -> None:
    if len(x) == 0:
        raise ValueError(f"{caller}: {what} has no samples (shape {x.shape}); "
                         f"{caller} needs at least one")


def check_input_shape(shape) -> tuple[int, ...]:
    """An ``Input`` shape as a tuple of positive ints, or a clear error."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"Input shape must be a tuple of positive integers, e.g. (28, 28, 1), "
                        f"got {shape!r}") from None
    bad = [d for d in dims if isinstance(d, bool) or not isinstance(d, (int, np.integer))
           or d < 1]
    if bad or not dims:
        raise ValueError(f"Input shape must be a non-empty tuple of positive integers (one "
                         f"sample, without the batch axis), got {shape!r}")
    return tuple(int(d) for d in dims)


# -- hyperparameters -------------------------------------------------------------------------
def integer(value, what: str, minimum: int) -> int:
    """A Python or NumPy integer >= ``minimum``; floats (2.9, inf) are refused, not truncated."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer >= {minimum}, got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def fraction(value, what: str) -> float:
    """A real number in [0, 1) (NumPy scalars included); strings are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number in [0, 1), got {value!r} "
                        f"({type(value).__name__})")
    if not (math.isfinite(value) and 0 <= value < 1):
        raise ValueError(f"{what} must be a number in [0, 1), got {value!r}")
    return float(value)


def labels(y, what: str = "y"):
    if y is None:
        raise TypeError(f"fit and evaluate need the labels: {what} is None; pass the class "
                        "index of every sample (integers of shape (N,))")
    return y


def validation_data(validation_data):
    """``(x_val, y_val, sample_weight_val or None)`` from a pair or a triple (as Keras), or
    a clear error for anything else."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        n = len(validation_data) if isinstance(validation_data, (tuple, list)) else None
        got = f"a {type(validation_data).__name__} of {n} items" if n is not None else \
            type(validation_data).__name__
        raise ValueError(f"validation_data must be a pair (x_val, y_val) or a triple "
                         f"(x_val, y_val, sample_weight_val), got {got}")
    x_val, y_val, *rest = validation_data
    return x_val, y_val, (rest[0] if rest else None)
