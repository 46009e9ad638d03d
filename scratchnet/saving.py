"""Saving and loading a model's weights: every layer's ``params`` and ``state``.

The file is a plain ``.npz`` archive read with ``allow_pickle=False``, so loading never
runs code. Keys are ``'<index>/<param>'`` by layer position (layer names carry global
counters and differ between sessions), and an extra ``'layers'`` entry records each
layer's type so that loading into a different architecture fails with a clear message.
Writes go to a temporary file in the same folder, renamed into place only when complete.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def _arrays(model):
    for i, layer in enumerate(model.layers):
        for group in (layer.params, layer.state):
            for key, value in group.items():
                yield f"{i}/{key}", value


def save_weights(model, path) -> Path:
    """Write every parameter and state array of a built ``model`` to ``path`` (.npz)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"weights files end in .npz, got {path.name!r}")
    if not model.built:
        raise RuntimeError(f"model {model.name!r} has no weights yet: build or fit it first")
    arrays = dict(_arrays(model))
    arrays["layers"] = np.array([type(layer).__name__ for layer in model.layers])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_weights(model, path) -> None:
    """Copy the arrays saved by :func:`save_weights` into ``model``, in place.

    Raises ``ValueError`` naming the first difference if the file does not match the
    model's architecture, shapes or dtype; nothing is changed in that case.
    """
    with np.load(path, allow_pickle=False) as data:
        saved = {k: data[k] for k in data.files}
    types = [type(layer).__name__ for layer in model.layers]
    if list(saved.pop("layers", [])) != types:
        raise ValueError(f"{path}: saved layers do not match the model's {types}")
    if not model.built:
        model.build()
    targets = dict(_arrays(model))
    if set(saved) != set(targets):
        raise ValueError(f"{path}: arrays {sorted(set(saved) ^ set(targets))} differ "
                         "between the file and the model")
    for key, target in targets.items():
        if saved[key].shape != target.shape or saved[key].dtype != target.dtype:
            raise ValueError(f"{path}: {key} is {saved[key].shape} {saved[key].dtype} in the "
                             f"file but {target.shape} {target.dtype} in the model")
    for key, target in targets.items():
        target[...] = saved[key]
