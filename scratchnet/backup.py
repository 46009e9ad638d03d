"""The position of a training run, and writing and reading it for BackupAndRestore.

A backup holds everything the rest of a ``fit`` depends on, so that a run killed at any
point and restarted finishes with the same weights, bit for bit, as one never stopped:

- every layer's ``params`` and ``state``, and the optimizer's slots and step count;
- the epoch, and the number of batches of it already done, with the epoch's running sums
  of loss and accuracy (for its logs);
- the shuffle stream as it was at the start of that epoch (the epoch's order is drawn
  again from it, then its finished batches are skipped);
- every layer's random stream (``layer.rng``: Dropout's masks) as it is now.

It is one archive (:mod:`scratchnet.archive`), replaced atomically, so a kill leaves
either the previous backup or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scratchnet.archive import ModelFileError, read_archive, remove_stale_parts, write_archive

BACKUP_FILE = "backup.npz"
FORMAT = 1


@dataclass
class FitPosition:
    """Where ``fit`` is: set by the loop, read and restored by BackupAndRestore."""

    epoch: int
    steps: int  # batches per epoch
    samples: int
    shuffle_rng: np.random.Generator
    batch: int = 0  # batches of ``epoch`` already done
    epoch_rng_state: dict = field(default_factory=dict)  # shuffle stream at epoch start
    loss_sum: float = 0.0
    counts: dict = field(default_factory=dict)  # each metric's running sum this epoch
    seen: int = 0

    def start_epoch(self) -> None:
        """Remember (or, resuming mid-epoch, rewind to) the shuffle stream's epoch start."""
        if self.batch == 0:
            self.epoch_rng_state = copy.deepcopy(self.shuffle_rng.bit_generator.state)
            self.loss_sum, self.counts, self.seen = 0.0, {}, 0
        else:
            self.shuffle_rng.bit_generator.state = copy.deepcopy(self.epoch_rng_state)

    def end_epoch(self) -> None:
        self.epoch += 1
        self.batch = 0
        self.epoch_rng_state = copy.deepcopy(self.shuffle_rng.bit_generator.state)


def _model_arrays(model):
    for i, layer in enumerate(model.layers):
        for group in (layer.params, layer.state):
            for key, value in group.items():
                yield f"weights/{i}/{key}", value


def write_backup(folder: Path, model, position: FitPosition) -> Path:
    """Write the model, its optimizer and ``position`` to ``folder``/backup.npz, atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = dict(_model_arrays(model))
    arrays.update({f"optimizer/{k}": v for k, v in model.optimizer.state_arrays().items()})
    meta = {
        "format": FORMAT,
        "layers": [type(layer).__name__ for layer in model.layers],
        "epoch": position.epoch, "batch": position.batch,
        "steps": position.steps, "samples": position.samples,
        "loss_sum": position.loss_sum, "counts": position.counts, "seen": position.seen,
        "iterations": model.optimizer.iterations,
        "epoch_rng_state": position.epoch_rng_state,
        "layer_rng_states": [None if layer.rng is None else layer.rng.bit_generator.state
                             for layer in model.layers],
    }
    return write_archive(folder / BACKUP_FILE, arrays, {"position": meta})


def read_backup(folder: Path, model):
    """The arrays and position meta of ``folder``'s backup, or None if there is none."""
    remove_stale_parts(folder)
    path = folder / BACKUP_FILE
    if not path.exists():
        return None
    targets = dict(_model_arrays(model))
    limits = {k: v.nbytes for k, v in targets.items()}
    # Slots are parameter-sized (Adam: two per parameter).
    largest = max((v.nbytes for v in targets.values()), default=0)
    arrays, meta = read_archive(path, limits, default_limit=largest, kind="training backup")
    if "position" not in meta or not isinstance(meta["position"], dict):
        raise ModelFileError(path, "is not a training backup: no position record")
    return path, arrays, meta["position"]


def restore_backup(folder: Path, model, position: FitPosition) -> bool:
    """Load ``folder``'s backup into ``model`` and ``position``; False if there is none."""
    found = read_backup(folder, model)
    if found is None:
        return False
    path, arrays, meta = found
    types = [type(layer).__name__ for layer in model.layers]
    try:
        if meta["format"] != FORMAT or meta["layers"] != types:
            raise ModelFileError(path, f"was written for layers {meta['layers']}, not this "
                                 f"model's {types}; use another backup_dir or delete it")
        if (meta["steps"], meta["samples"]) != (position.steps, position.samples):
            raise ModelFileError(
                path, f"was written for {meta['samples']} samples in {meta['steps']} batches "
                f"per epoch, this fit has {position.samples} in {position.steps}; use another "
                "backup_dir, or delete it to start over")
        targets = dict(_model_arrays(model))
        for key, target in targets.items():
            if key not in arrays or arrays[key].shape != target.shape \
                    or arrays[key].dtype != target.dtype:
                raise ModelFileError(path, f"{key} is missing or does not match the model")
        slots = {k.removeprefix("optimizer/"): v for k, v in arrays.items()
                 if k.startswith("optimizer/")}
        for key, target in targets.items():
            target[...] = arrays[key]
        model.optimizer.load_state(meta["iterations"], slots)
        position.epoch, position.batch = int(meta["epoch"]), int(meta["batch"])
        position.loss_sum = float(meta["loss_sum"])
        position.counts = {str(k): float(v) for k, v in dict(meta["counts"]).items()}
        position.seen = int(meta["seen"])
        position.epoch_rng_state = meta["epoch_rng_state"]
        position.shuffle_rng.bit_generator.state = copy.deepcopy(meta["epoch_rng_state"])
        for layer, state in zip(model.layers, meta["layer_rng_states"], strict=True):
            if state is not None:
                layer.rng = np.random.default_rng()
                layer.rng.bit_generator.state = state
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, ModelFileError):
            raise
        raise ModelFileError(path, f"has a damaged position record: {err!r}") from None
    return True


def delete_backup(folder: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (folder / BACKUP_FILE).unlink()
    remove_stale_parts(folder)
    with contextlib.suppress(OSError):
        folder.rmdir()  # only if empty: never remove a user's other files
