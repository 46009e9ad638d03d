"""Saving and loading a model's weights: every layer's ``params`` and ``state``.

The file is a zip archive of ``.npy`` members (``np.load`` reads it as an ``.npz``),
written and read by :mod:`scratchnet.archive`: atomically, with every member's declared
size checked against the model's arrays before anything is read, and without pickle, so
loading never runs code and a bad file raises :class:`~scratchnet.archive.ModelFileError`
naming the path. Keys are ``'<index>/<param>'`` by layer position (layer names carry global
counters and differ between sessions), and an extra ``'layers'`` entry records each layer's
type so that loading into a different architecture fails with a clear message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scratchnet.archive import ModelFileError, read_archive, write_archive


def weight_arrays(model, prefix: str = "") -> dict[str, np.ndarray]:
    """Every layer's ``params`` and ``state`` (live), keyed ``'<prefix><index>/<key>'``."""
    return {f"{prefix}{i}/{key}": value for i, layer in enumerate(model.layers)
            for group in (layer.params, layer.state) for key, value in group.items()}


def layer_types(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def save_weights(model, path) -> Path:
    """Write every parameter and state array of a built ``model`` to ``path`` (.npz)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"weights files end in .npz, got {path.name!r}")
    if not model.built:
        raise RuntimeError(f"model {model.name!r} has no weights yet: build or fit it first")
    arrays = weight_arrays(model)
    arrays["layers"] = np.array(layer_types(model))
    return write_archive(path, arrays)


def weight_limits(model, prefix: str = "") -> dict[str, int]:
    """The most bytes each weight member of ``model``'s file may hold.

    Room for the same shapes in any numeric dtype (16 bytes: complex128), so a dtype
    mismatch is reported as one; anything larger cannot be this model's file.
    """
    return {key: value.size * 16 for key, value in weight_arrays(model, prefix).items()}


def assign_weights(model, saved: dict[str, np.ndarray], path, prefix: str = "") -> None:
    """Check that ``saved`` holds exactly ``model``'s arrays (keys, shapes, dtypes), then copy
    them in; a ModelFileError naming ``path`` and changing nothing otherwise."""
    targets = weight_arrays(model, prefix)
    if set(saved) != set(targets):
        raise ModelFileError(path, f"arrays {sorted(set(saved) ^ set(targets))} differ "
                             "between the file and the model")
    for key, target in targets.items():
        if saved[key].shape != target.shape or saved[key].dtype != target.dtype:
            raise ModelFileError(path, f"{key} is {saved[key].shape} {saved[key].dtype} in "
                                 f"the file but {target.shape} {target.dtype} in the model")
    for key, target in targets.items():
        target[...] = saved[key]


def load_weights(model, path) -> None:
    """Copy the arrays saved by :func:`save_weights` into ``model``, in place.

    Raises
    ------
    ModelFileError (a ValueError)
        Naming the path and the first problem: a damaged or hostile file, or one that does
        not match the model's architecture, shapes or dtype. Nothing is changed then.
    """
    if not model.built:
        model.build()
    types = layer_types(model)
    limits = weight_limits(model)
    limits["layers"] = np.array(types).nbytes + 4096  # room for other, longer names
    saved, _ = read_archive(path, limits, default_limit=0)
    if "layers" not in saved or saved.pop("layers").tolist() != types:
        raise ModelFileError(path, f"saved layers do not match the model's {types}")
    assign_weights(model, saved, path)
